// Device DMA thread contexts.
//
// NumThreads contexts, one command each. A command is checked (8-byte
// alignment first, then canonical VA), looked up in the ATC (round robin, one lookup per
// cycle; the result comes the next cycle, lkp_rvalid_i, and meanwhile the thread
// is not offered again; a killed lookup gives no result and the thread is
// offered again). The lookup request is registered: the arbiter picks, from
// the threads' next states, the thread that looks up in the next cycle, so
// the ATC compare starts from flip-flops. Translated by a walk on a miss, performed at the AXI port and
// answered. Responses leave round robin across threads; a response is held
// stable until accepted, and the thread takes a new command only after its
// response was accepted (in order within a thread).
//
// Page requests (PCIe PRI, pri_en_i set): a walk that ends in NOT_PRESENT or
// WRITE_PROTECT sends a Page Request (one request per group: PRG index = the
// thread id, last = 1) and the thread waits for its PRG Response. Success
// sends the thread back to the ATC lookup (a new walk); Invalid Request and
// Response Failure end the command with a fault. A request unanswered for
// PriTimeout cycles ends in FaultPriTimeout; a walk that still faults after
// PriRetries Success responses ends in FaultLivelock (no forward progress).
// With pri_en_i clear a translation fault is answered at once, as before.
//
// Response timeout (docs/ARCHITECTURE.md 2): a thread waits at most
// AxiTimeout cycles in ats_pkg::TMem (for the AXI port) and then in ats_pkg::TMwt (for R/B);
// then the command ends in FaultBusTimeout (PA 0, rdata 0). A request
// withdrawn before its grant was never issued: mem_done_o pulses (it can no
// longer land, so no drain waits for it). An issued access cannot be
// cancelled: the thread is orphaned (orph_q) until the late response arrives
// and is dropped. Meanwhile holds_xlat_o stays set (the access may still land
// in memory with its translation, so an Invalidate Completion waits for it)
// and the thread issues nothing on its AXI ID: a new command waits in ats_pkg::TLkp
// before its ATC lookup, at most AxiTimeout cycles, then ends in
// FaultBusTimeout. So a late response never reaches a newer command, and a
// thread never holds two translations for the drain to tell apart.

module dma #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned ThreadW    = 2,
  parameter int unsigned PriTimeout = 4096,  // cycles a Page Request may stay unanswered
  parameter int unsigned PriRetries = 4,     // Page Requests per command at most
  parameter int unsigned AxiTimeout = 4096   // cycles per AXI wait (port, then R/B) before FaultBusTimeout (>= 1)
) (
  input  logic                          clk_i,
  input  logic                          rst_ni,
  input  logic                          pri_en_i,
  // commands
  input  logic                          cmd_valid_i,
  output logic                          cmd_ready_o,
  input  logic [ThreadW-1:0]            cmd_thread_i,
  input  logic                          cmd_write_i,
  input  logic [ats_pkg::PasidW-1:0]    cmd_pasid_i,
  input  logic [63:0]                   cmd_va_i,
  input  logic [63:0]                   cmd_wdata_i,
  // responses
  output logic                          rsp_valid_o,
  input  logic                          rsp_ready_i,
  output logic [ThreadW-1:0]            rsp_thread_o,
  output logic                          rsp_fault_o,
  output logic [3:0]                    rsp_cause_o,
  output logic [63:0]                   rsp_rdata_o,
  output logic [PaWidth-1:0]            rsp_pa_o,
  output logic                          rsp_atc_hit_o,
  // ATC lookup
  output logic                          lkp_valid_o,
  output logic [ThreadW-1:0]            lkp_thread_o,
  output logic [ats_pkg::PasidW-1:0]    lkp_pasid_o,
  output logic [35:0]                   lkp_vpn_o,
  output logic                          lkp_write_o,
  input  logic                          lkp_rvalid_i,    // lookup result (the cycle after the lookup)
  input  logic [ThreadW-1:0]            lkp_rthread_i,
  input  logic                          lkp_hit_i,
  input  logic [PaWidth-13:0]           lkp_ppn_i,
  // translation result of a miss
  input  logic                          xres_valid_i,
  input  logic [ThreadW-1:0]            xres_thread_i,
  input  logic [3:0]                    xres_cause_i,
  input  logic [PaWidth-13:0]           xres_ppn_i,
  // Page Request
  output logic                          pr_valid_o,
  input  logic                          pr_ready_i,
  output logic [ats_pkg::PasidW-1:0]    pr_pasid_o,
  output logic [35:0]                   pr_vpn_o,
  output logic                          pr_read_o,
  output logic                          pr_write_o,
  output logic [ats_pkg::PrgiW-1:0]     pr_prgi_o,
  output logic                          pr_last_o,
  // PRG Response
  input  logic                          prgr_valid_i,
  input  logic [ats_pkg::PrgiW-1:0]     prgr_prgi_i,
  input  logic [3:0]                    prgr_code_i,
  // memory accesses
  output logic [NumThreads-1:0]         rd_req_o,
  output logic [NumThreads-1:0]         wr_req_o,
  output logic [NumThreads*PaWidth-1:0] mem_addr_o,
  output logic [NumThreads*64-1:0]      mem_wdata_o,
  input  logic [NumThreads-1:0]         mem_gnt_i,
  input  logic [NumThreads-1:0]         r_valid_i,
  input  logic [63:0]                   r_data_i,
  input  logic                          r_err_i,
  input  logic [NumThreads-1:0]         b_valid_i,
  input  logic                          b_err_i,
  // drain tracking for invalidations
  output logic [NumThreads-1:0]         holds_xlat_o,    // next cycle: has a translation, access not answered
  output logic [NumThreads-1:0]         mem_done_o       // AXI response of the thread's access this cycle
);

  localparam int unsigned PpnW   = PaWidth - 12;
  localparam int unsigned PasidW = ats_pkg::PasidW;

  localparam int unsigned TmoW = $clog2(PriTimeout + 1);
  localparam int unsigned RtyW = $clog2(PriRetries + 1);
  localparam int unsigned AtmW = $clog2(AxiTimeout + 1);

  ats_pkg::dma_st_e [NumThreads-1:0] st_q, st_d;
  logic [NumThreads-1:0]      wr_q, wr_d;
  logic [NumThreads*PasidW-1:0]   pasid_q, pasid_d;
  logic [NumThreads*48-1:0]   va_q, va_d;       // VA[47:0] (canonical once looked up)
  logic [NumThreads*64-1:0]   wdata_q, wdata_d;
  logic [NumThreads*PpnW-1:0] ppn_q, ppn_d;
  logic [NumThreads-1:0]      hit_q, hit_d;
  logic [NumThreads*4-1:0]    cause_q, cause_d;
  logic [NumThreads*64-1:0]   rdata_q, rdata_d;
  logic [NumThreads*TmoW-1:0] tmo_q, tmo_d;     // cycles waited for the PRG Response
  logic [NumThreads*RtyW-1:0] rty_q, rty_d;     // Page Requests sent for this command
  logic [NumThreads*AtmW-1:0] atmo_q, atmo_d;   // cycles spent in the current AXI wait state
  logic [NumThreads-1:0]      orph_q, orph_d;   // a timed-out access's R/B is still to come
  logic [NumThreads-1:0]      orph_wr_q, orph_wr_d;  // ... on B (write), else on R
  logic [NumThreads-1:0]      mem_drop;         // access request withdrawn ungranted (timeout)
  // the lookup of this cycle (L0), chosen and registered in the cycle before
  logic                       lq_valid_q;
  logic [ThreadW-1:0]         lq_thread_q;
  logic [PasidW-1:0]          lq_pasid_q;
  logic [35:0]                lq_vpn_q;
  logic                       lq_write_q;

  // ---------------------------------------------------------------------------
  // command acceptance
  // ---------------------------------------------------------------------------
  logic       cmd_fire;
  logic [3:0] cmd_cause;

  always_comb begin
    cmd_ready_o = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (cmd_thread_i == ThreadW'(t)) cmd_ready_o = st_q[t] == ats_pkg::TIdle;
    end
  end
  assign cmd_fire    = cmd_valid_i && cmd_ready_o;

  always_comb begin
    if (cmd_va_i[2:0] != 3'b000) begin
      cmd_cause = ats_pkg::FaultMisaligned;
    end else if (!ats_pkg::vpn_canonical(cmd_va_i[63:47])) begin
      cmd_cause = ats_pkg::FaultNoncanonical;
    end else begin
      cmd_cause = ats_pkg::FaultNone;
    end
  end

  // ---------------------------------------------------------------------------
  // per-thread requests: ATC lookup, response, memory access
  // ---------------------------------------------------------------------------
  logic [NumThreads-1:0] lkp_req, rsp_req, pr_req;

  always_comb begin
    for (int unsigned t = 0; t < NumThreads; t++) begin
      rsp_req[t]  = st_q[t] == ats_pkg::TRsp;
      pr_req[t]   = st_q[t] == ats_pkg::TPri;
      rd_req_o[t] = st_q[t] == ats_pkg::TMem && !wr_q[t];
      wr_req_o[t] = st_q[t] == ats_pkg::TMem && wr_q[t];
      mem_addr_o[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW], va_q[t*48 +: 12]};
      mem_wdata_o[t*64 +: 64] = wdata_q[t*64 +: 64];
    end
  end

  // ---------------------------------------------------------------------------
  // ATC lookup: round robin over threads in ats_pkg::TLkp (a lookup is always
  // accepted), chosen one cycle ahead from the next state: a thread that will be
  // in TLkp (st_d == TLkp, see to_lkp), not waiting for a late AXI response, and not looking up now (its
  // result comes next cycle)
  // ---------------------------------------------------------------------------
  // The transitions into (or staying in) TLkp, spelled out rather than read
  // from st_d: a translation result never leads to TLkp, so it stays off this path.
  logic [NumThreads-1:0] to_lkp;
  always_comb begin
    for (int unsigned t = 0; t < NumThreads; t++) begin
      case (st_q[t])
        ats_pkg::TIdle: to_lkp[t] = cmd_fire && cmd_thread_i == ThreadW'(t) && cmd_cause == ats_pkg::FaultNone;
        ats_pkg::TLkp:  to_lkp[t] = !(orph_q[t] && atmo_q[t*AtmW +: AtmW] == AtmW'(AxiTimeout - 1)) &&
                                    !(lkp_rvalid_i && lkp_rthread_i == ThreadW'(t));
        ats_pkg::TPwt:  to_lkp[t] = prgr_valid_i && prgr_prgi_i == ats_pkg::PrgiW'(t) &&
                                    prgr_code_i == ats_pkg::PrgSuccess;
        default:        to_lkp[t] = 1'b0;
      endcase
      lkp_req[t] = to_lkp[t] && !orph_d[t] && !(lq_valid_q && lq_thread_q == ThreadW'(t));
    end
  end

  logic               lkp_any;
  logic [ThreadW-1:0] lkp_sel;

  rr_arb #(
    .N   (NumThreads),
    .Lock(1'b0),
    .IdxW(ThreadW)
  ) u_lkp_arb (
    .clk_i,
    .rst_ni,
    .req_i  (lkp_req),
    .ready_i(1'b1),
    .valid_o(lkp_any),
    .idx_o  (lkp_sel)
  );

  logic [PasidW-1:0] lq_pasid_d;
  logic [35:0]       lq_vpn_d;
  logic              lq_write_d;
  always_comb begin
    lq_pasid_d = '0;
    lq_vpn_d   = '0;
    lq_write_d = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (lkp_sel == ThreadW'(t)) begin
        lq_pasid_d = pasid_d[t*PasidW +: PasidW];
        lq_vpn_d   = va_d[t*48 + 12 +: 36];
        lq_write_d = wr_d[t];
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      lq_valid_q <= 1'b0;
    end else begin
      lq_valid_q <= lkp_any;
    end
  end

  always_ff @(posedge clk_i) begin
    lq_thread_q <= lkp_sel;
    lq_pasid_q  <= lq_pasid_d;
    lq_vpn_q    <= lq_vpn_d;
    lq_write_q  <= lq_write_d;
  end

  assign lkp_valid_o  = lq_valid_q;
  assign lkp_thread_o = lq_thread_q;
  assign lkp_pasid_o  = lq_pasid_q;
  assign lkp_vpn_o    = lq_vpn_q;
  assign lkp_write_o  = lq_write_q;

  // ---------------------------------------------------------------------------
  // responses: round robin, held stable until accepted
  // ---------------------------------------------------------------------------
  logic               rsp_any;
  logic [ThreadW-1:0] rsp_sel;
  logic               rsp_fire;

  rr_arb #(
    .N   (NumThreads),
    .IdxW(ThreadW)
  ) u_rsp_arb (
    .clk_i,
    .rst_ni,
    .req_i  (rsp_req),
    .ready_i(rsp_ready_i),
    .valid_o(rsp_any),
    .idx_o  (rsp_sel)
  );

  assign rsp_fire = rsp_any && rsp_ready_i;

  logic [3:0] rsp_cause;
  logic       rsp_xlat_fault;  // fault before a PA existed

  logic [PaWidth-1:0] rsp_pa;

  always_comb begin
    rsp_cause     = '0;
    rsp_rdata_o   = '0;
    rsp_pa        = '0;
    rsp_atc_hit_o = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (rsp_sel == ThreadW'(t)) begin
        rsp_cause     = cause_q[t*4 +: 4];
        rsp_rdata_o   = rdata_q[t*64 +: 64];
        rsp_pa        = {ppn_q[t*PpnW +: PpnW], va_q[t*48 +: 12]};
        rsp_atc_hit_o = hit_q[t];
      end
    end
  end

  assign rsp_xlat_fault = rsp_cause != ats_pkg::FaultNone && rsp_cause != ats_pkg::FaultBusData;
  assign rsp_valid_o    = rsp_any;
  assign rsp_thread_o   = rsp_sel;
  assign rsp_fault_o    = rsp_cause != ats_pkg::FaultNone;
  assign rsp_cause_o    = rsp_cause;
  assign rsp_pa_o       = rsp_xlat_fault ? '0 : rsp_pa;

  // ---------------------------------------------------------------------------
  // Page Requests: round robin, held stable until accepted
  // ---------------------------------------------------------------------------
  logic               pr_any;
  logic [ThreadW-1:0] pr_sel;
  logic               pr_fire;

  rr_arb #(
    .N   (NumThreads),
    .IdxW(ThreadW)
  ) u_pr_arb (
    .clk_i,
    .rst_ni,
    .req_i  (pr_req),
    .ready_i(pr_ready_i),
    .valid_o(pr_any),
    .idx_o  (pr_sel)
  );

  assign pr_fire    = pr_any && pr_ready_i;
  assign pr_valid_o = pr_any;
  assign pr_prgi_o  = ats_pkg::PrgiW'(pr_sel);
  assign pr_last_o  = 1'b1;
  always_comb begin
    pr_pasid_o = '0;
    pr_vpn_o   = '0;
    pr_write_o = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (pr_sel == ThreadW'(t)) begin
        pr_pasid_o = pasid_q[t*PasidW +: PasidW];
        pr_vpn_o   = va_q[t*48 + 12 +: 36];
        pr_write_o = wr_q[t];
      end
    end
  end
  assign pr_read_o = !pr_write_o;

  // a translation fault the host may fix by a Page Request
  logic xres_pri;
  assign xres_pri = pri_en_i && (xres_cause_i == ats_pkg::FaultNotPresent ||
                                 xres_cause_i == ats_pkg::FaultWriteProtect);

  // ---------------------------------------------------------------------------
  // thread FSMs
  // ---------------------------------------------------------------------------
  always_comb begin
    st_d    = st_q;
    wr_d    = wr_q;
    pasid_d = pasid_q;
    va_d    = va_q;
    wdata_d = wdata_q;
    ppn_d   = ppn_q;
    hit_d   = hit_q;
    cause_d = cause_q;
    rdata_d = rdata_q;
    tmo_d   = tmo_q;
    rty_d   = rty_q;
    orph_wr_d = orph_wr_q;

    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic tmo_out;  // this AXI wait has lasted AxiTimeout cycles
      tmo_out       = atmo_q[t*AtmW +: AtmW] == AtmW'(AxiTimeout - 1);
      mem_drop[t]   = 1'b0;
      // the late response of a timed-out access is dropped here (it ends
      // that access's drain; nothing else is issued on the ID meanwhile)
      mem_done_o[t] = orph_q[t] && (orph_wr_q[t] ? b_valid_i[t] : r_valid_i[t]);
      orph_d[t]     = orph_q[t] && !mem_done_o[t];
      case (st_q[t])
        ats_pkg::TIdle: begin
          if (cmd_fire && cmd_thread_i == ThreadW'(t)) begin
            wr_d[t]             = cmd_write_i;
            pasid_d[t*PasidW +: PasidW] = cmd_pasid_i;
            va_d[t*48 +: 48]    = cmd_va_i[47:0];
            wdata_d[t*64 +: 64] = cmd_wdata_i;
            ppn_d[t*PpnW +: PpnW] = '0;
            hit_d[t]            = 1'b0;
            cause_d[t*4 +: 4]   = cmd_cause;
            rdata_d[t*64 +: 64] = '0;
            rty_d[t*RtyW +: RtyW] = '0;
            st_d[t]             = (cmd_cause == ats_pkg::FaultNone) ? ats_pkg::TLkp : ats_pkg::TRsp;
          end
        end

        ats_pkg::TLkp: begin
          if (orph_q[t] && tmo_out) begin
            // the previous command's access never answered: the ID is not free
            cause_d[t*4 +: 4] = ats_pkg::FaultBusTimeout;
            st_d[t]    = ats_pkg::TRsp;
          end else if (lkp_rvalid_i && lkp_rthread_i == ThreadW'(t)) begin
            if (lkp_hit_i) begin
              st_d[t]               = ats_pkg::TMem;
              ppn_d[t*PpnW +: PpnW] = lkp_ppn_i;
              hit_d[t]              = 1'b1;
            end else begin
              st_d[t] = ats_pkg::TXlat;
            end
          end
        end

        ats_pkg::TXlat: begin
          if (xres_valid_i && xres_thread_i == ThreadW'(t)) begin
            cause_d[t*4 +: 4] = xres_cause_i;
            if (xres_cause_i == ats_pkg::FaultNone) begin
              st_d[t]               = ats_pkg::TMem;
              ppn_d[t*PpnW +: PpnW] = xres_ppn_i;
            end else if (xres_pri && rty_q[t*RtyW +: RtyW] == RtyW'(PriRetries)) begin
              cause_d[t*4 +: 4] = ats_pkg::FaultLivelock;
              st_d[t]           = ats_pkg::TRsp;
            end else if (xres_pri) begin
              st_d[t] = ats_pkg::TPri;
            end else begin
              st_d[t] = ats_pkg::TRsp;
            end
          end
        end

        ats_pkg::TMem: begin
          if (mem_gnt_i[t]) st_d[t] = ats_pkg::TMwt;
          else if (tmo_out) begin
            // never granted: the access was not issued and will never land
            mem_drop[t]       = 1'b1;
            mem_done_o[t]     = 1'b1;
            cause_d[t*4 +: 4] = ats_pkg::FaultBusTimeout;
            st_d[t]    = ats_pkg::TRsp;
          end
        end

        ats_pkg::TMwt: begin
          if (!wr_q[t] && r_valid_i[t]) begin
            mem_done_o[t]  = 1'b1;
            st_d[t] = ats_pkg::TRsp;
            if (r_err_i) begin
              cause_d[t*4 +: 4] = ats_pkg::FaultBusData;
            end else begin
              rdata_d[t*64 +: 64] = r_data_i;
            end
          end else if (wr_q[t] && b_valid_i[t]) begin
            mem_done_o[t]  = 1'b1;
            st_d[t] = ats_pkg::TRsp;
            if (b_err_i) cause_d[t*4 +: 4] = ats_pkg::FaultBusData;
          end else if (tmo_out) begin
            cause_d[t*4 +: 4] = ats_pkg::FaultBusTimeout;
            st_d[t]    = ats_pkg::TRsp;
            orph_d[t]         = 1'b1;
            orph_wr_d[t]      = wr_q[t];
          end
        end

        ats_pkg::TPri: begin
          if (pr_fire && pr_sel == ThreadW'(t)) begin
            st_d[t]               = ats_pkg::TPwt;
            tmo_d[t*TmoW +: TmoW] = '0;
            rty_d[t*RtyW +: RtyW] = rty_q[t*RtyW +: RtyW] + 1'b1;
          end
        end

        ats_pkg::TPwt: begin
          if (prgr_valid_i && prgr_prgi_i == ats_pkg::PrgiW'(t)) begin
            if (prgr_code_i == ats_pkg::PrgSuccess) begin
              cause_d[t*4 +: 4] = ats_pkg::FaultNone;
              st_d[t]           = ats_pkg::TLkp;
            end else begin
              cause_d[t*4 +: 4] = (prgr_code_i == ats_pkg::PrgInvalid) ? ats_pkg::FaultPrgInvalid
                                                                       : ats_pkg::FaultPrgFailure;
              st_d[t]           = ats_pkg::TRsp;
            end
          end else if (tmo_q[t*TmoW +: TmoW] == TmoW'(PriTimeout - 1)) begin
            cause_d[t*4 +: 4] = ats_pkg::FaultPriTimeout;
            st_d[t]           = ats_pkg::TRsp;
          end else begin
            tmo_d[t*TmoW +: TmoW] = tmo_q[t*TmoW +: TmoW] + 1'b1;
          end
        end

        ats_pkg::TRsp: begin
          if (rsp_fire && rsp_sel == ThreadW'(t)) st_d[t] = ats_pkg::TIdle;
        end

        default: st_d[t] = ats_pkg::TIdle;
      endcase
    end

    for (int unsigned t = 0; t < NumThreads; t++) begin
      holds_xlat_o[t] = st_d[t] == ats_pkg::TMem || st_d[t] == ats_pkg::TMwt;
      if (orph_d[t]) holds_xlat_o[t] = 1'b1;  // a timed-out access may still land
      // the timer restarts with every state change and runs in the AXI wait states
      if (st_d[t] != st_q[t]) begin
        atmo_d[t*AtmW +: AtmW] = '0;
      end else if (st_q[t] == ats_pkg::TMem || st_q[t] == ats_pkg::TMwt ||
                   (st_q[t] == ats_pkg::TLkp && orph_q[t])) begin
        atmo_d[t*AtmW +: AtmW] = atmo_q[t*AtmW +: AtmW] + 1'b1;
      end else begin
        atmo_d[t*AtmW +: AtmW] = atmo_q[t*AtmW +: AtmW];
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      st_q   <= '0;
      orph_q <= '0;
    end else begin
      st_q   <= st_d;
      orph_q <= orph_d;
    end
  end

  always_ff @(posedge clk_i) begin
    wr_q    <= wr_d;
    pasid_q <= pasid_d;
    va_q    <= va_d;
    wdata_q <= wdata_d;
    ppn_q   <= ppn_d;
    hit_q   <= hit_d;
    cause_q <= cause_d;
    rdata_q <= rdata_d;
    tmo_q   <= tmo_d;
    rty_q   <= rty_d;
    atmo_q  <= atmo_d;
    orph_wr_q <= orph_wr_d;
  end

  // VA[63:48] only feed the canonical check
  logic unused_dma;
  assign unused_dma = ^{cmd_va_i[63:48]};

endmodule
