// Rule 2, DMA half: the DMA threads report to the invalidation block every
// access that uses a translation until its AXI response; bound into `dma`.
//
// Bound per command slot (ats_bind.sv: a "thread" here is a slot of
// dma.sv, its memory signals the slot's side of its thread's port; with
// DmaOutstanding = 1 slots and threads are the same).
// Ghost state per thread, from the thread's interfaces only:
//   wait  lookup missed, translation result pending
//   hold  the thread obtained a translation (ATC hit, or a translation result
//         without fault) and its access has not been answered
//   acc   the access was granted to the AXI port and not answered (also after
//         the command ended by a timeout: the access is still in flight)
//   awr   that access is a write (answer on B) or a read (answer on R)
//   wr    the command is a write
//   ppn   the translation obtained
//   age   cycles the thread has stayed in its current AXI wait (ats_pkg::TMem, ats_pkg::TMwt,
//         or ats_pkg::TLkp while its previous access is unanswered)
//
//   rule2_dma_holds      a thread holding a translation (including one
//                        obtained this cycle, excluding one answered this
//                        cycle) has holds_xlat_o set: the invalidation block
//                        snapshots it when a request is accepted; with
//                        DrainExact, a thread whose translation (PASID, page at
//                        the size obtained) overlaps the invalidation applied
//                        this cycle (ap_*_i)
//   rule2_dma_mem_done   mem_done_o pulses exactly when a held access gets
//                        its R/B or is withdrawn ungranted (an early pulse
//                        would end a drain early)
//   dma_access_translated  a memory request only for a thread holding a
//                        translation, to the translated page
//   dma_drop_ungranted   a withdrawn request (mem_drop) was requested and not
//                        granted in that cycle: it never reaches AXI
//   dma_id_reuse         no request while the thread's previous access is
//                        unanswered: a late response is never taken as the
//                        answer to a newer access (one access per AXI ID)
//   dma_wait_bounded     no AXI wait lasts more than AxiTimeout cycles
// Environment: a lookup result only for the thread that looked up the cycle
// before (lkp_valid_o; a killed lookup gives none), a grant only to a requesting thread, R/B only for a granted
// access of that kind, a translation result only for a thread waiting for one.
// The dma_inv_* checks tie the ghost to the thread FSM (inductive invariants).
`include "ats_assert.svh"

module dma_assert #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned ThreadW    = 2,
  parameter int unsigned AxiTimeout = 4096,
  parameter bit          DrainExact = 1'b0,
  parameter bit          AssumeEnv  = 1'b0
) (
  input logic                          clk_i,
  input logic                          rst_ni,
  input logic                          cmd_valid_i,
  input logic                          cmd_ready_o,
  input logic [ThreadW-1:0]            cmd_thread_i,
  input logic                          cmd_write_i,
  input logic [ats_pkg::PasidW-1:0]    cmd_pasid_i,
  input logic [63:0]                   cmd_va_i,
  input logic                          lkp_valid_o,
  input logic [ThreadW-1:0]            lkp_thread_o,
  input logic                          lkp_rvalid_i,   // lookup result (hit: a translation obtained)
  input logic [ThreadW-1:0]            lkp_rthread_i,
  input logic                          lkp_hit_i,
  input logic [PaWidth-13:0]           lkp_ppn_i,
  input logic [1:0]                    lkp_size_i,
  input logic                          xres_valid_i,
  input logic [ThreadW-1:0]            xres_thread_i,
  input logic [3:0]                    xres_cause_i,
  input logic [PaWidth-13:0]           xres_ppn_i,
  input logic [1:0]                    xres_size_i,
  input logic                          ap_all_i,
  input logic [ats_pkg::PasidW-1:0]    ap_pasid_i,
  input logic [51:0]                   ap_addr_i,
  input logic [51:0]                   ap_keep_i,
  input logic [NumThreads-1:0]         rd_req_o,
  input logic [NumThreads-1:0]         wr_req_o,
  input logic [NumThreads*PaWidth-1:0] mem_addr_o,
  input logic [NumThreads-1:0]         mem_gnt_i,
  input logic [NumThreads-1:0]         r_valid_i,
  input logic [NumThreads-1:0]         b_valid_i,
  input logic [NumThreads-1:0]         holds_xlat_o,
  input logic [NumThreads-1:0]         mem_done_o,
  // internals
  input ats_pkg::dma_st_e [NumThreads-1:0] st_q,
  input logic [NumThreads-1:0]         wr_q,
  input logic [NumThreads-1:0]         orph_q,
  input logic [NumThreads-1:0]         orph_wr_q,
  input logic [NumThreads-1:0]         mem_drop
);

  `ATS_CHECKER_COMMON

  localparam int unsigned PpnW = PaWidth - 12;

  localparam int unsigned AgeW = $clog2(AxiTimeout + 2);

  logic [NumThreads-1:0]      wait_q, wait_d, hold_q, hold_d, acc_q, acc_d, wr_gq, wr_gd, awr_q, awr_d;
  logic [NumThreads*PpnW-1:0] ppn_q, ppn_d;
  logic [NumThreads*3-1:0]    pst_q;
  logic [NumThreads*AgeW-1:0] age_q, age_d;
  logic [NumThreads-1:0]      obtained, answered, dropped, holds_now;
  logic [NumThreads-1:0]      holds_bad, done_bad, access_bad, inv_bad, env_gnt_bad, env_rb_bad, env_xres_bad;
  logic [NumThreads-1:0]      drop_bad, reuse_bad, age_bad, env_lkp_bad;
  logic [NumThreads-1:0]      lq_q, lq_d;  // looked up last cycle: its result is due
  // the command's PASID/VPN, and the translation held: PASID, VPN, size
  logic [NumThreads*ats_pkg::PasidW-1:0] cp_q, cp_d, tp_q, tp_d;
  logic [NumThreads*36-1:0]   cv_q, cv_d, tv_q, tv_d;
  logic [NumThreads*2-1:0]    ts_q, ts_d;
  logic [NumThreads-1:0]      inv_match;

  always_comb begin
    wait_d = wait_q;
    hold_d = hold_q;
    acc_d  = acc_q;
    wr_gd  = wr_gq;
    ppn_d  = ppn_q;
    awr_d  = awr_q;
    age_d  = age_q;
    cp_d   = cp_q;
    cv_d   = cv_q;
    tp_d   = tp_q;
    tv_d   = tv_q;
    ts_d   = ts_q;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic lk, xr, waiting;
      ats_pkg::dma_st_e st;
      logic [AgeW-1:0] age;
      st = st_q[t];
      lk = lkp_rvalid_i && lkp_rthread_i == ThreadW'(t);
      xr = xres_valid_i && xres_thread_i == ThreadW'(t);
      obtained[t] = (lk && lkp_hit_i) || (xr && wait_q[t] && xres_cause_i == ats_pkg::FaultNone);
      answered[t] = acc_q[t] && (awr_q[t] ? b_valid_i[t] : r_valid_i[t]);
      dropped[t]  = hold_q[t] && !acc_q[t] && mem_drop[t];
      holds_now[t] = (hold_q[t] || obtained[t]) && !answered[t] && !dropped[t];
      if (cmd_valid_i && cmd_ready_o && cmd_thread_i == ThreadW'(t)) begin
        wr_gd[t] = cmd_write_i;
        cp_d[t*ats_pkg::PasidW +: ats_pkg::PasidW] = cmd_pasid_i;
        cv_d[t*36 +: 36] = cmd_va_i[47:12];
      end
      if (obtained[t]) begin
        tp_d[t*ats_pkg::PasidW +: ats_pkg::PasidW] = cp_q[t*ats_pkg::PasidW +: ats_pkg::PasidW];
        tv_d[t*36 +: 36] = cv_q[t*36 +: 36];
        ts_d[t*2 +: 2]   = lk ? lkp_size_i : xres_size_i;
      end
      inv_match[t] = (ap_all_i || ap_pasid_i == tp_d[t*ats_pkg::PasidW +: ats_pkg::PasidW]) &&
                   ats_pkg::range_overlap(ap_addr_i, ap_keep_i, ats_pkg::sext_vpn(tv_d[t*36 +: 36]),
                                          ats_pkg::size_keep(ts_d[t*2 +: 2]));
      if (lk && !lkp_hit_i) wait_d[t] = 1'b1;
      if (xr) wait_d[t] = 1'b0;
      if (lk && lkp_hit_i) ppn_d[t*PpnW +: PpnW] = lkp_ppn_i;
      if (xr && wait_q[t]) ppn_d[t*PpnW +: PpnW] = xres_ppn_i;
      if (hold_q[t] && mem_gnt_i[t]) begin
        acc_d[t] = 1'b1;
        awr_d[t] = wr_req_o[t];
      end
      if (answered[t]) acc_d[t] = 1'b0;
      hold_d[t] = holds_now[t];
      lq_d[t]   = lkp_valid_o && lkp_thread_o == ThreadW'(t);
      env_lkp_bad[t] = lk && !lq_q[t];

      holds_bad[t]  = holds_now[t] && !holds_xlat_o[t] && (!DrainExact || inv_match[t]);
      done_bad[t]   = mem_done_o[t] != (answered[t] || dropped[t]);
      drop_bad[t]   = mem_drop[t] && (!(rd_req_o[t] || wr_req_o[t]) || mem_gnt_i[t]);
      reuse_bad[t]  = (rd_req_o[t] || wr_req_o[t]) && acc_q[t];
      // consecutive cycles in one AXI wait state, this one included
      waiting = st == ats_pkg::TMem || st == ats_pkg::TMwt || (st == ats_pkg::TLkp && orph_q[t]);
      age     = (!waiting || st != pst_q[t*3 +: 3]) ? '0 : age_q[t*AgeW +: AgeW] + 1'b1;
      if (age == {AgeW{1'b1}}) age = age_q[t*AgeW +: AgeW];
      age_d[t*AgeW +: AgeW] = age;
      age_bad[t]    = waiting && 32'(age) >= AxiTimeout;
      access_bad[t] = (rd_req_o[t] || wr_req_o[t]) &&
                      (!hold_q[t] || wr_req_o[t] != wr_gq[t] ||
                       mem_addr_o[t*PaWidth + 12 +: PpnW] != ppn_q[t*PpnW +: PpnW]);
      inv_bad[t]    = hold_q[t] != (st == ats_pkg::TMem || st == ats_pkg::TMwt || orph_q[t]) ||
                      acc_q[t] != (st == ats_pkg::TMwt || orph_q[t]) ||
                      (orph_q[t] && st != ats_pkg::TIdle && st != ats_pkg::TLkp && st != ats_pkg::TRsp) ||
                      (st == ats_pkg::TMwt && awr_q[t] != wr_q[t]) || (orph_q[t] && orph_wr_q[t] != awr_q[t]) ||
                      wait_q[t] != (st == ats_pkg::TXlat) || (st != ats_pkg::TIdle && wr_q[t] != wr_gq[t]) ||
                      (lq_q[t] && (st != ats_pkg::TLkp || orph_q[t])) ||
                      (lkp_valid_o && lkp_thread_o == ThreadW'(t) && (st != ats_pkg::TLkp || orph_q[t] || lq_q[t]));
      env_gnt_bad[t]  = mem_gnt_i[t] && !(rd_req_o[t] || wr_req_o[t]);
      env_rb_bad[t]   = (r_valid_i[t] && !(acc_q[t] && !awr_q[t])) || (b_valid_i[t] && !(acc_q[t] && awr_q[t]));
      env_xres_bad[t] = xr && !wait_q[t];
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      wait_q <= '0;
      lq_q   <= '0;
      hold_q <= '0;
      acc_q  <= '0;
      pst_q  <= '0;
      age_q  <= '0;
    end else begin
      wait_q <= wait_d;
      lq_q   <= lq_d;
      hold_q <= hold_d;
      acc_q  <= acc_d;
      pst_q  <= st_q;
      age_q  <= age_d;
    end
  end

  always_ff @(posedge clk_i) begin
    wr_gq <= wr_gd;
    awr_q <= awr_d;
    ppn_q <= ppn_d;
    cp_q  <= cp_d;
    cv_q  <= cv_d;
    tp_q  <= tp_d;
    tv_q  <= tv_d;
    ts_q  <= ts_d;
  end

  logic unused_dma_chk;
  assign unused_dma_chk = ^{cmd_va_i[63:48], cmd_va_i[11:0]};

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ENV(dma_env_gnt, env_gnt_bad == '0, "memory grant to a thread that requests nothing")
      `ATS_ENV(dma_env_rb, env_rb_bad == '0, "R/B for a thread without a granted access of that kind")
      `ATS_ENV(dma_env_lkp_result, env_lkp_bad == '0, "ATC lookup result for a thread that did not look up the cycle before")
      `ATS_ENV(dma_env_xres, env_xres_bad == '0, "translation result for a thread not waiting for one")
      `ATS_ASSERT(rule2_dma_holds, holds_bad == '0,
                  "a thread holding an unanswered translated access is not reported to the invalidation block")
      `ATS_ASSERT(rule2_dma_mem_done, done_bad == '0, "mem_done_o does not match the AXI response of a held access")
      `ATS_ASSERT(dma_access_translated, access_bad == '0,
                  "memory request without a translation, of the wrong kind, or to another page")
      `ATS_ASSERT(dma_drop_ungranted, drop_bad == '0, "a memory request withdrawn although granted or not requested")
      `ATS_ASSERT(dma_id_reuse, reuse_bad == '0,
                  "memory request while the thread's previous access is unanswered (its late response would be taken)")
      `ATS_ASSERT(dma_wait_bounded, age_bad == '0, "a thread waits for the AXI port or a response beyond AxiTimeout")
      `ATS_LEMMA(dma_inv_state, inv_bad == '0, "thread state differs from the ghost")
      `ATS_COVER(cov_dma_hold_waiting_port, |(hold_q & ~acc_q & (rd_req_o | wr_req_o) & ~mem_gnt_i))
      `ATS_COVER(cov_dma_answer, |answered)
      `ATS_COVER(cov_dma_late_answer, |(answered & orph_q))
    end
  end

endmodule
