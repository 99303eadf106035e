// Device DMA thread contexts.
//
// NumThreads contexts, each with a command queue of Outstanding slots
// (NumSlots = NumThreads * Outstanding slots in all, slot s = thread *
// Outstanding + position). A thread takes a command into its next free slot
// (a ring: tail) while one is free, and answers its slots in command order
// (head), so responses stay in order per thread while the slots behind the
// head are looked up, walked and performed meanwhile (hit under miss, miss
// under miss). With Outstanding = 1 this is one command per thread, as before.
//
// A slot is what a thread was before: a command is checked (8-byte
// alignment first, then canonical VA), looked up in the ATC (round robin
// over slots, one lookup per cycle; the result comes the next cycle,
// lkp_rvalid_i, and meanwhile the slot is not offered again; a killed lookup
// gives no result and the slot is offered again). The ATC, its Translation
// Request trackers and the invalidation drain see slots (their "threads"
// are slots). The lookup request is registered: the arbiter picks, from the
// slots' next states, the slot that looks up in the next cycle, so the ATC
// compare starts from flip-flops. Translated by a walk on a miss, performed
// at the AXI port and answered. Responses leave round robin across threads
// (each thread offers its head slot); a response is held stable until
// accepted.
//
// Memory accesses of a thread share its AXI ID {1, thread}. AXI keeps the
// responses of one ID in order per channel (R among reads, B among writes),
// not between R and B, so a thread issues (one request per thread per cycle,
// the oldest slot that may go):
//   - a read when no older slot of the thread has a write still to issue and
//     no write of the thread is in flight (reads may pass older reads that
//     still translate);
//   - a write when every older slot has issued its access and no read of the
//     thread is in flight (writes in command order, after the reads before them).
// So a thread's accesses in flight are all reads or all writes, and a FIFO of
// slot positions in grant order (ifo_*) names the slot each R/B answers.
//
// Page requests (PCIe PRI, pri_en_i set): a walk that ends in NOT_PRESENT or
// WRITE_PROTECT sends a Page Request (one request per group: PRG index = the
// slot, last = 1) and the slot waits for its PRG Response. Success
// sends the slot back to the ATC lookup (a new walk); Invalid Request and
// Response Failure end the command with a fault. A request unanswered for
// PriTimeout cycles ends in FaultPriTimeout; a walk that still faults after
// PriRetries Success responses ends in FaultLivelock (no forward progress).
// With pri_en_i clear a translation fault is answered at once, as before.
//
// Response timeout (docs/ARCHITECTURE.md 2): a slot waits at most
// AxiTimeout cycles in ats_pkg::TMem (for the AXI port, including the wait
// for its turn on the thread's ID) and then in ats_pkg::TMwt (for R/B);
// then the command ends in FaultBusTimeout (PA 0, rdata 0). A request
// withdrawn before its grant was never issued: mem_done_o pulses (it can no
// longer land, so no drain waits for it). An issued access cannot be
// cancelled: the slot is orphaned (orph_q) until the late response arrives
// and is dropped (it keeps its place in the thread's in-flight FIFO).
// Meanwhile holds_xlat_o stays set (the access may still land
// in memory with its translation, so an Invalidate Completion waits for it)
// and the slot issues nothing: a new command in it waits in ats_pkg::TLkp
// before its ATC lookup, at most AxiTimeout cycles, then ends in
// FaultBusTimeout. So a slot never holds two translations for the drain to
// tell apart.
//
// Drain (holds_xlat_o, sampled by inv.sv when an Invalidate Request is
// accepted): DrainExact = 0 reports every slot holding a translation whose
// access is not answered; DrainExact = 1 only those whose translation (the
// slot's PASID and page at the translation's size: the ATC entry hit,
// lkp_size_i, or the Translation Completion, xres_size_i) overlaps the
// invalidation applied this cycle (ap_*_i), so the completion waits exactly
// for the accesses that used a matching translation.

module dma #(
  parameter int unsigned NumThreads  = 4,
  parameter int unsigned Outstanding = 1,     // command slots per thread (accesses in flight per thread)
  parameter int unsigned PaWidth     = 48,
  parameter int unsigned ThreadW     = 2,
  parameter int unsigned SlotW       = 2,     // at least $clog2(NumThreads * Outstanding)
  parameter int unsigned PriTimeout  = 4096,  // cycles a Page Request may stay unanswered
  parameter int unsigned PriRetries  = 4,     // Page Requests per command at most
  parameter int unsigned AxiTimeout  = 4096,  // cycles per AXI wait (port, then R/B) before FaultBusTimeout (>= 1)
  parameter bit          DrainExact  = 1'b0,  // 1: report only translations overlapping the invalidation
  localparam int unsigned NumSlots   = NumThreads * Outstanding
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
  // ATC lookup (per slot)
  output logic                          lkp_valid_o,
  output logic [SlotW-1:0]              lkp_thread_o,
  output logic [ats_pkg::PasidW-1:0]    lkp_pasid_o,
  output logic [35:0]                   lkp_vpn_o,
  output logic                          lkp_write_o,
  input  logic                          lkp_rvalid_i,    // lookup result (the cycle after the lookup)
  input  logic [SlotW-1:0]              lkp_rthread_i,
  input  logic                          lkp_hit_i,
  input  logic [PaWidth-13:0]           lkp_ppn_i,
  input  logic [1:0]                    lkp_size_i,      // page size of the entry hit
  // translation result of a miss
  input  logic                          xres_valid_i,
  input  logic [SlotW-1:0]              xres_thread_i,
  input  logic [3:0]                    xres_cause_i,
  input  logic [PaWidth-13:0]           xres_ppn_i,
  input  logic [1:0]                    xres_size_i,     // page size of the Translation Completion
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
  // memory accesses (per thread: AXI ID {1, thread})
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
  // invalidation applied this cycle (DrainExact)
  input  logic                          ap_all_i,
  input  logic [ats_pkg::PasidW-1:0]    ap_pasid_i,
  input  logic [51:0]                   ap_addr_i,
  input  logic [51:0]                   ap_keep_i,
  // drain tracking for invalidations (per slot)
  output logic [NumSlots-1:0]           holds_xlat_o,    // next cycle: has a translation, access not answered
  output logic [NumSlots-1:0]           mem_done_o       // AXI response of the slot's access this cycle
);

  localparam int unsigned PpnW   = PaWidth - 12;
  localparam int unsigned PasidW = ats_pkg::PasidW;
  localparam int unsigned QW     = (Outstanding > 1) ? $clog2(Outstanding) : 1;  // slot position
  localparam int unsigned CW     = $clog2(Outstanding + 1);                       // slots counted

  localparam int unsigned TmoW = $clog2(PriTimeout + 1);
  localparam int unsigned RtyW = $clog2(PriRetries + 1);
  localparam int unsigned AtmW = $clog2(AxiTimeout + 1);

  ats_pkg::dma_st_e [NumSlots-1:0] st_q, st_d;
  logic [NumSlots-1:0]        wr_q, wr_d;
  logic [NumSlots*PasidW-1:0] pasid_q, pasid_d;
  logic [NumSlots*48-1:0]     va_q, va_d;       // VA[47:0] (canonical once looked up)
  logic [NumSlots*64-1:0]     wdata_q, wdata_d;
  logic [NumSlots*PpnW-1:0]   ppn_q, ppn_d;
  logic [NumSlots*2-1:0]      tsize_q, tsize_d; // page size of the translation obtained
  logic [NumSlots-1:0]        hit_q, hit_d;
  logic [NumSlots*4-1:0]      cause_q, cause_d;
  logic [NumSlots*64-1:0]     rdata_q, rdata_d;
  logic [NumSlots*TmoW-1:0]   tmo_q, tmo_d;     // cycles waited for the PRG Response
  logic [NumSlots*RtyW-1:0]   rty_q, rty_d;     // Page Requests sent for this command
  logic [NumSlots*AtmW-1:0]   atmo_q, atmo_d;   // cycles spent in the current AXI wait state
  logic [NumSlots-1:0]        orph_q, orph_d;   // a timed-out access's R/B is still to come
  logic [NumSlots-1:0]        orph_wr_q, orph_wr_d;  // ... on B (write), else on R
  // the translation of that access (DrainExact): PASID, VPN, size
  logic [NumSlots*PasidW-1:0] opasid_q, opasid_d;
  logic [NumSlots*36-1:0]     ovpn_q, ovpn_d;
  logic [NumSlots*2-1:0]      osize_q, osize_d;
  logic [NumSlots-1:0]        mem_drop;         // access request withdrawn ungranted (timeout)
  // per slot memory interface (the thread's port is given to one slot per cycle)
  logic [NumSlots-1:0]        srd_req, swr_req, sgnt, sr_valid, sb_valid;
  logic [NumSlots*PaWidth-1:0] saddr;
  // per thread: command ring and in-flight FIFO (slot positions in grant order)
  logic [NumThreads*QW-1:0]   head_q, head_d, tail_q, tail_d;
  logic [NumThreads*Outstanding*QW-1:0] ifo_q, ifo_d;
  logic [NumThreads*QW-1:0]   ifo_rp_q, ifo_rp_d, ifo_wp_q, ifo_wp_d;
  logic [NumThreads*CW-1:0]   ifo_cnt_q, ifo_cnt_d;
  logic [NumThreads-1:0]      ifo_wr_q, ifo_wr_d;  // the accesses in flight are writes
  // the lookup of this cycle (L0), chosen and registered in the cycle before
  logic                       lq_valid_q;
  logic [SlotW-1:0]           lq_thread_q;
  logic [PasidW-1:0]          lq_pasid_q;
  logic [35:0]                lq_vpn_q;
  logic                       lq_write_q;

  // position + 1 in the ring
  function automatic logic [QW-1:0] ring_inc(input logic [QW-1:0] p);
    ring_inc = (32'(p) == Outstanding - 1) ? '0 : p + 1'b1;
  endfunction

  // ---------------------------------------------------------------------------
  // command acceptance: into the thread's tail slot
  // ---------------------------------------------------------------------------
  logic             cmd_fire;
  logic [3:0]       cmd_cause;
  logic [SlotW-1:0] cmd_slot;

  always_comb begin
    cmd_ready_o = 1'b0;
    cmd_slot    = '0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (cmd_thread_i == ThreadW'(t)) cmd_slot = SlotW'(t * Outstanding + 32'(tail_q[t*QW +: QW]));
    end
    for (int unsigned t = 0; t < NumSlots; t++) begin
      if (cmd_slot == SlotW'(t)) cmd_ready_o = st_q[t] == ats_pkg::TIdle;
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
  // per-slot requests: ATC lookup, response, memory access
  // ---------------------------------------------------------------------------
  logic [NumSlots-1:0]   lkp_req, pr_req;
  logic [NumThreads-1:0] rsp_req;

  always_comb begin
    for (int unsigned t = 0; t < NumSlots; t++) begin
      pr_req[t]   = st_q[t] == ats_pkg::TPri;
      srd_req[t]  = st_q[t] == ats_pkg::TMem && !wr_q[t];
      swr_req[t]  = st_q[t] == ats_pkg::TMem && wr_q[t];
      saddr[t*PaWidth +: PaWidth] = {ppn_q[t*PpnW +: PpnW], va_q[t*48 +: 12]};
    end
    // a thread offers the response of its head slot
    for (int unsigned h = 0; h < NumThreads; h++) begin
      rsp_req[h] = 1'b0;
      for (int unsigned i = 0; i < Outstanding; i++) begin
        if (head_q[h*QW +: QW] == QW'(i)) rsp_req[h] = st_q[h * Outstanding + i] == ats_pkg::TRsp;
      end
    end
  end

  // ---------------------------------------------------------------------------
  // memory port per thread: the oldest slot that may issue (see the header)
  // ---------------------------------------------------------------------------
  logic [NumThreads*QW-1:0] isel;
  logic [NumThreads-1:0]    isel_any;
  logic [NumSlots-1:0]      spend;  // the slot's access is still to issue (or it may still get one)

  always_comb begin
    for (int unsigned t = 0; t < NumSlots; t++) begin
      spend[t] = st_q[t] == ats_pkg::TLkp || st_q[t] == ats_pkg::TXlat || st_q[t] == ats_pkg::TPri ||
                 st_q[t] == ats_pkg::TPwt || st_q[t] == ats_pkg::TMem;
    end
  end

  always_comb begin
    for (int unsigned h = 0; h < NumThreads; h++) begin
      logic blk_rd, blk_wr, ifl_rd, ifl_wr;
      logic [QW-1:0] p;
      isel_any[h]         = 1'b0;
      isel[h*QW +: QW]    = '0;
      blk_rd              = 1'b0;   // an older slot has a write still to issue
      blk_wr              = 1'b0;   // an older slot has an access still to issue
      ifl_rd              = ifo_cnt_q[h*CW +: CW] != '0 && !ifo_wr_q[h];
      ifl_wr              = ifo_cnt_q[h*CW +: CW] != '0 && ifo_wr_q[h];
      p                   = head_q[h*QW +: QW];
      for (int unsigned k = 0; k < Outstanding; k++) begin
        for (int unsigned i = 0; i < Outstanding; i++) begin
          if (p == QW'(i)) begin
            if (!isel_any[h] && ((srd_req[h * Outstanding + i] && !blk_rd && !ifl_wr) ||
                                 (swr_req[h * Outstanding + i] && !blk_wr && !ifl_rd))) begin
              isel_any[h]      = 1'b1;
              isel[h*QW +: QW] = QW'(i);
            end
            if (spend[h * Outstanding + i]) blk_wr = 1'b1;
            if (spend[h * Outstanding + i] && wr_q[h * Outstanding + i]) blk_rd = 1'b1;
          end
        end
        p = ring_inc(p);
      end
    end
  end

  // an R (B) on the thread's ID while its accesses in flight are reads
  // (writes); any other is named by no access and dropped
  logic [NumThreads-1:0] r_own, b_own;
  always_comb begin
    for (int unsigned h = 0; h < NumThreads; h++) begin
      r_own[h] = r_valid_i[h] && ifo_cnt_q[h*CW +: CW] != '0 && !ifo_wr_q[h];
      b_own[h] = b_valid_i[h] && ifo_cnt_q[h*CW +: CW] != '0 && ifo_wr_q[h];
    end
  end

  always_comb begin
    for (int unsigned h = 0; h < NumThreads; h++) begin
      rd_req_o[h] = 1'b0;
      wr_req_o[h] = 1'b0;
      mem_addr_o[h*PaWidth +: PaWidth] = '0;
      mem_wdata_o[h*64 +: 64] = '0;
      for (int unsigned i = 0; i < Outstanding; i++) begin
        sgnt[h * Outstanding + i]     = 1'b0;
        sr_valid[h * Outstanding + i] = 1'b0;
        sb_valid[h * Outstanding + i] = 1'b0;
        if (isel[h*QW +: QW] == QW'(i)) begin
          rd_req_o[h] = isel_any[h] && srd_req[h * Outstanding + i];
          wr_req_o[h] = isel_any[h] && swr_req[h * Outstanding + i];
          mem_addr_o[h*PaWidth +: PaWidth] = saddr[(h * Outstanding + i)*PaWidth +: PaWidth];
          mem_wdata_o[h*64 +: 64] = wdata_q[(h * Outstanding + i)*64 +: 64];
          sgnt[h * Outstanding + i] = isel_any[h] && mem_gnt_i[h];
        end
        // R/B answer the oldest access in flight
        for (int unsigned k = 0; k < Outstanding; k++) begin
          if (ifo_rp_q[h*QW +: QW] == QW'(k) && ifo_q[(h * Outstanding + k)*QW +: QW] == QW'(i)) begin
            sr_valid[h * Outstanding + i] = r_own[h];
            sb_valid[h * Outstanding + i] = b_own[h];
          end
        end
      end
    end
  end

  always_comb begin
    ifo_d     = ifo_q;
    ifo_rp_d  = ifo_rp_q;
    ifo_wp_d  = ifo_wp_q;
    ifo_cnt_d = ifo_cnt_q;
    ifo_wr_d  = ifo_wr_q;
    for (int unsigned h = 0; h < NumThreads; h++) begin
      logic push, pop;
      push = isel_any[h] && mem_gnt_i[h];
      pop  = r_own[h] || b_own[h];
      if (push) begin
        for (int unsigned k = 0; k < Outstanding; k++) begin
          if (ifo_wp_q[h*QW +: QW] == QW'(k)) ifo_d[(h * Outstanding + k)*QW +: QW] = isel[h*QW +: QW];
        end
        ifo_wp_d[h*QW +: QW] = ring_inc(ifo_wp_q[h*QW +: QW]);
        ifo_wr_d[h]          = wr_req_o[h];
      end
      if (pop) ifo_rp_d[h*QW +: QW] = ring_inc(ifo_rp_q[h*QW +: QW]);
      if (push && !pop) ifo_cnt_d[h*CW +: CW] = ifo_cnt_q[h*CW +: CW] + 1'b1;
      if (!push && pop) ifo_cnt_d[h*CW +: CW] = ifo_cnt_q[h*CW +: CW] - 1'b1;
    end
  end

  // ---------------------------------------------------------------------------
  // ATC lookup: round robin over slots in ats_pkg::TLkp (a lookup is always
  // accepted), chosen one cycle ahead from the next state: a slot that will be
  // in TLkp (st_d == TLkp, see to_lkp), not waiting for a late AXI response, and not looking up now (its
  // result comes next cycle)
  // ---------------------------------------------------------------------------
  // The transitions into (or staying in) TLkp, spelled out rather than read
  // from st_d: a translation result never leads to TLkp, so it stays off this path.
  logic [NumSlots-1:0] to_lkp;
  always_comb begin
    for (int unsigned t = 0; t < NumSlots; t++) begin
      case (st_q[t])
        ats_pkg::TIdle: to_lkp[t] = cmd_fire && cmd_slot == SlotW'(t) && cmd_cause == ats_pkg::FaultNone;
        ats_pkg::TLkp:  to_lkp[t] = !(orph_q[t] && atmo_q[t*AtmW +: AtmW] == AtmW'(AxiTimeout - 1)) &&
                                    !(lkp_rvalid_i && lkp_rthread_i == SlotW'(t));
        ats_pkg::TPwt:  to_lkp[t] = prgr_valid_i && prgr_prgi_i == ats_pkg::PrgiW'(t) &&
                                    prgr_code_i == ats_pkg::PrgSuccess;
        default:        to_lkp[t] = 1'b0;
      endcase
      lkp_req[t] = to_lkp[t] && !orph_d[t] && !(lq_valid_q && lq_thread_q == SlotW'(t));
    end
  end

  logic             lkp_any;
  logic [SlotW-1:0] lkp_sel;

  rr_arb #(
    .N   (NumSlots),
    .Lock(1'b0),
    .IdxW(SlotW)
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
    for (int unsigned t = 0; t < NumSlots; t++) begin
      if (lkp_sel == SlotW'(t)) begin
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
  // responses: round robin over threads (each offers its head slot), held
  // stable until accepted
  // ---------------------------------------------------------------------------
  logic               rsp_any;
  logic [ThreadW-1:0] rsp_sel;
  logic               rsp_fire;
  logic [SlotW-1:0]   rsp_slot;

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
    rsp_slot = '0;
    for (int unsigned h = 0; h < NumThreads; h++) begin
      if (rsp_sel == ThreadW'(h)) rsp_slot = SlotW'(h * Outstanding + 32'(head_q[h*QW +: QW]));
    end
  end

  always_comb begin
    rsp_cause     = '0;
    rsp_rdata_o   = '0;
    rsp_pa        = '0;
    rsp_atc_hit_o = 1'b0;
    for (int unsigned t = 0; t < NumSlots; t++) begin
      if (rsp_slot == SlotW'(t)) begin
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

  // command ring pointers
  always_comb begin
    head_d = head_q;
    tail_d = tail_q;
    for (int unsigned h = 0; h < NumThreads; h++) begin
      if (cmd_fire && cmd_thread_i == ThreadW'(h)) tail_d[h*QW +: QW] = ring_inc(tail_q[h*QW +: QW]);
      if (rsp_fire && rsp_sel == ThreadW'(h)) head_d[h*QW +: QW] = ring_inc(head_q[h*QW +: QW]);
    end
  end

  // ---------------------------------------------------------------------------
  // Page Requests: round robin over slots, held stable until accepted
  // ---------------------------------------------------------------------------
  logic             pr_any;
  logic [SlotW-1:0] pr_sel;
  logic             pr_fire;

  rr_arb #(
    .N   (NumSlots),
    .IdxW(SlotW)
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
    for (int unsigned t = 0; t < NumSlots; t++) begin
      if (pr_sel == SlotW'(t)) begin
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
  // drain match (DrainExact): the translation a slot holds next cycle, or its
  // timed-out access's, overlaps the invalidation applied this cycle
  // ---------------------------------------------------------------------------
  logic [NumSlots-1:0] xlat_match;
  always_comb begin
    for (int unsigned t = 0; t < NumSlots; t++) begin
      logic [PasidW-1:0] mp;
      logic [35:0]       mv;
      logic [1:0]        ms;
      mp = orph_q[t] ? opasid_q[t*PasidW +: PasidW] : pasid_q[t*PasidW +: PasidW];
      mv = orph_q[t] ? ovpn_q[t*36 +: 36] : va_q[t*48 + 12 +: 36];
      ms = orph_q[t] ? osize_q[t*2 +: 2] : tsize_d[t*2 +: 2];
      xlat_match[t] = (ap_all_i || mp == ap_pasid_i) &&
                      ats_pkg::range_overlap(ap_addr_i, ap_keep_i, ats_pkg::sext_vpn(mv), ats_pkg::size_keep(ms));
    end
  end

  // ---------------------------------------------------------------------------
  // slot FSMs
  // ---------------------------------------------------------------------------
  always_comb begin
    st_d    = st_q;
    wr_d    = wr_q;
    pasid_d = pasid_q;
    va_d    = va_q;
    wdata_d = wdata_q;
    ppn_d   = ppn_q;
    tsize_d = tsize_q;
    hit_d   = hit_q;
    cause_d = cause_q;
    rdata_d = rdata_q;
    tmo_d   = tmo_q;
    rty_d   = rty_q;
    orph_wr_d = orph_wr_q;
    opasid_d  = opasid_q;
    ovpn_d    = ovpn_q;
    osize_d   = osize_q;

    for (int unsigned t = 0; t < NumSlots; t++) begin
      logic tmo_out;  // this AXI wait has lasted AxiTimeout cycles
      tmo_out       = atmo_q[t*AtmW +: AtmW] == AtmW'(AxiTimeout - 1);
      mem_drop[t]   = 1'b0;
      // the late response of a timed-out access is dropped here (it ends
      // that access's drain; nothing else is issued by the slot meanwhile)
      mem_done_o[t] = orph_q[t] && (orph_wr_q[t] ? sb_valid[t] : sr_valid[t]);
      orph_d[t]     = orph_q[t] && !mem_done_o[t];
      case (st_q[t])
        ats_pkg::TIdle: begin
          if (cmd_fire && cmd_slot == SlotW'(t)) begin
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
            // the previous command's access never answered: the slot is not free
            cause_d[t*4 +: 4] = ats_pkg::FaultBusTimeout;
            st_d[t]    = ats_pkg::TRsp;
          end else if (lkp_rvalid_i && lkp_rthread_i == SlotW'(t)) begin
            if (lkp_hit_i) begin
              st_d[t]               = ats_pkg::TMem;
              ppn_d[t*PpnW +: PpnW] = lkp_ppn_i;
              tsize_d[t*2 +: 2]     = lkp_size_i;
              hit_d[t]              = 1'b1;
            end else begin
              st_d[t] = ats_pkg::TXlat;
            end
          end
        end

        ats_pkg::TXlat: begin
          if (xres_valid_i && xres_thread_i == SlotW'(t)) begin
            cause_d[t*4 +: 4] = xres_cause_i;
            if (xres_cause_i == ats_pkg::FaultNone) begin
              st_d[t]               = ats_pkg::TMem;
              ppn_d[t*PpnW +: PpnW] = xres_ppn_i;
              tsize_d[t*2 +: 2]     = xres_size_i;
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
          if (sgnt[t]) st_d[t] = ats_pkg::TMwt;
          else if (tmo_out) begin
            // never granted: the access was not issued and will never land
            mem_drop[t]       = 1'b1;
            mem_done_o[t]     = 1'b1;
            cause_d[t*4 +: 4] = ats_pkg::FaultBusTimeout;
            st_d[t]    = ats_pkg::TRsp;
          end
        end

        ats_pkg::TMwt: begin
          if (!wr_q[t] && sr_valid[t]) begin
            mem_done_o[t]  = 1'b1;
            st_d[t] = ats_pkg::TRsp;
            if (r_err_i) begin
              cause_d[t*4 +: 4] = ats_pkg::FaultBusData;
            end else begin
              rdata_d[t*64 +: 64] = r_data_i;
            end
          end else if (wr_q[t] && sb_valid[t]) begin
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
          if (pr_fire && pr_sel == SlotW'(t)) begin
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
          if (rsp_fire && rsp_slot == SlotW'(t)) st_d[t] = ats_pkg::TIdle;
        end

        default: st_d[t] = ats_pkg::TIdle;
      endcase
      // the translation of a timed-out access, kept while it is orphaned
      if (!orph_q[t]) begin
        opasid_d[t*PasidW +: PasidW] = pasid_q[t*PasidW +: PasidW];
        ovpn_d[t*36 +: 36]           = va_q[t*48 + 12 +: 36];
        osize_d[t*2 +: 2]            = tsize_q[t*2 +: 2];
      end
    end

    for (int unsigned t = 0; t < NumSlots; t++) begin
      holds_xlat_o[t] = st_d[t] == ats_pkg::TMem || st_d[t] == ats_pkg::TMwt;
      if (orph_d[t]) holds_xlat_o[t] = 1'b1;  // a timed-out access may still land
      // exact drain: only a translation that overlaps this cycle's invalidation
      if (DrainExact && !xlat_match[t]) holds_xlat_o[t] = 1'b0;
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
      st_q      <= '0;
      orph_q    <= '0;
      head_q    <= '0;
      tail_q    <= '0;
      ifo_rp_q  <= '0;
      ifo_wp_q  <= '0;
      ifo_cnt_q <= '0;
      ifo_q     <= '0;
    end else begin
      st_q      <= st_d;
      orph_q    <= orph_d;
      head_q    <= head_d;
      tail_q    <= tail_d;
      ifo_rp_q  <= ifo_rp_d;
      ifo_wp_q  <= ifo_wp_d;
      ifo_cnt_q <= ifo_cnt_d;
      ifo_q     <= ifo_d;
    end
  end

  always_ff @(posedge clk_i) begin
    wr_q    <= wr_d;
    pasid_q <= pasid_d;
    va_q    <= va_d;
    wdata_q <= wdata_d;
    ppn_q   <= ppn_d;
    tsize_q <= tsize_d;
    hit_q   <= hit_d;
    cause_q <= cause_d;
    rdata_q <= rdata_d;
    tmo_q   <= tmo_d;
    rty_q   <= rty_d;
    atmo_q  <= atmo_d;
    orph_wr_q <= orph_wr_d;
    opasid_q  <= opasid_d;
    ovpn_q    <= ovpn_d;
    osize_q   <= osize_d;
    ifo_wr_q  <= ifo_wr_d;
  end

  // VA[63:48] only feed the canonical check
  logic unused_dma;
  assign unused_dma = ^{cmd_va_i[63:48]};

endmodule
