// Rule 2, invalidation half, and range decoding; bound into `inv`.
//
// Ghost state per ITag: out (accepted, not completed) and pend (the threads
// that reported an unanswered translated access, holds_xlat_i, in the
// application cycle, the cycle after acceptance, and have not pulsed
// mem_done_i since); the request accepted in the cycle before (gacc_*).
//
//   rule2_inv_drain      an Invalidate Completion is presented only when no
//                        thread is pending for its ITag
//   inv_cpl_requested    a completion names an outstanding ITag (so each is
//                        completed at most once, none without request)
//   inv_cpl_applied      ... and not the one being applied this cycle: a
//                        completion leaves only after its invalidation was
//                        applied (entries dropped, walks poisoned, drain
//                        snapshot taken)
//   inv_ready_room       a request is accepted while fewer than Depth are
//                        outstanding and the walker does not hold new ones
//                        back (hold_i, ptw.sv forward progress), and only then
//   inv_apply            a request is applied exactly in the cycle after its
//                        acceptance, with the range of docs/ARCHITECTURE.md
//                        section 4, written here independently of
//                        ats_pkg::inv_keep: with S=1 an address bit is kept
//                        iff a lower address bit is clear
// Environment: an accepted ITag is not outstanding (or completes in that cycle).
// The inv_inv_* checks tie the ghost to the FIFO, the application stage and
// the room flag (inductive invariants).
`include "ats_assert.svh"

module inv_assert #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned Depth      = 32,
  // ITag values the ghost tracks: all 32 in simulation; the proof restricts
  // the environment to fewer (ITags are interchangeable) to stay small
  parameter int unsigned NumItagChk = ats_pkg::NumItag,
  parameter bit          AssumeEnv  = 1'b0
) (
  input logic                                 clk_i,
  input logic                                 rst_ni,
  input logic                                 inv_valid_i,
  input logic                                 inv_ready_o,
  input logic [ats_pkg::ItagW-1:0]            inv_itag_i,
  input logic                                 inv_pasid_valid_i,
  input logic [ats_pkg::PasidW-1:0]           inv_pasid_i,
  input logic [51:0]                          inv_addr_i,
  input logic                                 inv_s_i,
  input logic                                 inv_global_i,
  input logic                                 hold_i,
  input logic                                 invc_valid_o,
  input logic                                 invc_ready_i,
  input logic [ats_pkg::ItagW-1:0]            invc_itag_o,
  input logic                                 apply_o,
  input logic                                 apply_all_o,
  input logic [ats_pkg::PasidW-1:0]           apply_pasid_o,
  input logic [51:0]                          apply_addr_o,
  input logic [51:0]                          apply_keep_o,
  input logic [NumThreads-1:0]                holds_xlat_i,
  input logic [NumThreads-1:0]                mem_done_i,
  // internals
  input logic [Depth*5-1:0]                   itag_q,
  input logic [Depth*NumThreads-1:0]          mask_q,
  input logic [((Depth > 1) ? $clog2(Depth) : 1)-1:0] wptr_q,
  input logic [((Depth > 1) ? $clog2(Depth) : 1)-1:0] rptr_q,
  input logic [$clog2(Depth + 1)-1:0]         cnt_q,
  input logic                                 ap_q,
  input logic [ats_pkg::ItagW-1:0]            ap_itag_q,
  input logic                                 room_q
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NI   = NumItagChk;
  localparam int unsigned CntW = $clog2(Depth + 1);

  hs_assert #(.W(ats_pkg::ItagW)) u_hs_invc (
    .clk_i, .rst_ni, .valid_i(invc_valid_o), .ready_i(invc_ready_i), .data_i(invc_itag_o));

  logic                       push, pop;
  logic [NI-1:0]              out_q, out_d;
  // the request accepted in the cycle before, as the environment gave it
  logic                       gacc_q;
  logic [ats_pkg::ItagW-1:0]  gacc_itag_q;
  logic                       gacc_all_q;
  logic [ats_pkg::PasidW-1:0] gacc_pasid_q;
  logic [51:0]                gacc_addr_q, gacc_keep_q;
  logic [NI*NumThreads-1:0]   pend_q, pend_d;
  logic [CntW-1:0]            n_out;
  logic                       itag_in_range;

  assign itag_in_range = 32'(inv_itag_i) < NI;

  // ghost reads by ITag; an ITag the ghost does not track reads as not outstanding
  function automatic logic out_at(input logic [NI-1:0] o, input logic [ats_pkg::ItagW-1:0] x);
    out_at = (32'(x) < NI) ? o[x] : 1'b0;
  endfunction
  function automatic logic [NumThreads-1:0] pend_at(input logic [NI*NumThreads-1:0] p,
                                                     input logic [ats_pkg::ItagW-1:0] x);
    pend_at = (32'(x) < NI) ? p[32'(x) * NumThreads +: NumThreads] : '0;
  endfunction

  assign push = inv_valid_i && inv_ready_o;
  assign pop  = invc_valid_o && invc_ready_i;

  // the range as docs/ARCHITECTURE.md section 4 words it
  logic [51:0] keep_spec;
  always_comb begin
    logic ones;
    ones = 1'b1;  // address bits below i all set
    for (int unsigned i = 0; i < 52; i++) begin
      keep_spec[i] = !inv_s_i || !ones;
      ones = ones && inv_addr_i[i];
    end
  end

  always_comb begin
    out_d  = out_q;
    n_out  = '0;
    for (int unsigned x = 0; x < NI; x++) begin
      pend_d[x*NumThreads +: NumThreads] = pend_q[x*NumThreads +: NumThreads] & ~mem_done_i;
      n_out = n_out + CntW'(out_q[x]);
    end
    if (pop && 32'(invc_itag_o) < NI) out_d[invc_itag_o] = 1'b0;
    if (gacc_q && 32'(gacc_itag_q) < NI) begin
      pend_d[32'(gacc_itag_q) * NumThreads +: NumThreads] = holds_xlat_i;
    end
    if (push && itag_in_range) begin
      out_d[inv_itag_i] = 1'b1;
      pend_d[32'(inv_itag_i) * NumThreads +: NumThreads] = '0;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      out_q  <= '0;
      pend_q <= '0;
      gacc_q <= 1'b0;
    end else begin
      out_q  <= out_d;
      pend_q <= pend_d;
      gacc_q <= push;
    end
  end

  always_ff @(posedge clk_i) begin
    gacc_itag_q  <= inv_itag_i;
    gacc_all_q   <= !inv_pasid_valid_i || inv_global_i;
    gacc_pasid_q <= inv_pasid_i;
    gacc_addr_q  <= inv_addr_i;
    gacc_keep_q  <= keep_spec;
  end

  // FIFO invariants: live slots hold distinct outstanding ITags whose pending
  // threads are the slot's drain mask
  logic [Depth-1:0] live;
  logic             fifo_bad, slot_bad, dist_bad, stage_bad;
  logic [CntW:0] wsum;  // rptr + cnt, wrapped at Depth
  always_comb begin
    wsum     = (CntW + 1)'(rptr_q) + (CntW + 1)'(cnt_q);
    if (wsum >= (CntW + 1)'(Depth)) wsum = wsum - (CntW + 1)'(Depth);
    fifo_bad = 32'(cnt_q) > Depth || 32'(wptr_q) >= Depth || 32'(rptr_q) >= Depth ||
               wsum != (CntW + 1)'(wptr_q) || (CntW + 1)'(n_out) != (CntW + 1)'(cnt_q) + (CntW + 1)'(gacc_q);
    slot_bad = 1'b0;
    dist_bad = 1'b0;
    for (int unsigned i = 0; i < Depth; i++) begin
      // slot i is live when its distance from the read pointer is below the count
      live[i] = ((CntW + 1)'(i) >= (CntW + 1)'(rptr_q)) ?
                ((CntW + 1)'(i) - (CntW + 1)'(rptr_q) < (CntW + 1)'(cnt_q)) :
                ((CntW + 1)'(i) + (CntW + 1)'(Depth) - (CntW + 1)'(rptr_q) < (CntW + 1)'(cnt_q));
      if (live[i] && (!out_at(out_q, itag_q[i*5 +: 5]) ||
                      pend_at(pend_q, itag_q[i*5 +: 5]) != mask_q[i*NumThreads +: NumThreads])) begin
        slot_bad = 1'b1;
      end
    end
    for (int unsigned i = 0; i < Depth; i++) begin
      for (int unsigned j = i + 1; j < Depth; j++) begin
        if (live[i] && live[j] && itag_q[i*5 +: 5] == itag_q[j*5 +: 5]) dist_bad = 1'b1;
      end
      // the request in the application stage is not queued yet
      if (gacc_q && live[i] && itag_q[i*5 +: 5] == gacc_itag_q) dist_bad = 1'b1;
    end
    stage_bad = ap_q != gacc_q ||
                (gacc_q && (ap_itag_q != gacc_itag_q || !out_at(out_q, gacc_itag_q) ||
                            pend_at(pend_q, gacc_itag_q) != '0));
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      if (inv_valid_i) begin
        `ATS_ENV(inv_env_itag_checked, itag_in_range, "ITag outside the values this check tracks")
        `ATS_ENV(inv_env_itag_free, !out_at(out_q, inv_itag_i) || (pop && invc_itag_o == inv_itag_i),
                 "Invalidate Request with an ITag still outstanding")
      end
      if (invc_valid_o) begin
        `ATS_ASSERT(rule2_inv_drain, pend_at(pend_q, invc_itag_o) == '0,
                    "Invalidate Completion before every access reported at acceptance was answered")
        `ATS_ASSERT(inv_cpl_requested, out_at(out_q, invc_itag_o), "Invalidate Completion for an ITag not outstanding")
        `ATS_ASSERT(inv_cpl_applied, !(gacc_q && invc_itag_o == gacc_itag_q),
                    "Invalidate Completion in its request's application cycle (before the invalidation took effect)")
      end
      `ATS_ASSERT(inv_ready_room, inv_ready_o == (32'(n_out) < Depth && !hold_i),
                  "Invalidate Request not accepted with room and no walker hold, or accepted when full or held")
      `ATS_ASSERT(inv_apply, apply_o == gacc_q &&
                  (!gacc_q || (apply_all_o == gacc_all_q && apply_pasid_o == gacc_pasid_q &&
                               apply_addr_o == gacc_addr_q && apply_keep_o == gacc_keep_q)),
                  "invalidation not applied in the cycle after its acceptance with the documented range")
      `ATS_LEMMA(inv_inv_fifo, !fifo_bad, "FIFO pointers/count differ from the ITags outstanding")
      `ATS_LEMMA(inv_inv_slot, !slot_bad, "a queued request's drain mask differs from the ghost")
      `ATS_LEMMA(inv_inv_distinct, !dist_bad, "two queued requests share an ITag")
      `ATS_LEMMA(inv_inv_stage, !stage_bad, "the application stage differs from the request accepted the cycle before")
      `ATS_LEMMA(inv_inv_room, room_q == (32'(n_out) < Depth), "the room flag differs from the ITags outstanding")
      `ATS_COVER(cov_inv_cpl_waits_drain, n_out != '0 && |pend_q && !invc_valid_o)
      `ATS_COVER(cov_inv_cpl_after_drain, pop)
      `ATS_COVER(cov_inv_full, !inv_ready_o)
    end
  end

endmodule
