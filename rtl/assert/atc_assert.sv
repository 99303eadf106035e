// Rule 1 (no stale translation) on the ATC and its translation-request
// tracking, bound into `atc` (rtl/assert/ats_bind.sv).
//
// Ghost state per tracker (tracker id = thread = Translation Request ID):
//   infl    a request is at the walker: from its issue cycle (xreq handshake)
//           to its completion cycle, both included
//   ghit[s] an invalidation accepted while the request was in flight, PASID
//           matching (or all PASIDs), overlapped the page of size s (0 4 KiB,
//           1 2 MiB, 2 1 GiB) that holds the requested address
//   busy    the thread has a translation pending (lookup miss .. result)
//   pipe    the thread looked up last cycle (its result, if any, is due now)
//   gk      ... and an invalidation accepted in that cycle, PASID matching (or
//           all PASIDs), overlapped the 4 KiB page of the lookup
// A completion of size s is stale when ghit[s] is set, counting an
// invalidation accepted in the completion cycle itself: the leaf may be any
// size, so the rule is checked at the leaf's full page size.
//
//   rule1_no_stale_fill  the ATC fills only from a completion of a request in
//                        flight, with no fault and not stale
//   rule1_no_stale_use   a translation result handed to a DMA thread comes
//                        from such a completion
//   rule1_drop           the cycle after an invalidation is accepted no valid
//                        entry overlaps it (PASID and range at the entry's size)
//   atc_no_spurious_poison  a completion with no invalidation overlapping the
//                        1 GiB region of its request while in flight is
//                        delivered: once invalidations stop, every walk that
//                        completes ends the translation (progress)
//   atc_xreq_one_per_id  a request is issued only for a tracker not in flight
//   atc_xreq_waiting     a request is presented only for a tracker waiting to send
//   rule1_no_stale_hit   a lookup raced in its compare cycle (L0) by an
//                        invalidation overlapping its page gives no hit and no
//                        read-only fault in L1: the entry it read is gone, and
//                        the drain snapshot of that invalidation did not see the
//                        thread hold it
//   atc_lkp_result       a lookup result (L1) only for the thread that looked
//                        up the cycle before
// Environment (assumptions in formal, on the neighbours in simulation):
//   a completion names a request in flight and has size 4K/2M/1G; a lookup
//   comes from a thread with no translation pending and none in the lookup pipeline; an invalidation's keep
//   mask is an ATS range (S=0 or S=1 decoding of its address).
// The atc_inv_* checks tie the ghost to the tracker registers; they are the
// inductive invariants of the k-induction proof (rtl/formal/atc_rule1.sby).
`include "ats_assert.svh"

module atc_assert #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned AtcEntries = 16,
  parameter int unsigned ThreadW    = 2,
  parameter int unsigned IdW        = 3,
  parameter bit          AssumeEnv  = 1'b0
) (
  input logic                                  clk_i,
  input logic                                  rst_ni,
  input logic                                  lkp_valid_i,
  input logic [ThreadW-1:0]                    lkp_thread_i,
  input logic [ats_pkg::PasidW-1:0]            lkp_pasid_i,
  input logic [35:0]                           lkp_vpn_i,
  input logic                                  lkp_rvalid_o,
  input logic [ThreadW-1:0]                    lkp_rthread_o,
  input logic                                  lkp_hit_o,
  input logic                                  xres_valid_o,
  input logic [ThreadW-1:0]                    xres_thread_o,
  input logic [3:0]                            xres_cause_o,
  input logic                                  xreq_valid_o,
  input logic                                  xreq_ready_i,
  input logic [IdW-1:0]                        xreq_id_o,
  input logic [ats_pkg::PasidW-1:0]            xreq_pasid_o,
  input logic [51:0]                           xreq_vpn_o,
  input logic                                  xreq_write_o,
  input logic                                  xcpl_valid_i,
  input logic                                  xcpl_ready_o,
  input logic [IdW-1:0]                        xcpl_id_i,
  input logic [3:0]                            xcpl_cause_i,
  input logic [1:0]                            xcpl_size_i,
  input logic                                  inv_valid_i,
  input logic                                  inv_all_i,
  input logic [ats_pkg::PasidW-1:0]            inv_pasid_i,
  input logic [51:0]                           inv_addr_i,
  input logic [51:0]                           inv_keep_i,
  // internals
  input logic                                  fill_en,
  input logic                                  lkp_ro,
  input logic [AtcEntries-1:0]                 v_q,
  input logic [AtcEntries*ats_pkg::PasidW-1:0] pasid_q,
  input logic [AtcEntries*ats_pkg::CVpnW-1:0]  vpn_q,
  input logic [AtcEntries*2-1:0]               size_q,
  input ats_pkg::trk_st_e [NumThreads-1:0]    tst_q,
  input logic [NumThreads-1:0]                 tpois_q,
  input logic [NumThreads*ats_pkg::PasidW-1:0] tpasid_q,
  input logic [NumThreads*ats_pkg::CVpnW-1:0]  tvpn_q
);

  `ATS_CHECKER_COMMON

  localparam int unsigned PasidW = ats_pkg::PasidW;
  localparam int unsigned CVpnW  = ats_pkg::CVpnW;
  localparam int unsigned N      = AtcEntries;

  // tracker states of atc.sv

  hs_assert #(.W(IdW + PasidW + 52 + 1)) u_hs_xreq (
    .clk_i, .rst_ni, .valid_i(xreq_valid_o), .ready_i(xreq_ready_i),
    .data_i({xreq_id_o, xreq_pasid_o, xreq_vpn_o, xreq_write_o}));

  // ---------------------------------------------------------------------------
  // ghost
  // ---------------------------------------------------------------------------
  logic [NumThreads-1:0]        infl_q, infl_d, busy_q, busy_d;
  logic [NumThreads*3-1:0]      ghit_q, ghit_d;
  logic [NumThreads*PasidW-1:0] gpasid_q, gpasid_d;
  logic [NumThreads*52-1:0]     gvpn_q, gvpn_d;

  logic [NumThreads-1:0]   iss_now, cpl_now;
  logic [NumThreads*3-1:0] stale_now;  // ghit including this cycle's invalidation

  logic iss_fire;
  assign iss_fire = xreq_valid_o && xreq_ready_i;

  always_comb begin
    infl_d   = infl_q;
    busy_d   = busy_q;
    ghit_d   = ghit_q;
    gpasid_d = gpasid_q;
    gvpn_d   = gvpn_q;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic [PasidW-1:0] p;
      logic [51:0]       v;
      logic [2:0]        h;
      iss_now[t] = iss_fire && xreq_id_o == IdW'(t);
      cpl_now[t] = xcpl_valid_i && xcpl_id_i == IdW'(t) && infl_q[t];
      p = iss_now[t] ? xreq_pasid_o : gpasid_q[t*PasidW +: PasidW];
      v = iss_now[t] ? xreq_vpn_o : gvpn_q[t*52 +: 52];
      for (int unsigned s = 0; s < 3; s++) begin
        h[s] = inv_valid_i && (infl_q[t] || iss_now[t]) && (inv_all_i || inv_pasid_i == p) &&
               ats_pkg::range_overlap(inv_addr_i, inv_keep_i, v, ats_pkg::size_keep(2'(s)));
      end
      stale_now[t*3 +: 3] = (iss_now[t] ? 3'b000 : ghit_q[t*3 +: 3]) | h;
      if (iss_now[t]) begin
        infl_d[t]                   = 1'b1;
        gpasid_d[t*PasidW +: PasidW] = xreq_pasid_o;
        gvpn_d[t*52 +: 52]          = xreq_vpn_o;
      end
      ghit_d[t*3 +: 3] = stale_now[t*3 +: 3];
      if (cpl_now[t]) begin
        infl_d[t]        = 1'b0;
        ghit_d[t*3 +: 3] = 3'b000;
      end
      if (xres_valid_o && xres_thread_o == ThreadW'(t)) busy_d[t] = 1'b0;
      if (lkp_rvalid_o && !lkp_hit_o && lkp_rthread_o == ThreadW'(t)) busy_d[t] = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      infl_q <= '0;
      busy_q <= '0;
      ghit_q <= '0;
    end else begin
      infl_q <= infl_d;
      busy_q <= busy_d;
      ghit_q <= ghit_d;
    end
  end

  always_ff @(posedge clk_i) begin
    gpasid_q <= gpasid_d;
    gvpn_q   <= gvpn_d;
  end

  // the lookup pipeline: last cycle's lookup, and whether an invalidation raced it
  logic               pq_q, gk_q;
  logic [ThreadW-1:0] pt_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      pq_q <= 1'b0;
      gk_q <= 1'b0;
    end else begin
      pq_q <= lkp_valid_i;
      gk_q <= lkp_valid_i && inv_valid_i && (inv_all_i || inv_pasid_i == lkp_pasid_i) &&
              ats_pkg::range_overlap(inv_addr_i, inv_keep_i, ats_pkg::sext_vpn(lkp_vpn_i),
                                     ats_pkg::size_keep(ats_pkg::Pg4K));
    end
  end

  always_ff @(posedge clk_i) begin
    pt_q <= lkp_thread_i;
  end

  // the completion this cycle (if it is one the ATC takes)
  logic             cpl_in;       // completion of a request in flight
  logic [ThreadW-1:0] cpl_t;
  logic [1:0]       cpl_sz;
  logic             cpl_stale;    // at the leaf's size
  logic             cpl_stale_1g; // in the 1 GiB region (what the ATC poisons on)

  assign cpl_t  = xcpl_id_i[ThreadW-1:0];
  assign cpl_in = xcpl_valid_i && 32'(xcpl_id_i) < NumThreads && |cpl_now;
  assign cpl_sz = (xcpl_size_i > 2'd2) ? 2'd2 : xcpl_size_i;

  always_comb begin
    cpl_stale    = 1'b0;
    cpl_stale_1g = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (cpl_now[t]) begin
        cpl_stale    = stale_now[t*3 + 32'(cpl_sz)];
        cpl_stale_1g = stale_now[t*3 + 2];
      end
    end
  end

  // the previous cycle's invalidation (for rule1_drop)
  logic              dq_valid_q, dq_all_q;
  logic [PasidW-1:0] dq_pasid_q;
  logic [51:0]       dq_addr_q, dq_keep_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      dq_valid_q <= 1'b0;
    end else begin
      dq_valid_q <= inv_valid_i;
    end
  end

  always_ff @(posedge clk_i) begin
    dq_all_q   <= inv_all_i;
    dq_pasid_q <= inv_pasid_i;
    dq_addr_q  <= inv_addr_i;
    dq_keep_q  <= inv_keep_i;
  end

  logic [N-1:0] drop_missed;
  always_comb begin
    for (int unsigned i = 0; i < N; i++) begin
      drop_missed[i] = dq_valid_q && v_q[i] && (dq_all_q || pasid_q[i*PasidW +: PasidW] == dq_pasid_q) &&
                       ats_pkg::range_overlap(dq_addr_q, dq_keep_q, ats_pkg::sext_vpn(vpn_q[i*CVpnW +: CVpnW]),
                                              ats_pkg::size_keep(size_q[i*2 +: 2]));
    end
  end

  // ghost <-> tracker registers (inductive invariants)
  logic [NumThreads-1:0] inv_infl_bad, inv_req_bad, inv_pois_bad, inv_busy_bad;
  always_comb begin
    for (int unsigned t = 0; t < NumThreads; t++) begin
      ats_pkg::trk_st_e st;
      logic [2:0] g;
      st = tst_q[t];
      g  = ghit_q[t*3 +: 3];
      inv_infl_bad[t] = infl_q[t] != (st == ats_pkg::TInfl);
      inv_req_bad[t]  = infl_q[t] && (tpasid_q[t*PasidW +: PasidW] != gpasid_q[t*PasidW +: PasidW] ||
                                      ats_pkg::sext_vpn(tvpn_q[t*CVpnW +: CVpnW]) != gvpn_q[t*52 +: 52]);
      // poisoned iff an invalidation hit the 1 GiB region in flight; every size's hit implies it
      inv_pois_bad[t] = tpois_q[t] != (infl_q[t] && g[2]) || (g != 3'b000 && !tpois_q[t]);
      inv_busy_bad[t] = busy_q[t] != (st != ats_pkg::TFree);  // TFlt: busy, a fault to deliver
    end
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      // environment: the walker and the DMA threads
      if (xcpl_valid_i) begin
        `ATS_ENV(atc_env_cpl_requested, 32'(xcpl_id_i) < NumThreads && |cpl_now,
                 "Translation Completion for an ID with no request in flight")
        `ATS_ENV(atc_env_cpl_size, xcpl_size_i != 2'd3, "Translation Completion size is not 4K/2M/1G")
      end
      if (inv_valid_i) begin
        `ATS_ENV(atc_env_inv_range, inv_keep_i == ats_pkg::inv_keep(inv_addr_i, 1'b1) || inv_keep_i == '1,
                 "invalidation range mask is not an ATS range")
      end
      if (lkp_valid_i) begin
        `ATS_ENV(atc_env_lkp_thread_free, 32'(lkp_thread_i) < NumThreads && !busy_q[lkp_thread_i] &&
                 !(pq_q && pt_q == lkp_thread_i),
                 "lookup from a thread whose translation is still pending")
      end

      // rule 1
      if (fill_en) begin
        `ATS_ASSERT(rule1_no_stale_fill, cpl_in && xcpl_cause_i == ats_pkg::FaultNone && !cpl_stale,
                    "ATC fill from a walk that an overlapping invalidation (at the leaf's page size) raced")
      end
      if (xres_valid_o) begin
        `ATS_ASSERT(rule1_xres_from_cpl, (cpl_in && cpl_t == xres_thread_o) ||
                    (xres_cause_o == ats_pkg::FaultWriteProtect &&
                     tst_q[xres_thread_o] == ats_pkg::TFlt),
                    "translation result without a completion of that thread's request")
      end
      if (xres_valid_o && xres_cause_o == ats_pkg::FaultNone) begin
        `ATS_ASSERT(rule1_no_stale_use, !cpl_stale,
                    "DMA thread given a translation whose walk an overlapping invalidation raced")
      end
      if (lkp_rvalid_o) begin
        `ATS_ASSERT(atc_lkp_result, pq_q && pt_q == lkp_rthread_o,
                    "lookup result for a thread that did not look up the cycle before")
        `ATS_ASSERT(rule1_no_stale_hit, !gk_q || (!lkp_hit_o && !lkp_ro),
                    "lookup raced by an overlapping invalidation in its compare cycle used the dropped entry")
      end
      `ATS_ASSERT(rule1_drop, drop_missed == '0, "an ATC entry overlapping an accepted invalidation survived it")
      `ATS_ASSERT(atc_xcpl_ready, xcpl_ready_o, "Translation Completions are always accepted")
      if (cpl_in && !cpl_stale_1g) begin
        `ATS_ASSERT(atc_no_spurious_poison, xres_valid_o && xres_thread_o == cpl_t,
                    "completion dropped although no invalidation overlapped its request")
      end
      if (xreq_valid_o) begin
        `ATS_ASSERT(atc_xreq_waiting, 32'(xreq_id_o) < NumThreads && tst_q[xreq_id_o[ThreadW-1:0]] == ats_pkg::TNeed,
                    "Translation Request presented for a tracker not waiting to send one")
      end
      if (iss_fire) begin
        `ATS_ASSERT(atc_xreq_one_per_id, 32'(xreq_id_o) < NumThreads && (iss_now & infl_q) == '0,
                    "Translation Request for a tracker already in flight")
      end

      // ghost <-> tracker registers
      `ATS_LEMMA(atc_inv_infl, inv_infl_bad == '0, "tracker state differs from the requests in flight")
      `ATS_LEMMA(atc_inv_req, inv_req_bad == '0, "tracker PASID/VPN differ from the request issued")
      `ATS_LEMMA(atc_inv_pois, inv_pois_bad == '0, "tracker poison bit differs from the invalidations seen")
      `ATS_LEMMA(atc_inv_busy, inv_busy_bad == '0, "tracker busy state differs from the lookups seen")

      // interesting states
      `ATS_COVER(cov_atc_poisoned_walk, cpl_in && cpl_stale && !xres_valid_o)
      `ATS_COVER(cov_atc_issue_inv_same_cycle, iss_fire && stale_now[32'(xreq_id_o[ThreadW-1:0]) * 3 + 2])
      `ATS_COVER(cov_atc_cpl_inv_same_cycle, cpl_in && inv_valid_i && cpl_stale_1g && !xres_valid_o)
      `ATS_COVER(cov_atc_big_leaf_race, cpl_in && xcpl_size_i == 2'd2 && cpl_stale &&
                 !stale_now[32'(cpl_t) * 3])
      `ATS_COVER(cov_atc_fill, fill_en)
      `ATS_COVER(cov_atc_lkp_killed, pq_q && gk_q && !lkp_rvalid_o)
    end
  end

endmodule
