// ATS invalidation queue: ITags, range decode, drain tracking.
//
// An Invalidate Request is accepted while fewer than 32 are outstanding
// (inv_ready_o comes from registers only: a registered "room" flag and the
// walker's hold register). It is registered in its acceptance cycle and
// applied in the next one (apply_o, from flip-flops, with the range already
// decoded): the ATC drops matching entries and poisons overlapping
// translation requests in flight, the walker flushes its PWC. To the ATC, the
// walker and the drain the request arrives in its application cycle: a
// lookup, a fill or a DMA access in the acceptance cycle is one before the
// invalidation (its translation is dropped, its walk poisoned or its access
// drained one cycle later). In the application cycle the request enters a
// FIFO with a snapshot of the DMA threads that hold a translation whose
// access has not been answered yet (rule 2, drain); each bit clears when
// that thread's AXI response arrives (for an access that timed out: its late
// response; a request withdrawn unissued at the timeout clears it at once,
// see dma.sv). The Invalidate Completion for the FIFO head leaves once its
// snapshot is empty, at the earliest the cycle after the application.
// Completions therefore leave in request order, exactly one per accepted
// request.
//
// hold_i (the walker's forward-progress hold, ptw.sv) stops the acceptance of
// new requests only: queued requests drain and complete as usual. A request
// accepted in the cycle before the hold rises is applied in the hold's first
// cycle; the walker takes its armed walk only after that (ptw.sv).

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
  // applied invalidation (this cycle; accepted the cycle before)
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
  logic                        acc, push, pop;

  // application stage: the request accepted in the cycle before
  logic                        ap_q;
  logic [ats_pkg::ItagW-1:0]   ap_itag_q;
  logic                        ap_all_q;
  logic [ats_pkg::PasidW-1:0]  ap_pasid_q;
  logic [51:0]                 ap_addr_q, ap_keep_q;
  // room for one more request: fewer than Depth accepted and not completed
  // (queued + in the application stage), for the next cycle
  logic                        room_q, room_d;

  assign inv_ready_o = room_q && !hold_i;
  assign acc         = inv_valid_i && inv_ready_o;
  assign push        = ap_q;

  assign apply_o       = ap_q;
  assign apply_all_o   = ap_all_q;
  assign apply_pasid_o = ap_pasid_q;
  assign apply_addr_o  = ap_addr_q;
  assign apply_keep_o  = ap_keep_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      ap_q   <= 1'b0;
      room_q <= 1'b1;
    end else begin
      ap_q   <= acc;
      room_q <= room_d;
    end
  end

  always_ff @(posedge clk_i) begin
    if (acc) begin
      ap_itag_q  <= inv_itag_i;
      ap_all_q   <= !inv_pasid_valid_i || inv_global_i;
      ap_pasid_q <= inv_pasid_i;
      ap_addr_q  <= inv_addr_i;
      ap_keep_q  <= ats_pkg::inv_keep(inv_addr_i, inv_s_i);
    end
  end

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
        itag_d[i*5 +: 5]                   = ap_itag_q;
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
    room_d = 32'(cnt_d) + 32'(acc) < Depth;
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
