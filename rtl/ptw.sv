// x86-64 4-level page walker with an optional page-walk cache (PWC).
//
// Translation Request in (id, pasid, vpn = VA[63:12], write), Translation
// Completion out (id, cause, ppn of the page base, size, writable). NumWalks
// walk slots run independently; slot s issues its reads with AXI ID {0, s}.
//
// A walk reads the PASID table entry, then PML4E, PDPTE, PDE, PTE (PS stops
// early for 1 GiB / 2 MiB). Checks per entry in the order P, reserved, US,
// RW (write only); the first failing entry decides. The PWC holds non-leaf
// entries that passed all checks with RW=1 on the whole path; a walk starts
// below the deepest PWC hit.
//
// Supervisor entries (pwc_keep_sup_i): clear (the default), a non-leaf entry
// with U/S clear faults FaultSupervisor at once and is never cached. Set, the
// walker behaves as an IOMMU paging-structure cache may: a non-leaf entry
// with U/S clear does not fault, goes on down the walk and is cached like any
// other, with the U/S of its path (`usr`: U/S set on every entry so far); the
// permission is decided at the leaf, which faults FaultSupervisor if its own
// U/S or any entry above it (read or taken from the PWC) had U/S clear. A
// user walk of a kernel address then still faults, but its upper entries
// stay in the PWC (docs/HISTORY.md, the CVE-2025-71202 row). pwc_flush_i clears the PWC and marks every walk
// in flight `invalidated` (Rocket): such a walk never fills the PWC.
//
// Accessed and dirty bits (x86): every paging-structure entry the walk uses
// (PML4E, PDPTE, PDE, PTE) gets A, the leaf of a write walk gets D. Entry
// reads are AXI exclusive (ARLOCK). An entry that passes its checks and
// lacks a bit is written back with the bit set by an exclusive write of the
// same ID and address (AWLOCK, data = the value read | A | D). EXOKAY: the
// memory's monitor saw no store to the entry since the read, so the value
// the walk translates through is exactly the one updated; the walk goes on.
// OKAY: the reservation was lost (another agent stored to the entry); the
// entry is read again and decided afresh (a changed entry may now fault;
// bits are only ever set into the value the walk goes on with). After
// AdRetries lost reservations in one walk, or when the exclusive read is
// answered OKAY (no exclusive monitor: an update could not be atomic), the
// walk faults with FaultAdUpdate; SLVERR/DECERR on the read or the write
// fault with FaultBusWalk. The completion's writable bit is RW on every
// level and D in the leaf (read as set, or set by this write walk), so the
// ATC never lets a write use a translation whose PTE is not dirty: such a
// write misses and walks again as a write (atc.sv).
//
// Response timeout (docs/ARCHITECTURE.md 2): a slot waits at most AxiTimeout
// cycles in each of ats_pkg::WRead/ats_pkg::WWrite (for the AXI port) and ats_pkg::WWait/ats_pkg::WBack (for R/B);
// then the walk completes with FaultBusTimeout. A request withdrawn before its
// grant was never issued. An issued one cannot be cancelled: the slot is
// marked orphaned (orph_r_q / orph_b_q) until the late response arrives and
// is dropped. An orphaned slot issues nothing on its AXI ID meanwhile, so a
// late response can never be taken as the answer to a newer request; a walk
// given to it (only when no clean slot is idle) waits in ats_pkg::WRead, bounded by
// the same timeout.
//
// Forward progress (docs/ARCHITECTURE.md, "Walk forward progress"): the ATC
// sends a Translation Request again, with the same ID, when an overlapping
// invalidation raced it (poison), so a stream of such invalidations could
// restart one walk for ever. The walker counts, per ID, the completions in a
// row that an invalidation was accepted against (from the request's
// acceptance cycle to the completion's delivery cycle, both included: the
// ATC's poison window; any invalidation counts, a superset of the ATC's
// overlap test). A request of an ID with WalkMaxRetries such completions is
// "armed": offered with a slot free, it raises the hold (inv_hold_o, a
// register: inv.sv accepts no new Invalidate Request) and is taken only once
// the hold is up, one cycle later, and no invalidation is applied in that
// cycle (inv.sv applies a request the cycle after its acceptance, so one
// accepted just before the hold rose lands in the hold's first cycle: the
// walk is then taken a cycle later); the hold stays up until its completion
// is delivered. No invalidation is accepted in that walk's window, so its result
// is neither poisoned nor stale, and the ATC uses it. Invalidations accepted
// before the hold keep their effect: the walks they raced stay poisoned and
// are sent again; only the armed walk, which starts under the hold, is
// protected. Accepted requests are still completed during the hold, and the
// armed walk needs no invalidation to finish, so the hold lasts one walk.

module ptw #(
  parameter int unsigned NumWalks   = 2,
  parameter int unsigned PwcEntries = 8,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned IdW        = 3,
  parameter int unsigned AdRetries  = 4,  // lost reservations per walk before FaultAdUpdate (>= 1)
  parameter int unsigned AxiTimeout = 4096,  // cycles per AXI wait (port, then R/B) before FaultBusTimeout (>= 1)
  // raced completions in a row per ID before its next walk runs under the invalidation hold (0: never hold)
  parameter int unsigned WalkMaxRetries = 4
) (
  input  logic                        clk_i,
  input  logic                        rst_ni,
  input  logic [PaWidth-1:0]          pasid_tbl_base_i,
  // Translation Request
  input  logic                        xreq_valid_i,
  output logic                        xreq_ready_o,
  input  logic [IdW-1:0]              xreq_id_i,
  input  logic [ats_pkg::PasidW-1:0]  xreq_pasid_i,
  input  logic [51:0]                 xreq_vpn_i,
  input  logic                        xreq_write_i,
  // Translation Completion
  output logic                        xcpl_valid_o,
  input  logic                        xcpl_ready_i,
  output logic [IdW-1:0]              xcpl_id_o,
  output logic [3:0]                  xcpl_cause_o,
  output logic [PaWidth-13:0]         xcpl_ppn_o,
  output logic [1:0]                  xcpl_size_o,
  output logic                        xcpl_writable_o,
  // PWC flush (every invalidation)
  input  logic                        pwc_flush_i,
  // 1: non-leaf entries with U/S clear are walked through and cached; U/S is decided at the leaf
  input  logic                        pwc_keep_sup_i,
  // forward progress: 1 = inv.sv accepts no new Invalidate Request (an armed walk runs)
  output logic                        inv_hold_o,
  // memory reads: one request line per walk slot
  output logic [NumWalks-1:0]         ar_req_o,
  output logic [NumWalks*PaWidth-1:0] ar_addr_o,   // entry address, also of the A/D write
  output logic [NumWalks-1:0]         ar_lock_o,   // exclusive read (paging-structure entry)
  input  logic [NumWalks-1:0]         ar_gnt_i,
  input  logic [NumWalks-1:0]         r_valid_i,
  input  logic [63:0]                 r_data_i,
  input  logic                        r_err_i,
  input  logic                        r_exok_i,    // RRESP EXOKAY
  // A/D updates: exclusive write of the entry at ar_addr_o
  output logic [NumWalks-1:0]         aw_req_o,
  output logic [NumWalks*64-1:0]      aw_data_o,
  input  logic [NumWalks-1:0]         aw_gnt_i,
  input  logic [NumWalks-1:0]         b_valid_i,
  input  logic                        b_err_i,
  input  logic                        b_exok_i     // BRESP EXOKAY
);

  localparam int unsigned CVpnW  = ats_pkg::CVpnW;
  localparam int unsigned PasidW = ats_pkg::PasidW;
  localparam int unsigned PpnW   = PaWidth - 12;
  localparam int unsigned SlotW  = (NumWalks > 1) ? $clog2(NumWalks) : 1;
  // bits [51:PaWidth] are reserved in every paging entry
  localparam logic [63:0] HiRsvd = ((64'd1 << 52) - 64'd1) & ~((64'd1 << PaWidth) - 64'd1);

  localparam int unsigned RtyW  = $clog2(AdRetries + 1);
  localparam int unsigned TmoW  = $clog2(AxiTimeout + 1);


  // ---------------------------------------------------------------------------
  // walk slot state (flat vectors, slot s at [s*W +: W])
  // ---------------------------------------------------------------------------
  ats_pkg::walk_st_e [NumWalks-1:0] st_q, st_d;
  logic [NumWalks*IdW-1:0]   id_q, id_d;
  logic [NumWalks*PasidW-1:0]    pasid_q, pasid_d;
  logic [NumWalks*CVpnW-1:0] vpn_q, vpn_d;
  logic [NumWalks-1:0]       wr_q, wr_d;
  logic [NumWalks*3-1:0]     lvl_q, lvl_d;    // 0 PASID entry, 1 PML4E .. 4 PTE
  logic [NumWalks*PpnW-1:0]  base_q, base_d;  // table to read at lvl (lvl >= 1)
  logic [NumWalks-1:0]       inval_q, inval_d;
  logic [NumWalks*4-1:0]     cause_q, cause_d;
  logic [NumWalks*PpnW-1:0]  ppn_q, ppn_d;
  logic [NumWalks*2-1:0]     size_q, size_d;
  logic [NumWalks-1:0]       wrbl_q, wrbl_d;  // RW over the levels read so far
  logic [NumWalks-1:0]       usr_q, usr_d;    // U/S over the levels so far (clear only with pwc_keep_sup_i)
  logic [NumWalks*64-1:0]    ent_q, ent_d;    // entry value with A/D set, being written
  logic [NumWalks*RtyW-1:0]  rty_q, rty_d;    // lost reservations in this walk
  logic [NumWalks*TmoW-1:0]  tmo_q, tmo_d;    // cycles spent in the current AXI wait state
  logic [NumWalks-1:0]       orph_r_q, orph_r_d;  // a timed-out read's R is still to come
  logic [NumWalks-1:0]       orph_b_q, orph_b_d;  // a timed-out A/D write's B is still to come

  // PWC lookup (for the incoming request) and fill
  logic            pwc_hit;
  logic [1:0]      pwc_hit_lvl;
  logic [PpnW-1:0] pwc_hit_base;
  logic            pwc_hit_usr;
  logic            pwc_ins;
  logic [NumWalks-1:0] pwc_ins_by;  // slots that fill the PWC this cycle (the last one's entry is taken)
  logic [1:0]      pwc_ins_lvl;
  logic [PasidW-1:0] pwc_ins_pasid;
  logic [26:0]     pwc_ins_tag;
  logic [PpnW-1:0] pwc_ins_base;
  logic            pwc_ins_usr;

  // completion arbitration (held stable while not accepted)
  logic [NumWalks-1:0] cpl_req;
  logic [SlotW-1:0]    cpl_sel;
  logic                cpl_any;

  // request allocation
  logic             alloc_any;
  logic             arm_wait;   // an armed request is offered before the invalidation hold is up
  logic [SlotW-1:0] alloc_sel;

  // ---------------------------------------------------------------------------
  // read addresses
  // ---------------------------------------------------------------------------
  always_comb begin
    for (int unsigned s = 0; s < NumWalks; s++) begin
      logic [2:0]       lvl;
      logic [CVpnW-1:0] vpn;
      logic [8:0]       idx;
      lvl = lvl_q[s*3 +: 3];
      vpn = vpn_q[s*CVpnW +: CVpnW];
      case (lvl)
        3'd1:    idx = vpn[35:27];
        3'd2:    idx = vpn[26:18];
        3'd3:    idx = vpn[17:9];
        default: idx = vpn[8:0];
      endcase
      if (lvl == 3'd0) begin
        ar_addr_o[s*PaWidth +: PaWidth] = pasid_tbl_base_i +
                                          {{(PaWidth - 23){1'b0}}, pasid_q[s*PasidW +: PasidW], 3'b000};
      end else begin
        ar_addr_o[s*PaWidth +: PaWidth] = {base_q[s*PpnW +: PpnW], idx, 3'b000};
      end
      ar_req_o[s]  = (st_q[s] == ats_pkg::WRead) && !orph_r_q[s] && !orph_b_q[s];
      ar_lock_o[s] = (lvl != 3'd0);
      aw_req_o[s]  = (st_q[s] == ats_pkg::WWrite) && !orph_r_q[s] && !orph_b_q[s];
    end
  end

  // ---------------------------------------------------------------------------
  // allocation and completion selection
  // ---------------------------------------------------------------------------
  // a clean idle slot first; an orphaned one only when no clean slot is idle
  always_comb begin
    alloc_any = 1'b0;
    alloc_sel = '0;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (!alloc_any && st_q[s] == ats_pkg::WIdle && !orph_r_q[s] && !orph_b_q[s]) begin
        alloc_any = 1'b1;
        alloc_sel = SlotW'(s);
      end
    end
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (!alloc_any && st_q[s] == ats_pkg::WIdle) begin
        alloc_any = 1'b1;
        alloc_sel = SlotW'(s);
      end
    end
  end
  // an armed request waits for the invalidation hold (forward progress, below)
  assign xreq_ready_o = alloc_any && !arm_wait;

  // fixed priority: lowest slot first
  always_comb begin
    for (int unsigned s = 0; s < NumWalks; s++) begin
      cpl_req[s] = st_q[s] == ats_pkg::WDone;
    end
  end

  rr_arb #(
    .N         (NumWalks),
    .RoundRobin(1'b0),
    .IdxW      (SlotW)
  ) u_cpl_arb (
    .clk_i,
    .rst_ni,
    .req_i  (cpl_req),
    .ready_i(xcpl_ready_i),
    .valid_o(cpl_any),
    .idx_o  (cpl_sel)
  );

  assign xcpl_valid_o = cpl_any;

  always_comb begin
    xcpl_id_o       = '0;
    xcpl_cause_o    = '0;
    xcpl_ppn_o      = '0;
    xcpl_size_o     = '0;
    xcpl_writable_o = 1'b0;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (cpl_sel == SlotW'(s)) begin
        xcpl_id_o       = id_q[s*IdW +: IdW];
        xcpl_cause_o    = cause_q[s*4 +: 4];
        xcpl_ppn_o      = ppn_q[s*PpnW +: PpnW];
        xcpl_size_o     = size_q[s*2 +: 2];
        xcpl_writable_o = wrbl_q[s];
      end
    end
  end

  // ---------------------------------------------------------------------------
  // walk slot FSMs
  // ---------------------------------------------------------------------------
  always_comb begin
    pwc_ins       = 1'b0;
    pwc_ins_by    = '0;
    pwc_ins_lvl   = '0;
    pwc_ins_pasid = '0;
    pwc_ins_tag   = '0;
    pwc_ins_base  = '0;
    pwc_ins_usr   = 1'b1;

    for (int unsigned s = 0; s < NumWalks; s++) begin
      // current slot
      ats_pkg::walk_st_e st;
      logic [PasidW-1:0] pasid;
      logic [CVpnW-1:0] vpn;
      logic             wr;
      logic [2:0]       lvl;
      logic             inval;
      logic             wrbl;
      logic             usr;
      logic [RtyW-1:0]  rty;
      // next slot
      ats_pkg::walk_st_e st_n;
      logic [IdW-1:0]   id_n;
      logic [PasidW-1:0] pasid_n;
      logic [CVpnW-1:0] vpn_n;
      logic             wr_n;
      logic [2:0]       lvl_n;
      logic [PpnW-1:0]  base_n;
      logic             inval_n;
      logic [3:0]       cause_n;
      logic [PpnW-1:0]  ppn_n;
      logic [1:0]       size_n;
      logic             wrbl_n;
      logic             usr_n;
      logic [63:0]      ent_n;
      logic [RtyW-1:0]  rty_n;
      logic             orph_r_n;
      logic             orph_b_n;
      logic             tmo_out;  // this AXI wait has lasted AxiTimeout cycles
      // entry checks
      logic             take;   // an entry value is decided this cycle
      logic [63:0]      e;
      logic [63:0]      e_ad;   // e with the bits this walk sets
      logic             rsvd;
      logic             leaf;
      logic             upd;

      st      = st_q[s];
      pasid   = pasid_q[s*PasidW +: PasidW];
      vpn     = vpn_q[s*CVpnW +: CVpnW];
      wr      = wr_q[s];
      lvl     = lvl_q[s*3 +: 3];
      inval   = inval_q[s];
      wrbl    = wrbl_q[s];
      usr     = usr_q[s];
      rty     = rty_q[s*RtyW +: RtyW];

      st_n    = st;
      id_n    = id_q[s*IdW +: IdW];
      pasid_n = pasid;
      vpn_n   = vpn;
      wr_n    = wr;
      lvl_n   = lvl;
      base_n  = base_q[s*PpnW +: PpnW];
      inval_n = inval | (pwc_flush_i && st != ats_pkg::WIdle);
      cause_n = cause_q[s*4 +: 4];
      ppn_n   = ppn_q[s*PpnW +: PpnW];
      size_n  = size_q[s*2 +: 2];
      wrbl_n  = wrbl;
      usr_n   = usr;
      ent_n   = ent_q[s*64 +: 64];
      rty_n   = rty;
      tmo_out = tmo_q[s*TmoW +: TmoW] == TmoW'(AxiTimeout - 1);
      // a late response of a timed-out request is dropped here (the FSM
      // below never waits for it: nothing is issued while orphaned)
      orph_r_n = orph_r_q[s] && !r_valid_i[s];
      orph_b_n = orph_b_q[s] && !b_valid_i[s];

      // the entry is the read data, or (after an EXOKAY write) the value written
      take = (st == ats_pkg::WWait && r_valid_i[s] && !r_err_i) ||
             (st == ats_pkg::WBack && b_valid_i[s] && !b_err_i && b_exok_i);
      e    = (st == ats_pkg::WBack) ? ent_q[s*64 +: 64] : r_data_i;
      rsvd = |(e & HiRsvd);
      if (lvl == 3'd1 && e[ats_pkg::PtePs]) rsvd = 1'b1;
      if (lvl == 3'd2 && e[ats_pkg::PtePs] && (|e[29:13])) rsvd = 1'b1;
      if (lvl == 3'd3 && e[ats_pkg::PtePs] && (|e[20:13])) rsvd = 1'b1;
      leaf = (lvl == 3'd4) || ((lvl == 3'd2 || lvl == 3'd3) && e[ats_pkg::PtePs]);
      e_ad = e;
      e_ad[ats_pkg::PteA] = 1'b1;
      if (leaf && wr) e_ad[ats_pkg::PteD] = 1'b1;
      upd  = e_ad != e;

      case (st)
        ats_pkg::WIdle: begin
          if (xreq_valid_i && xreq_ready_o && alloc_sel == SlotW'(s)) begin
            id_n    = xreq_id_i;
            pasid_n = xreq_pasid_i;
            vpn_n   = xreq_vpn_i[CVpnW-1:0];
            wr_n    = xreq_write_i;
            inval_n = pwc_flush_i;
            wrbl_n  = 1'b1;
            usr_n   = 1'b1;
            rty_n   = '0;
            cause_n = ats_pkg::FaultNone;
            st_n    = ats_pkg::WRead;
            if (!ats_pkg::vpn_canonical(xreq_vpn_i[51:CVpnW-1])) begin
              st_n    = ats_pkg::WDone;
              cause_n = ats_pkg::FaultNoncanonical;
            end else if (pwc_hit) begin
              lvl_n  = {1'b0, pwc_hit_lvl} + 3'd1;
              base_n = pwc_hit_base;
              usr_n  = pwc_hit_usr;
            end else begin
              lvl_n  = 3'd0;
            end
          end
        end

        ats_pkg::WRead: begin
          if (ar_gnt_i[s]) begin
            st_n = ats_pkg::WWait;
          end else if (tmo_out) begin
            // never granted: nothing was issued
            st_n    = ats_pkg::WDone;
            cause_n = ats_pkg::FaultBusTimeout;
          end
        end

        ats_pkg::WWait: begin
          if (r_valid_i[s] && r_err_i) begin
            st_n    = ats_pkg::WDone;
            cause_n = ats_pkg::FaultBusWalk;
          end else if (!r_valid_i[s] && tmo_out) begin
            st_n     = ats_pkg::WDone;
            cause_n  = ats_pkg::FaultBusTimeout;
            orph_r_n = 1'b1;
          end
        end

        ats_pkg::WWrite: begin
          if (aw_gnt_i[s]) begin
            st_n = ats_pkg::WBack;
          end else if (tmo_out) begin
            st_n    = ats_pkg::WDone;
            cause_n = ats_pkg::FaultBusTimeout;
          end
        end

        ats_pkg::WBack: begin
          if (!b_valid_i[s] && tmo_out) begin
            st_n     = ats_pkg::WDone;
            cause_n  = ats_pkg::FaultBusTimeout;
            orph_b_n = 1'b1;
          end else if (b_valid_i[s]) begin
            if (b_err_i) begin
              st_n    = ats_pkg::WDone;
              cause_n = ats_pkg::FaultBusWalk;
            end else if (!b_exok_i) begin
              // reservation lost: read the entry again, a bounded number of times
              if (32'(rty) + 1 >= AdRetries) begin
                st_n    = ats_pkg::WDone;
                cause_n = ats_pkg::FaultAdUpdate;
              end else begin
                st_n  = ats_pkg::WRead;
                rty_n = rty + 1'b1;
              end
            end
          end
        end

        ats_pkg::WDone: begin
          if (xcpl_ready_i && cpl_any && cpl_sel == SlotW'(s)) begin
            st_n = ats_pkg::WIdle;
          end
        end

        default: begin
          st_n = ats_pkg::WIdle;
        end
      endcase

      if (take) begin
        if (lvl == 3'd0) begin
          // PASID table entry: bit 0 present, [PaWidth-1:12] PML4 base
          if (!e[ats_pkg::PteP]) begin
            st_n    = ats_pkg::WDone;
            cause_n = ats_pkg::FaultPasid;
          end else begin
            st_n   = ats_pkg::WRead;
            lvl_n  = 3'd1;
            base_n = e[PaWidth-1:12];
            if (!inval && !pwc_flush_i) begin
              pwc_ins       = 1'b1;
              pwc_ins_by[s] = 1'b1;
              pwc_ins_lvl   = 2'd0;
              pwc_ins_pasid = pasid;
              pwc_ins_tag   = vpn[35:9];
              pwc_ins_base  = e[PaWidth-1:12];
              pwc_ins_usr   = 1'b1;
            end
          end
        end else if (!e[ats_pkg::PteP]) begin
          st_n    = ats_pkg::WDone;
          cause_n = ats_pkg::FaultNotPresent;
        end else if (rsvd) begin
          st_n    = ats_pkg::WDone;
          cause_n = ats_pkg::FaultReserved;
        end else if ((!e[ats_pkg::PteUs] && (leaf || !pwc_keep_sup_i)) || (leaf && !usr)) begin
          // U/S: at every entry, or (pwc_keep_sup_i) at the leaf for the whole path
          st_n    = ats_pkg::WDone;
          cause_n = ats_pkg::FaultSupervisor;
        end else if (wr && !e[ats_pkg::PteRw]) begin
          st_n    = ats_pkg::WDone;
          cause_n = ats_pkg::FaultWriteProtect;
        end else if (upd) begin
          // only a read answered EXOKAY holds a reservation the write can rely on
          if (st == ats_pkg::WWait && r_exok_i) begin
            st_n  = ats_pkg::WWrite;
            ent_n = e_ad;
          end else begin
            st_n    = ats_pkg::WDone;
            cause_n = ats_pkg::FaultAdUpdate;
          end
        end else if (leaf) begin
          st_n    = ats_pkg::WDone;
          cause_n = ats_pkg::FaultNone;
          wrbl_n  = wrbl & e[ats_pkg::PteRw] & e[ats_pkg::PteD];
          ppn_n   = e[PaWidth-1:12];
          size_n  = ats_pkg::Pg4K;
          if (lvl == 3'd2) begin
            ppn_n[17:0] = '0;
            size_n      = ats_pkg::Pg1G;
          end else if (lvl == 3'd3) begin
            ppn_n[8:0] = '0;
            size_n     = ats_pkg::Pg2M;
          end
        end else begin
          st_n   = ats_pkg::WRead;
          lvl_n  = lvl + 3'd1;
          base_n = e[PaWidth-1:12];
          wrbl_n = wrbl & e[ats_pkg::PteRw];
          usr_n  = usr & e[ats_pkg::PteUs];  // clears only with pwc_keep_sup_i (else it faulted above)
          if (!inval && !pwc_flush_i && wrbl && e[ats_pkg::PteRw]) begin
            pwc_ins       = 1'b1;
            pwc_ins_by[s] = 1'b1;
            pwc_ins_lvl   = lvl[1:0];
            pwc_ins_pasid = pasid;
            pwc_ins_tag   = vpn[35:9];
            pwc_ins_base  = e[PaWidth-1:12];
            pwc_ins_usr   = usr & e[ats_pkg::PteUs];
          end
        end
      end

      // faults carry no translation
      if (cause_n != ats_pkg::FaultNone) begin
        ppn_n  = '0;
        size_n = ats_pkg::Pg4K;
        wrbl_n = 1'b0;
      end

      // the timer restarts with every state change and runs in the AXI wait states
      if (st_n != st) begin
        tmo_d[s*TmoW +: TmoW] = '0;
      end else if (st == ats_pkg::WRead || st == ats_pkg::WWait || st == ats_pkg::WWrite || st == ats_pkg::WBack) begin
        tmo_d[s*TmoW +: TmoW] = tmo_q[s*TmoW +: TmoW] + 1'b1;
      end else begin
        tmo_d[s*TmoW +: TmoW] = tmo_q[s*TmoW +: TmoW];
      end

      st_d[s]           = st_n;
      orph_r_d[s]              = orph_r_n;
      orph_b_d[s]              = orph_b_n;
      id_d[s*IdW +: IdW]       = id_n;
      pasid_d[s*PasidW +: PasidW]      = pasid_n;
      vpn_d[s*CVpnW +: CVpnW]  = vpn_n;
      wr_d[s]                  = wr_n;
      lvl_d[s*3 +: 3]          = lvl_n;
      base_d[s*PpnW +: PpnW]   = base_n;
      inval_d[s]               = inval_n;
      cause_d[s*4 +: 4]        = cause_n;
      ppn_d[s*PpnW +: PpnW]    = ppn_n;
      size_d[s*2 +: 2]         = size_n;
      wrbl_d[s]                = wrbl_n;
      usr_d[s]                 = usr_n;
      ent_d[s*64 +: 64]        = ent_n;
      rty_d[s*RtyW +: RtyW]    = rty_n;
    end
  end

  assign aw_data_o = ent_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      st_q     <= '0;
      inval_q  <= '0;
      orph_r_q <= '0;
      orph_b_q <= '0;
    end else begin
      st_q     <= st_d;
      inval_q  <= inval_d;
      orph_r_q <= orph_r_d;
      orph_b_q <= orph_b_d;
    end
  end

  always_ff @(posedge clk_i) begin
    id_q    <= id_d;
    pasid_q <= pasid_d;
    vpn_q   <= vpn_d;
    wr_q    <= wr_d;
    lvl_q   <= lvl_d;
    base_q  <= base_d;
    cause_q <= cause_d;
    ppn_q   <= ppn_d;
    size_q  <= size_d;
    wrbl_q  <= wrbl_d;
    usr_q   <= usr_d;
    ent_q   <= ent_d;
    rty_q   <= rty_d;
    tmo_q   <= tmo_d;
  end

  // ---------------------------------------------------------------------------
  // page-walk cache
  // ---------------------------------------------------------------------------
  if (PwcEntries > 0) begin : gen_pwc
    localparam int unsigned PwcIdxW = (PwcEntries > 1) ? $clog2(PwcEntries) : 1;

    logic [PwcEntries-1:0]            pv_q, pv_d;
    logic [PwcEntries*2-1:0]          plvl_q, plvl_d;
    logic [PwcEntries*PasidW-1:0]         ppasid_q, ppasid_d;
    logic [PwcEntries*27-1:0]         ptag_q, ptag_d;    // VA[47:21]
    logic [PwcEntries*PpnW-1:0]       pbase_q, pbase_d;  // next-level table
    logic [PwcEntries-1:0]            pusr_q, pusr_d;    // U/S set on the path down to this entry
    logic [PwcIdxW-1:0]               pptr_q, pptr_d;
    logic                             dup;

    // lookup for the request being accepted: the deepest hit wins, the lowest
    // index among hits of that level (fills skip duplicates, so there is at
    // most one). Computed in parallel (hit vector, deepest level with a hit,
    // one-hot pick, AND-OR mux): this sits behind the ATC's request
    // arbiter in the request's acceptance cycle.
    logic [PwcEntries-1:0] pmatch;   // entry matches the request
    logic [PwcEntries-1:0] pdeep;    // ... and is of the deepest level that matches
    logic [PwcEntries-1:0] ppick;    // the lowest of pdeep (one-hot or none)
    logic [3:1]            plvl_any; // some entry of that level matches (level 0: the default)

    always_comb begin
      for (int unsigned i = 0; i < PwcEntries; i++) begin
        pmatch[i] = pv_q[i] && ppasid_q[i*PasidW +: PasidW] == xreq_pasid_i &&
                    ((ptag_q[i*27 +: 27] ^ xreq_vpn_i[35:9]) & ats_pkg::pwc_lvl_mask(plvl_q[i*2 +: 2])) == '0;
      end
      for (int unsigned l = 1; l < 4; l++) begin
        plvl_any[l] = 1'b0;
        for (int unsigned i = 0; i < PwcEntries; i++) begin
          if (pmatch[i] && plvl_q[i*2 +: 2] == 2'(l)) plvl_any[l] = 1'b1;
        end
      end
      pwc_hit     = |pmatch;
      pwc_hit_lvl = plvl_any[3] ? 2'd3 : plvl_any[2] ? 2'd2 : plvl_any[1] ? 2'd1 : 2'd0;
      for (int unsigned i = 0; i < PwcEntries; i++) begin
        pdeep[i] = pmatch[i] && plvl_q[i*2 +: 2] == pwc_hit_lvl;
      end
      ppick        = pdeep & ~(pdeep - 1'b1);
      pwc_hit_base = '0;
      pwc_hit_usr  = !pwc_hit;
      for (int unsigned i = 0; i < PwcEntries; i++) begin
        pwc_hit_base = pwc_hit_base | (pbase_q[i*PpnW +: PpnW] & {PpnW{ppick[i]}});
        pwc_hit_usr  = pwc_hit_usr | (pusr_q[i] & ppick[i]);
      end
    end

    // fill: skip an entry already present, else replace round robin
    always_comb begin
      dup = 1'b0;
      for (int unsigned i = 0; i < PwcEntries; i++) begin
        if (pv_q[i] && plvl_q[i*2 +: 2] == pwc_ins_lvl && ppasid_q[i*PasidW +: PasidW] == pwc_ins_pasid &&
            ((ptag_q[i*27 +: 27] ^ pwc_ins_tag) & ats_pkg::pwc_lvl_mask(pwc_ins_lvl)) == '0) begin
          dup = 1'b1;
        end
      end
      pv_d     = pv_q;
      plvl_d   = plvl_q;
      ppasid_d = ppasid_q;
      ptag_d   = ptag_q;
      pbase_d  = pbase_q;
      pusr_d   = pusr_q;
      pptr_d   = pptr_q;
      if (pwc_flush_i) begin
        pv_d = '0;
      end else if (pwc_ins && !dup) begin
        for (int unsigned i = 0; i < PwcEntries; i++) begin
          if (pptr_q == PwcIdxW'(i)) begin
            pv_d[i]                 = 1'b1;
            plvl_d[i*2 +: 2]        = pwc_ins_lvl;
            ppasid_d[i*PasidW +: PasidW]    = pwc_ins_pasid;
            ptag_d[i*27 +: 27]      = pwc_ins_tag;
            pbase_d[i*PpnW +: PpnW] = pwc_ins_base;
            pusr_d[i]               = pwc_ins_usr;
          end
        end
        if (pptr_q == PwcIdxW'(PwcEntries - 1)) begin
          pptr_d = '0;
        end else begin
          pptr_d = pptr_q + 1'b1;
        end
      end
    end

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        pv_q   <= '0;
        pptr_q <= '0;
      end else begin
        pv_q   <= pv_d;
        pptr_q <= pptr_d;
      end
    end

    always_ff @(posedge clk_i) begin
      plvl_q   <= plvl_d;
      ppasid_q <= ppasid_d;
      ptag_q   <= ptag_d;
      pbase_q  <= pbase_d;
      pusr_q   <= pusr_d;
    end
  end else begin : gen_no_pwc
    assign pwc_hit      = 1'b0;
    assign pwc_hit_lvl  = '0;
    assign pwc_hit_base = '0;
    assign pwc_hit_usr  = 1'b1;
    logic unused_pwc;
    assign unused_pwc = ^{pwc_ins, pwc_ins_lvl, pwc_ins_pasid, pwc_ins_tag, pwc_ins_base, pwc_ins_usr};
  end

  // ---------------------------------------------------------------------------
  // forward progress: invalidation hold for a walk raced WalkMaxRetries times
  // ---------------------------------------------------------------------------
  localparam int unsigned NumIds = 1 << IdW;
  localparam int unsigned PsnW   = (WalkMaxRetries > 0) ? $clog2(WalkMaxRetries + 1) : 1;

  logic [NumIds*PsnW-1:0] psn_q, psn_d;    // per ID: completions in a row an invalidation raced
  logic [NumWalks-1:0]    held_q, held_d;  // slot runs an armed walk (the hold is up)
  logic                   hold_q, hold_d;  // the hold (inv_hold_o)
  logic                   armed;           // the request offered now belongs to an armed ID
  logic                   arm_fire;        // an armed request is taken this cycle
  logic                   cpl_fire;
  logic                   cpl_raced;       // the completion leaving now: an invalidation was accepted in its window

  // per ID: its count reached WalkMaxRetries (registered beside psn_q, so the
  // request's ID only selects a bit on the way to xreq_ready_o)
  logic [NumIds-1:0] armed_q, armed_d;

  always_comb begin
    armed = 1'b0;
    for (int unsigned i = 0; i < NumIds; i++) begin
      if (xreq_id_i == IdW'(i) && armed_q[i]) begin
        armed = 1'b1;
      end
      armed_d[i] = psn_d[i*PsnW +: PsnW] == PsnW'(WalkMaxRetries);
    end
  end
  // taken once the hold is up and no invalidation is applied in that cycle (one
  // accepted the cycle before the hold rose is applied in the hold's first cycle)
  assign arm_wait   = (WalkMaxRetries != 0) && armed && (!hold_q || pwc_flush_i);
  assign arm_fire   = (WalkMaxRetries != 0) && xreq_valid_i && xreq_ready_o && armed;
  // up while an armed request is offered with a slot free, or an armed walk runs
  assign hold_d     = (held_d != '0) || ((WalkMaxRetries != 0) && xreq_valid_i && alloc_any && armed && !arm_fire);
  assign inv_hold_o = hold_q;
  assign cpl_fire   = cpl_any && xcpl_ready_i;

  always_comb begin
    cpl_raced = pwc_flush_i;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (cpl_sel == SlotW'(s) && inval_q[s]) begin
        cpl_raced = 1'b1;
      end
    end
    psn_d = psn_q;
    for (int unsigned i = 0; i < NumIds; i++) begin
      if (cpl_fire && xcpl_id_o == IdW'(i)) begin
        if (!cpl_raced) begin
          psn_d[i*PsnW +: PsnW] = '0;
        end else if (psn_q[i*PsnW +: PsnW] != PsnW'(WalkMaxRetries)) begin
          psn_d[i*PsnW +: PsnW] = psn_q[i*PsnW +: PsnW] + 1'b1;
        end
      end
    end
    held_d = held_q;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (cpl_fire && cpl_sel == SlotW'(s)) begin
        held_d[s] = 1'b0;
      end
      if (xreq_valid_i && xreq_ready_o && alloc_sel == SlotW'(s)) begin
        held_d[s] = arm_fire;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      psn_q  <= '0;
      armed_q <= (WalkMaxRetries == 0) ? '1 : '0;
      held_q <= '0;
      hold_q <= 1'b0;
    end else begin
      psn_q  <= psn_d;
      armed_q <= armed_d;
      held_q <= held_d;
      hold_q <= hold_d;
    end
  end

  // VA[63:48] only feed the canonical check
  logic unused_ptw;
  assign unused_ptw = ^{xreq_vpn_i[51:CVpnW]};

endmodule
