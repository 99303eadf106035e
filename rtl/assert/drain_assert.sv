// Rule 2 end to end, bound into ats_dev_top: an Invalidate Completion leaves
// only after every DMA access that used a matching translation has its AXI
// response.
//
// Tracked accesses: a DMA thread's access whose translation the thread
// obtained (an ATC hit, or a translation result without fault) in or before
// the cycle after the Invalidate Request's acceptance (inv.sv applies it
// then, so a translation obtained in between is one the request may remove),
// whose translation (PASID,
// page at its full size: the hit entry's size, or the completion's) overlaps
// the request (PASID or all PASIDs, range of ARCHITECTURE.md section 4), and
// whose AXI response (R or B with ID {1, thread}) has not arrived by that
// cycle (by the acceptance cycle, for those obtained by then). The request's completion must not be presented (invc_valid_o) until
// each of them has its response; one arriving in cycle c allows the
// completion from cycle c+1. An access that timed out after it was issued
// is still tracked until its late response (it may still land in memory);
// only a request the thread withdrew before its grant (mem_drop_i, it never
// reached AXI) ends without one.
// With DmaOutstanding > 1 the "threads" here are the DMA's command slots
// (several share an AXI ID); a slot's response is the R/B the DMA routes to
// it (slot_ans_i: the oldest access in flight on the ID, which
// dma_queue_assert checks against the grant order).
//
//   rule2_drain   the above, per ITag
`include "ats_assert.svh"

module drain_assert #(
  parameter int unsigned NumThreads  = 4,
  parameter int unsigned ThreadW     = 2,
  parameter int unsigned Outstanding = 1   // slots per AXI ID (DmaOutstanding)
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  // translations obtained by the threads
  input logic                       lkp_valid_i,
  input logic [ThreadW-1:0]         lkp_thread_i,
  input logic [ats_pkg::PasidW-1:0] lkp_pasid_i,
  input logic [35:0]                lkp_vpn_i,
  input logic                       lkp_hit_i,
  input logic [1:0]                 lkp_size_i,   // page size of the entry hit
  input logic                       xres_valid_i,
  input logic [ThreadW-1:0]         xres_thread_i,
  input logic [3:0]                 xres_cause_i,
  input logic [1:0]                 xres_size_i,  // page size of the completion delivered
  // Invalidate Request / Completion
  input logic                       inv_valid_i,
  input logic                       inv_ready_i,
  input logic [ats_pkg::ItagW-1:0]  inv_itag_i,
  input logic                       inv_pasid_valid_i,
  input logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input logic [51:0]                inv_addr_i,
  input logic                       inv_s_i,
  input logic                       inv_global_i,
  input logic                       invc_valid_i,
  input logic                       invc_ready_i,
  input logic [ats_pkg::ItagW-1:0]  invc_itag_i,
  // AXI responses
  input logic                       rvalid_i,
  input logic                       rready_i,
  input logic [ats_pkg::AxiIdW-1:0] rid_i,
  input logic                       bvalid_i,
  input logic                       bready_i,
  input logic [ats_pkg::AxiIdW-1:0] bid_i,
  // DMA request withdrawn ungranted after a timeout (never issued)
  input logic [NumThreads-1:0]      mem_drop_i,
  // the AXI response of each slot's access (used when Outstanding > 1)
  input logic [NumThreads-1:0]      slot_ans_i
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NI     = ats_pkg::NumItag;
  localparam int unsigned PasidW = ats_pkg::PasidW;

  // per thread: the translation it holds (pasid, canonical VPN, size)
  logic [NumThreads-1:0]        hold_q, hold_d;
  logic [NumThreads*PasidW-1:0] tp_q, tp_d, lp_q, lp_d;   // lp: the last lookup's PASID/VPN
  logic [NumThreads*36-1:0]     tv_q, tv_d, lv_q, lv_d;
  logic [NumThreads*2-1:0]      ts_q, ts_d;
  logic [NI*NumThreads-1:0]     pend_q, pend_d;
  logic [NumThreads-1:0]        answered, matching, matching_rq;
  logic [51:0]                  keep;
  // the request accepted in the cycle before (applied now)
  logic                         rq_q;
  logic [ats_pkg::ItagW-1:0]    rq_itag_q;
  logic                         rq_all_q;
  logic [PasidW-1:0]            rq_pasid_q;
  logic [51:0]                  rq_addr_q, rq_keep_q;

  assign keep = ats_pkg::inv_keep(inv_addr_i, inv_s_i);

  always_comb begin
    hold_d = hold_q;
    tp_d = tp_q;
    tv_d = tv_q;
    ts_d = ts_q;
    lp_d = lp_q;
    lv_d = lv_q;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic lk, xr;
      lk = lkp_valid_i && lkp_thread_i == ThreadW'(t);
      xr = xres_valid_i && xres_thread_i == ThreadW'(t) && xres_cause_i == ats_pkg::FaultNone;
      if (Outstanding == 1) begin
        answered[t] = (rvalid_i && rready_i && rid_i == {1'b1, 3'(t)}) ||
                      (bvalid_i && bready_i && bid_i == {1'b1, 3'(t)}) || mem_drop_i[t];
      end else begin
        answered[t] = slot_ans_i[t] || mem_drop_i[t];
      end
      if (lk) begin
        lp_d[t*PasidW +: PasidW] = lkp_pasid_i;
        lv_d[t*36 +: 36]         = lkp_vpn_i;
      end
      if (lk && lkp_hit_i) begin
        hold_d[t]                = 1'b1;
        tp_d[t*PasidW +: PasidW] = lkp_pasid_i;
        tv_d[t*36 +: 36]         = lkp_vpn_i;
        ts_d[t*2 +: 2]           = lkp_size_i;
      end else if (xr) begin
        hold_d[t]                = 1'b1;
        tp_d[t*PasidW +: PasidW] = lp_q[t*PasidW +: PasidW];
        tv_d[t*36 +: 36]         = lv_q[t*36 +: 36];
        ts_d[t*2 +: 2]           = xres_size_i;
      end
      if (answered[t]) hold_d[t] = 1'b0;
      matching[t] = hold_d[t] && (!inv_pasid_valid_i || inv_global_i || inv_pasid_i == tp_d[t*PasidW +: PasidW]) &&
                    ats_pkg::range_overlap(inv_addr_i, keep, ats_pkg::sext_vpn(tv_d[t*36 +: 36]),
                                           ats_pkg::size_keep(ts_d[t*2 +: 2]));
      // a translation obtained in the application cycle (held now, unanswered) against last cycle's request
      matching_rq[t] = hold_d[t] && ((lk && lkp_hit_i) || xr) && (rq_all_q || rq_pasid_q == tp_d[t*PasidW +: PasidW]) &&
                       ats_pkg::range_overlap(rq_addr_q, rq_keep_q, ats_pkg::sext_vpn(tv_d[t*36 +: 36]),
                                              ats_pkg::size_keep(ts_d[t*2 +: 2]));
    end
    for (int unsigned x = 0; x < NI; x++) begin
      pend_d[x*NumThreads +: NumThreads] = pend_q[x*NumThreads +: NumThreads] & ~answered;
    end
    if (rq_q) begin
      pend_d[32'(rq_itag_q) * NumThreads +: NumThreads] = pend_d[32'(rq_itag_q) * NumThreads +: NumThreads] |
                                                          matching_rq;
    end
    if (inv_valid_i && inv_ready_i) begin
      pend_d[32'(inv_itag_i) * NumThreads +: NumThreads] = matching;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      hold_q <= '0;
      pend_q <= '0;
      rq_q   <= 1'b0;
    end else begin
      hold_q <= hold_d;
      pend_q <= pend_d;
      rq_q   <= inv_valid_i && inv_ready_i;
    end
  end

  always_ff @(posedge clk_i) begin
    rq_itag_q  <= inv_itag_i;
    rq_all_q   <= !inv_pasid_valid_i || inv_global_i;
    rq_pasid_q <= inv_pasid_i;
    rq_addr_q  <= inv_addr_i;
    rq_keep_q  <= keep;
  end

  always_ff @(posedge clk_i) begin
    tp_q <= tp_d;
    tv_q <= tv_d;
    ts_q <= ts_d;
    lp_q <= lp_d;
    lv_q <= lv_d;
  end

  `ATS_CHECK begin
    if (ats_on_q && invc_valid_i) begin
      `ATS_ASSERT(rule2_drain, pend_q[32'(invc_itag_i) * NumThreads +: NumThreads] == '0,
                  "Invalidate Completion before a DMA access that used a matching translation got its AXI response")
    end
    if (ats_on_q) begin
      `ATS_COVER(cov_drain_wait, |pend_q && !invc_valid_i)
    end
  end

  logic unused_drain;
  assign unused_drain = invc_ready_i;

endmodule
