// Walker checks, bound into `ptw` (rtl/assert/ats_bind.sv).
//
//   rule1_pwc_no_stale_fill  the page-walk cache is filled only by a walk
//                        that no invalidation (PWC flush) raced: ghost bit per
//                        walk slot, set by a flush while the slot is busy or
//                        in the cycle it is allocated, cleared on the next
//                        allocation. The walker sees no invalidation range,
//                        so any flush counts.
//   ptw_cpl_requested    a Translation Completion names a request the walker
//                        took and has not completed (each exactly once)
//   ptw_cpl_size         size is 4K/2M/1G; a fault carries no translation
//   ptw_sup_path         a walk whose path had an entry with U/S clear (kept
//                        walking with pwc_keep_sup_i, or started from such a
//                        PWC entry) never completes with a translation
//   pwc_sup_fill_keep    the PWC takes an entry whose path had U/S clear only
//                        with pwc_keep_sup_i set
// plus payload stability of the Translation Completion.
//
// Accessed/dirty updates (ghost per slot: the last entry value read, whether
// its read was answered EXOKAY, whether a write already used that read):
//   ad_update_exclusive  an A/D write follows an exclusive read of the slot
//                        answered EXOKAY, one write per such read, and
//                        writes the value read with only A and/or D turned
//                        on, into a present entry (bits are never set into an
//                        entry the walk did not read and decide)
//   ad_dirty_write_leaf  D is set only in the leaf of a write walk
//   ad_writable_dirty    a completion offering a writable translation has a
//                        leaf whose D bit was set (read as set, or written)
//   ad_retry_bounded     a slot that lost AdRetries reservations in one walk
//                        makes no further memory request
//
// Response timeout (ghost per slot: a read / an A/D write granted and not
// answered, consecutive cycles in the current AXI wait state):
//   ptw_id_reuse         no read (write) is granted while a read (write) of the
//                        slot is unanswered: its late response is never taken
//                        as the answer to a newer request (one per AXI ID)
//   ptw_wait_own         a slot waits for R (B) only when its own read (write)
//                        is unanswered
//   ptw_wait_bounded     no AXI wait (ats_pkg::WRead, ats_pkg::WWait, ats_pkg::WWrite, ats_pkg::WBack) lasts more
//                        than AxiTimeout cycles
//
// Forward progress (ghost per Translation Request ID: raced = an invalidation
// (PWC flush) was applied between the request's acceptance and its
// completion's delivery, both included; the count of raced completions in a
// row; held = taken while armed, i.e. after WalkMaxRetries raced ones):
//   walk_retry_bounded   no ID has more than WalkMaxRetries raced completions
//                        in a row (the walk after them completes unraced)
//   walk_hold_armed      the hold (inv_hold_o) is up in the cycle an armed
//                        request is taken and until its completion leaves
//   walk_hold_ends       the hold is up only then, or while an armed request is
//                        offered (it is taken once the hold is up): it ends
//                        with the armed walk
//   walk_hold_bounded    the hold never lasts more than HoldMaxCycles cycles in
//                        a row (default: every ID armed once, each waiting for
//                        a slot and walking for the longest walk AxiTimeout
//                        and AdRetries allow)
//   walk_armed_unraced   an armed request is not taken in a cycle an
//                        invalidation is applied (one accepted just before
//                        the hold rose lands in the hold's first cycle)
//   walk_hold_honoured   environment: no invalidation is applied in a cycle
//                        after one with the hold up (inv.sv accepts none
//                        during the hold and applies a request the cycle
//                        after its acceptance)
`include "ats_assert.svh"

module ptw_assert #(
  parameter int unsigned NumWalks = 2,
  parameter int unsigned PaWidth  = 48,
  parameter int unsigned IdW      = 3,
  parameter int unsigned AdRetries = 4,
  parameter int unsigned AxiTimeout = 4096,
  parameter int unsigned WalkMaxRetries = 4,
  parameter int unsigned HoldMaxCycles = 2 * (1 << IdW) * ((5 + AdRetries) * 4 * AxiTimeout + NumWalks),
  parameter bit          AssumeEnv = 1'b0
) (
  input logic                  clk_i,
  input logic                  rst_ni,
  input logic                  xreq_valid_i,
  input logic                  xreq_ready_o,
  input logic [IdW-1:0]        xreq_id_i,
  input logic                  xcpl_valid_o,
  input logic                  xcpl_ready_i,
  input logic [IdW-1:0]        xcpl_id_o,
  input logic [3:0]            xcpl_cause_o,
  input logic [PaWidth-13:0]   xcpl_ppn_o,
  input logic [1:0]            xcpl_size_o,
  input logic                  xcpl_writable_o,
  input logic                  pwc_flush_i,
  input logic                  inv_hold_o,
  input logic [NumWalks-1:0]   r_valid_i,
  input logic [63:0]           r_data_i,
  input logic                  r_err_i,
  input logic                  r_exok_i,
  input logic [NumWalks-1:0]   ar_req_o,
  input logic [NumWalks-1:0]   ar_gnt_i,
  input logic [NumWalks-1:0]   aw_req_o,
  input logic [NumWalks*64-1:0] aw_data_o,
  input logic [NumWalks-1:0]   aw_gnt_i,
  input logic [NumWalks-1:0]   b_valid_i,
  input logic                  b_err_i,
  input logic                  b_exok_i,
  // internals
  input ats_pkg::walk_st_e [NumWalks-1:0] st_q,
  input logic [NumWalks*3-1:0] lvl_q,
  input logic [NumWalks-1:0]   wr_q,
  input logic [NumWalks-1:0]   wrbl_q,
  input logic [NumWalks*4-1:0] cause_q,
  input logic [NumWalks-1:0]   pwc_ins_by,
  input logic                  pwc_ins_usr,
  input logic                  pwc_keep_sup_i,
  input logic [NumWalks-1:0]   usr_q,
  input logic [NumWalks-1:0]   orph_r_q,
  input logic [NumWalks-1:0]   orph_b_q
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NumIds = 1 << IdW;
  localparam logic [63:0] AdBits = (64'd1 << ats_pkg::PteA) | (64'd1 << ats_pkg::PteD);

  hs_assert #(.W(IdW + 4 + PaWidth - 12 + 3)) u_hs_xcpl (
    .clk_i, .rst_ni, .valid_i(xcpl_valid_o), .ready_i(xcpl_ready_i),
    .data_i({xcpl_id_o, xcpl_cause_o, xcpl_ppn_o, xcpl_size_o, xcpl_writable_o}));

  logic [NumWalks-1:0] ginv_q, ginv_d;
  logic [NumIds-1:0]   out_q, out_d;
  logic [NumWalks-1:0] ins_bad;
  logic [NumWalks-1:0] sup_bad;

  always_comb begin
    out_d = out_q;
    if (xcpl_valid_o && xcpl_ready_i) out_d[xcpl_id_o] = 1'b0;
    if (xreq_valid_i && xreq_ready_o) out_d[xreq_id_i] = 1'b1;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      ginv_d[s]  = (st_q[s] == ats_pkg::WIdle) ? pwc_flush_i : (ginv_q[s] || pwc_flush_i);
      ins_bad[s] = pwc_ins_by[s] && (ginv_q[s] || pwc_flush_i);
      sup_bad[s] = st_q[s] == ats_pkg::WDone && cause_q[s*4 +: 4] == ats_pkg::FaultNone && !usr_q[s];
    end
  end

  // ---------------------------------------------------------------------------
  // accessed / dirty updates
  // ---------------------------------------------------------------------------
  localparam int unsigned CntW = $clog2(AdRetries + 2);
  logic [NumWalks*64-1:0]   grd_q, grd_d;      // last entry value read
  logic [NumWalks-1:0]      gexok_q, gexok_d;  // that read was answered EXOKAY
  logic [NumWalks-1:0]      gused_q, gused_d;  // a write already used that read
  logic [NumWalks-1:0]      gdirty_q, gdirty_d; // D of the last entry value read or written
  logic [NumWalks*CntW-1:0] glost_q, glost_d;  // lost reservations in this walk
  logic [NumWalks-1:0]      upd_bad, dirty_bad, wrbl_bad, rty_bad;

  always_comb begin
    grd_d    = grd_q;
    gexok_d  = gexok_q;
    gused_d  = gused_q;
    gdirty_d = gdirty_q;
    glost_d  = glost_q;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      logic [63:0] rd, wd;
      logic [2:0]  lvl;
      logic        leaf;
      rd   = grd_q[s*64 +: 64];
      wd   = aw_data_o[s*64 +: 64];
      lvl  = lvl_q[s*3 +: 3];
      leaf = lvl == 3'd4 || ((lvl == 3'd2 || lvl == 3'd3) && rd[ats_pkg::PtePs]);
      upd_bad[s] = aw_req_o[s] && aw_gnt_i[s] &&
                   (!gexok_q[s] || gused_q[s] || !rd[ats_pkg::PteP] || ((wd ^ rd) & ~AdBits) != '0 ||
                    (rd & ~wd) != '0 || wd == rd);
      dirty_bad[s] = aw_req_o[s] && aw_gnt_i[s] && wd[ats_pkg::PteD] && !rd[ats_pkg::PteD] &&
                     !(wr_q[s] && leaf);
      wrbl_bad[s]  = st_q[s] == ats_pkg::WDone && cause_q[s*4 +: 4] == ats_pkg::FaultNone && wrbl_q[s] &&
                     !gdirty_q[s];
      rty_bad[s]   = 32'(glost_q[s*CntW +: CntW]) >= AdRetries && (ar_req_o[s] || aw_req_o[s]);
      if (r_valid_i[s] && !orph_r_q[s] && !r_err_i) begin  // a late R of a timed-out read is dropped
        grd_d[s*64 +: 64] = r_data_i;
        gexok_d[s]        = r_exok_i;
        gused_d[s]        = 1'b0;
        gdirty_d[s]       = r_data_i[ats_pkg::PteD];
      end
      if (aw_req_o[s] && aw_gnt_i[s]) begin
        gused_d[s]  = 1'b1;
        gdirty_d[s] = wd[ats_pkg::PteD];
      end
      if (st_q[s] == ats_pkg::WIdle) begin
        glost_d[s*CntW +: CntW] = '0;
      end else if (b_valid_i[s] && !orph_b_q[s] && !b_err_i && !b_exok_i &&
                   glost_q[s*CntW +: CntW] != {CntW{1'b1}}) begin
        glost_d[s*CntW +: CntW] = glost_q[s*CntW +: CntW] + 1'b1;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      grd_q    <= '0;
      gexok_q  <= '0;
      gused_q  <= '0;
      gdirty_q <= '0;
      glost_q  <= '0;
    end else begin
      grd_q    <= grd_d;
      gexok_q  <= gexok_d;
      gused_q  <= gused_d;
      gdirty_q <= gdirty_d;
      glost_q  <= glost_d;
    end
  end

  // ---------------------------------------------------------------------------
  // response timeout
  // ---------------------------------------------------------------------------
  localparam int unsigned AgeW = $clog2(AxiTimeout + 2);
  logic [NumWalks-1:0]      gor_q, gor_d, gow_q, gow_d;  // read / write granted, not answered
  logic [NumWalks*3-1:0]    pst_q;
  logic [NumWalks*AgeW-1:0] age_q, age_d;
  logic [NumWalks-1:0]      reuse_bad, own_bad, age_bad;

  always_comb begin
    gor_d = gor_q;
    gow_d = gow_q;
    age_d = age_q;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      ats_pkg::walk_st_e st;
      logic            waiting;
      logic [AgeW-1:0] age;
      st = st_q[s];
      reuse_bad[s] = (ar_req_o[s] && ar_gnt_i[s] && gor_q[s]) || (aw_req_o[s] && aw_gnt_i[s] && gow_q[s]);
      own_bad[s]   = (st == ats_pkg::WWait && !gor_q[s]) || (st == ats_pkg::WBack && !gow_q[s]);
      waiting = st == ats_pkg::WRead || st == ats_pkg::WWait || st == ats_pkg::WWrite || st == ats_pkg::WBack;
      age     = (!waiting || st != pst_q[s*3 +: 3]) ? '0 : age_q[s*AgeW +: AgeW] + 1'b1;
      if (age == {AgeW{1'b1}}) age = age_q[s*AgeW +: AgeW];
      age_d[s*AgeW +: AgeW] = age;
      age_bad[s] = waiting && 32'(age) >= AxiTimeout;
      if (r_valid_i[s]) gor_d[s] = 1'b0;
      if (b_valid_i[s]) gow_d[s] = 1'b0;
      if (ar_req_o[s] && ar_gnt_i[s]) gor_d[s] = 1'b1;
      if (aw_req_o[s] && aw_gnt_i[s]) gow_d[s] = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      gor_q <= '0;
      gow_q <= '0;
      pst_q <= '0;
      age_q <= '0;
    end else begin
      gor_q <= gor_d;
      gow_q <= gow_d;
      pst_q <= st_q;
      age_q <= age_d;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      ginv_q <= '0;
      out_q  <= '0;
    end else begin
      ginv_q <= ginv_d;
      out_q  <= out_d;
    end
  end

  // ---------------------------------------------------------------------------
  // forward progress
  // ---------------------------------------------------------------------------
  localparam int unsigned PsnW  = $clog2(WalkMaxRetries + 2);
  localparam int unsigned HoldW = $clog2(HoldMaxCycles + 2);
  logic [NumIds-1:0]      graced_q, graced_d;  // the outstanding request was raced
  logic [NumIds*PsnW-1:0] gpsn_q, gpsn_d;      // raced completions in a row
  logic [NumIds-1:0]      gheld_q, gheld_d;    // the outstanding request was taken armed
  logic [HoldW-1:0]       ghold_q, ghold_d;    // consecutive cycles with the hold up
  logic                   ghold_up_q;          // the hold was up in the cycle before
  logic                   acc, cpl, acc_armed, offer_armed, psn_bad;

  assign acc = xreq_valid_i && xreq_ready_o;
  assign cpl = xcpl_valid_o && xcpl_ready_i;

  always_comb begin
    graced_d  = graced_q;
    gpsn_d    = gpsn_q;
    gheld_d   = gheld_q;
    acc_armed   = 1'b0;
    offer_armed = 1'b0;
    psn_bad     = 1'b0;
    for (int unsigned i = 0; i < NumIds; i++) begin
      if (out_q[i] && pwc_flush_i) graced_d[i] = 1'b1;
      if (32'(gpsn_q[i*PsnW +: PsnW]) > WalkMaxRetries && WalkMaxRetries != 0) psn_bad = 1'b1;
      if (cpl && xcpl_id_o == IdW'(i)) begin
        if (graced_q[i] || pwc_flush_i) begin
          if (gpsn_q[i*PsnW +: PsnW] != {PsnW{1'b1}}) gpsn_d[i*PsnW +: PsnW] = gpsn_q[i*PsnW +: PsnW] + 1'b1;
        end else begin
          gpsn_d[i*PsnW +: PsnW] = '0;
        end
        gheld_d[i] = 1'b0;
      end
      if (xreq_valid_i && xreq_id_i == IdW'(i)) begin
        offer_armed = WalkMaxRetries != 0 && 32'(gpsn_q[i*PsnW +: PsnW]) >= WalkMaxRetries;
      end
      if (acc && xreq_id_i == IdW'(i)) begin
        acc_armed   = WalkMaxRetries != 0 && 32'(gpsn_q[i*PsnW +: PsnW]) >= WalkMaxRetries;
        graced_d[i] = pwc_flush_i;
        gheld_d[i]  = acc_armed;
      end
    end
    ghold_d = !inv_hold_o ? '0 : (ghold_q == {HoldW{1'b1}}) ? ghold_q : ghold_q + 1'b1;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      graced_q <= '0;
      gpsn_q   <= '0;
      gheld_q  <= '0;
      ghold_q  <= '0;
      ghold_up_q <= 1'b0;
    end else begin
      graced_q <= graced_d;
      gpsn_q   <= gpsn_d;
      gheld_q  <= gheld_d;
      ghold_q  <= ghold_d;
      ghold_up_q <= inv_hold_o;
    end
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ASSERT(walk_retry_bounded, !psn_bad, "more than WalkMaxRetries raced walks in a row for one ID")
      `ATS_ASSERT(walk_hold_armed, inv_hold_o || (!acc_armed && gheld_q == '0),
                  "armed walk taken or in flight without the invalidation hold")
      `ATS_ASSERT(walk_hold_ends, !inv_hold_o || offer_armed || gheld_q != '0,
                  "invalidation hold up with no armed request offered and no armed walk in flight")
      `ATS_ASSERT(walk_hold_bounded, 32'(ghold_q) < HoldMaxCycles,
                  "invalidation hold up for HoldMaxCycles cycles in a row")
      `ATS_ASSERT(walk_armed_unraced, !(acc_armed && pwc_flush_i),
                  "armed walk taken in a cycle an invalidation is applied")
      `ATS_ENV(walk_hold_honoured, !(ghold_up_q && pwc_flush_i),
               "invalidation applied after a cycle in which the walker held them")
      `ATS_COVER(cov_walk_armed, acc_armed)
      `ATS_ASSERT(rule1_pwc_no_stale_fill, ins_bad == '0,
                  "page-walk cache filled by a walk that an invalidation raced")
      `ATS_ASSERT(ptw_sup_path, sup_bad == '0, "translation through a path with a U/S-clear entry")
      `ATS_ASSERT(pwc_sup_fill_keep, !(pwc_ins_by != '0 && !pwc_ins_usr && !pwc_keep_sup_i),
                  "page-walk cache filled with a supervisor path while pwc_keep_sup_i is clear")
      `ATS_ASSERT(ad_update_exclusive, upd_bad == '0,
                  "A/D write without an EXOKAY exclusive read of the entry, twice for one read, or changing more than A/D")
      `ATS_ASSERT(ad_dirty_write_leaf, dirty_bad == '0, "D set in an entry that is not the leaf of a write walk")
      `ATS_ASSERT(ad_writable_dirty, wrbl_bad == '0, "writable translation whose leaf entry is not dirty")
      `ATS_ASSERT(ad_retry_bounded, rty_bad == '0, "walk goes on after AdRetries lost reservations")
      `ATS_ASSERT(ptw_id_reuse, reuse_bad == '0,
                  "walker request granted while the slot's previous one is unanswered (its late response would be taken)")
      `ATS_ASSERT(ptw_wait_own, own_bad == '0, "walk slot waits for a response to a request it did not issue")
      `ATS_ASSERT(ptw_wait_bounded, age_bad == '0, "walk slot waits for the AXI port or a response beyond AxiTimeout")
      if (xcpl_valid_o) begin
        `ATS_ASSERT(ptw_cpl_requested, out_q[xcpl_id_o], "Translation Completion for an ID with no request taken")
        `ATS_ASSERT(ptw_cpl_size, xcpl_size_o != 2'd3 &&
                    (xcpl_cause_o == ats_pkg::FaultNone || (xcpl_ppn_o == '0 && !xcpl_writable_o)),
                    "completion size not 4K/2M/1G, or a fault that carries a translation")
      end
    end
  end

endmodule
