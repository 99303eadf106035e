// ATS invalidation queue: ITags, range decode, drain tracking.
//
// An Invalidate Request is accepted while fewer than 32 are outstanding. In
// its acceptance cycle it is applied (inv_valid_o): the ATC drops matching
// entries and poisons overlapping translation requests in flight, the walker
// flushes its PWC. The request then waits in a FIFO with a snapshot of the
// DMA threads that hold a translation whose access has not been answered yet
// (rule 2, drain); each bit clears when that thread's AXI response arrives
// (for an access that timed out: its late response; a request withdrawn
// unissued at the timeout clears it at once, see dma.sv).
// The Invalidate Completion for the FIFO head leaves once its snapshot is
// empty. Completions therefore leave in request order, exactly one per
// accepted request.
//
// hold_i (the walker's forward-progress hold, ptw.sv) stops the acceptance of
// new requests only: queued requests drain and complete as usual.

module inv #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned Depth      = 32,
  // Test only: take an empty drain snapshot, so the completion leaves without
  // waiting for DMA accesses that used a matching translation (breaks rule 2).
  parameter bit          DbgNoDrain = 1'b0
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  // Invalidate Request
  input  logic                       inv_valid_i,
  output logic                       inv_ready_o,
  input  logic [ats_pkg::ItagW-1:0]  inv_itag_i,
  input  logic                       inv_pasid_valid_i,
  input  logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input  logic [51:0]                inv_addr_i,
  input  logic                       inv_s_i,
  input  logic                       inv_global_i,
  // 1: accept no new Invalidate Request (a walk runs under the forward-progress hold)
  input  logic                       hold_i,
  // Invalidate Completion
  output logic                       invc_valid_o,
  input  logic                       invc_ready_i,
  output logic [ats_pkg::ItagW-1:0]  invc_itag_o,
  // applied invalidation (this cycle)
  output logic                       apply_o,
  output logic                       apply_all_o,
  output logic [ats_pkg::PasidW-1:0] apply_pasid_o,
  output logic [51:0]                apply_addr_o,
  output logic [51:0]                apply_keep_o,
  // drain tracking
  input  logic [NumThreads-1:0]      holds_xlat_i,
  input  logic [NumThreads-1:0]      mem_done_i
);

  localparam int unsigned PtrW = (Depth > 1) ? $clog2(Depth) : 1;
  localparam int unsigned CntW = $clog2(Depth + 1);

  logic [Depth*5-1:0]          itag_q, itag_d;
  logic [Depth*NumThreads-1:0] mask_q, mask_d;
  logic [PtrW-1:0]             wptr_q, wptr_d, rptr_q, rptr_d;
  logic [CntW-1:0]             cnt_q, cnt_d;
  logic                        push, pop;

  assign inv_ready_o = cnt_q != CntW'(Depth) && !hold_i;
  assign push        = inv_valid_i && inv_ready_o;

  assign apply_o       = push;
  assign apply_all_o   = !inv_pasid_valid_i || inv_global_i;
  assign apply_pasid_o = inv_pasid_i;
  assign apply_addr_o  = inv_addr_i;
  assign apply_keep_o  = ats_pkg::inv_keep(inv_addr_i, inv_s_i);

  logic [NumThreads-1:0] head_mask;

  always_comb begin
    head_mask   = '0;
    invc_itag_o = '0;
    for (int unsigned i = 0; i < Depth; i++) begin
      if (rptr_q == PtrW'(i)) begin
        head_mask   = mask_q[i*NumThreads +: NumThreads];
        invc_itag_o = itag_q[i*5 +: 5];
      end
    end
  end

  assign invc_valid_o = cnt_q != '0 && head_mask == '0;
  assign pop          = invc_valid_o && invc_ready_i;

  always_comb begin
    itag_d = itag_q;
    mask_d = mask_q;
    wptr_d = wptr_q;
    rptr_d = rptr_q;
    cnt_d  = cnt_q;

    for (int unsigned i = 0; i < Depth; i++) begin
      mask_d[i*NumThreads +: NumThreads] = mask_q[i*NumThreads +: NumThreads] & ~mem_done_i;
      if (push && wptr_q == PtrW'(i)) begin
        itag_d[i*5 +: 5]                   = inv_itag_i;
        mask_d[i*NumThreads +: NumThreads] = DbgNoDrain ? '0 : holds_xlat_i;
      end
    end
    if (push) begin
      wptr_d = (wptr_q == PtrW'(Depth - 1)) ? '0 : wptr_q + 1'b1;
    end
    if (pop) begin
      rptr_d = (rptr_q == PtrW'(Depth - 1)) ? '0 : rptr_q + 1'b1;
    end
    case ({push, pop})
      2'b10:   cnt_d = cnt_q + 1'b1;
      2'b01:   cnt_d = cnt_q - 1'b1;
      default: cnt_d = cnt_q;
    endcase
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      mask_q <= '0;
      wptr_q <= '0;
      rptr_q <= '0;
      cnt_q  <= '0;
    end else begin
      mask_q <= mask_d;
      wptr_q <= wptr_d;
      rptr_q <= rptr_d;
      cnt_q  <= cnt_d;
    end
  end

  always_ff @(posedge clk_i) begin
    itag_q <= itag_d;
  end

endmodule
