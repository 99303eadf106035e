// Address Translation Cache (device TLB) and Translation Request tracking.
//
// Fully associative, AtcEntries entries tagged by PASID + virtual page, page
// sizes 4K/2M/1G, writable bit, tree pseudo-LRU replacement (invalid entries
// first). One lookup per cycle, pipelined: the compare runs in the lookup
// cycle (L0) and its result is registered; the thread takes it the next cycle
// (L1, lkp_rvalid_o), and a miss opens the thread's tracker (and a hit touches
// the PLRU) then. An invalidation accepted in L0 that drops the entry the
// lookup read kills the result (no lkp_rvalid_o in L1): the thread looks up
// again and no longer finds it, so a dropped translation is neither used nor
// turned into a fault (rule 1). An invalidation accepted in L1 sees the
// translation already held by the thread (dma.sv holds_xlat_o), so its
// completion waits for the access (rule 2), as for a hit in the same cycle. A write that hits a
// read-only entry is a miss (walked again: the host may have upgraded the PTE
// without an invalidation), or, with wp_fault_en_i set (an SMMU-like device,
// which caches permissions), a WRITE_PROTECT fault from the cached entry: the
// thread's tracker then holds the fault (TFlt) and delivers it as its
// translation result with no walk, in a cycle with no completion to deliver.
//
// Every miss gets a tracker (one per device thread, tracker id = thread) that
// sends a Translation Request to the walker and waits for its Completion.
// Only successful, unpoisoned completions fill the ATC; a fill first removes
// every entry of the same PASID that overlaps the new page (one translation
// per address) and reuses the first such slot. With SplitHuge set, a 2 MiB or
// 1 GiB completion is cached as the one 4 KiB entry holding the requested
// address (PA = huge frame + the page's offset in it), as an ATC that stores
// only 4 KiB pages does; the other 4 KiB pages of the leaf are walked (and
// cached) on their own, so an invalidation of one 4 KiB page of a huge page
// leaves the entries of its other pages.
//
// Invalidation (inv_valid_i, one cycle per accepted request):
//   - drops every entry of a matching PASID whose page overlaps the range;
//   - poisons every tracker whose request is in flight (or issued this cycle)
//     and whose 1 GiB region overlaps: its completion is neither cached nor
//     used, the request is sent again (rule 1). A completion arriving in the
//     invalidation cycle is checked against it too.
//
// Organisation (AtcWays): 0, the fully associative array above (AtcEntries
// entries, every entry in flops). N > 0: AtcEntries 4 KiB entries in N-way
// sets in atc_sa.sv (block RAM, compared in L1), and 2 MiB / 1 GiB entries in
// the fully associative array above, cut to AtcHugeEntries entries; a lookup
// probes both, a hit is a matching entry of either that permits the access.

module atc #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned AtcEntries = 16,
  // 0: fully associative; N: N-way set-associative 4 KiB entries (atc_sa.sv)
  // and a fully associative array of AtcHugeEntries for 2 MiB / 1 GiB pages
  parameter int unsigned AtcWays    = 0,
  parameter int unsigned AtcHugeEntries = 4,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned ThreadW    = 2,
  parameter int unsigned IdW        = 3,
  // 1: cache a 2 MiB / 1 GiB translation as the 4 KiB entry of the access
  parameter bit          SplitHuge  = 1'b0,
  // Test only: never treat a completion as poisoned, so a walk in flight
  // across an overlapping invalidation still fills the ATC and is used
  // (breaks rule 1).
  parameter bit          DbgNoPoison = 1'b0
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  // config: a write hitting a read-only entry faults instead of walking again
  input  logic                       wp_fault_en_i,
  // lookup from the DMA threads (one per cycle, always accepted)
  input  logic                       lkp_valid_i,
  input  logic [ThreadW-1:0]         lkp_thread_i,
  input  logic [ats_pkg::PasidW-1:0] lkp_pasid_i,
  input  logic [35:0]                lkp_vpn_i,         // VA[47:12], canonical
  input  logic                       lkp_write_i,
  // lookup result, the cycle after the lookup (not given when killed)
  output logic                       lkp_rvalid_o,
  output logic [ThreadW-1:0]         lkp_rthread_o,
  output logic                       lkp_hit_o,
  output logic [PaWidth-13:0]        lkp_ppn_o,         // PA[PaWidth-1:12] of the access
  output logic [1:0]                 lkp_size_o,        // page size of the entry hit (DMA drain matching)
  // translation result of a miss, back to the thread
  output logic                       xres_valid_o,
  output logic [ThreadW-1:0]         xres_thread_o,
  output logic [3:0]                 xres_cause_o,
  output logic [PaWidth-13:0]        xres_ppn_o,
  // Translation Request
  output logic                       xreq_valid_o,
  input  logic                       xreq_ready_i,
  output logic [IdW-1:0]             xreq_id_o,
  output logic [ats_pkg::PasidW-1:0] xreq_pasid_o,
  output logic [51:0]                xreq_vpn_o,
  output logic                       xreq_write_o,
  // Translation Completion
  input  logic                       xcpl_valid_i,
  output logic                       xcpl_ready_o,
  input  logic [IdW-1:0]             xcpl_id_i,
  input  logic [3:0]                 xcpl_cause_i,
  input  logic [PaWidth-13:0]        xcpl_ppn_i,
  input  logic [1:0]                 xcpl_size_i,
  input  logic                       xcpl_writable_i,
  // invalidation (accepted this cycle)
  input  logic                       inv_valid_i,
  input  logic                       inv_all_i,
  input  logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input  logic [51:0]                inv_addr_i,
  input  logic [51:0]                inv_keep_i
);

  localparam int unsigned CVpnW  = ats_pkg::CVpnW;
  localparam int unsigned PasidW = ats_pkg::PasidW;
  localparam int unsigned PpnW  = PaWidth - 12;
  localparam bit          SetAssoc = AtcWays != 0;
  localparam int unsigned N     = SetAssoc ? AtcHugeEntries : AtcEntries;  // fully associative entries
  localparam int unsigned IdxW  = (N > 1) ? $clog2(N) : 1;
  localparam int unsigned TreeN = 1 << IdxW;  // PLRU leaves (N rounded up)


  // ---------------------------------------------------------------------------
  // entries
  // ---------------------------------------------------------------------------
  logic [N-1:0]         v_q, v_d;
  logic [N*PasidW-1:0]      pasid_q, pasid_d;
  logic [N*CVpnW-1:0]   vpn_q, vpn_d;
  logic [N*2-1:0]       size_q, size_d;
  logic [N*PpnW-1:0]    ppn_q, ppn_d;
  logic [N-1:0]         wr_q, wr_d;
  logic [TreeN-2:0]     plru_q, plru_d;

  // trackers
  ats_pkg::trk_st_e [NumThreads-1:0] tst_q, tst_d;
  logic [NumThreads-1:0]       tpois_q, tpois_d;
  logic [NumThreads*PasidW-1:0]    tpasid_q, tpasid_d;
  logic [NumThreads*CVpnW-1:0] tvpn_q, tvpn_d;
  logic [NumThreads-1:0]       twr_q, twr_d;

  // ---------------------------------------------------------------------------
  // lookup
  // ---------------------------------------------------------------------------
  logic            lkp_any;
  logic [IdxW-1:0] lkp_idx;

  always_comb begin
    lkp_any = 1'b0;
    lkp_idx = '0;
    for (int unsigned i = 0; i < N; i++) begin
      if (!lkp_any && v_q[i] && pasid_q[i*PasidW +: PasidW] == lkp_pasid_i &&
          ((vpn_q[i*CVpnW +: CVpnW] ^ lkp_vpn_i) & ats_pkg::cvpn_keep(size_q[i*2 +: 2])) == '0) begin
        lkp_any = 1'b1;
        lkp_idx = IdxW'(i);
      end
    end
  end

  logic [39:0]     lkp_ppn40;
  logic [PpnW-1:0] lkp_ent_ppn;
  logic [1:0]      lkp_ent_size;
  logic            lkp_ent_wr;

  always_comb begin
    lkp_ent_ppn  = '0;
    lkp_ent_size = '0;
    lkp_ent_wr   = 1'b0;
    for (int unsigned i = 0; i < N; i++) begin
      if (lkp_idx == IdxW'(i)) begin
        lkp_ent_ppn  = ppn_q[i*PpnW +: PpnW];
        lkp_ent_size = size_q[i*2 +: 2];
        lkp_ent_wr   = wr_q[i];
      end
    end
  end

  logic lkp_hit;     // L0: hit
  logic lkp_ro_flt;  // L0: a write on a cached read-only entry, faulted from the ATC
  logic lkp_kill;    // L0: this cycle's invalidation drops the entry the lookup read
  assign lkp_hit = lkp_valid_i && lkp_any && (!lkp_write_i || lkp_ent_wr);
  assign lkp_ro_flt = wp_fault_en_i && lkp_valid_i && lkp_any && lkp_write_i && !lkp_ent_wr;
  assign lkp_ppn40 = ats_pkg::page_ppn(40'(lkp_ent_ppn), lkp_ent_size, lkp_vpn_i[17:0]);

  // L1: the registered lookup result
  logic                lr_valid_q;
  // not a state machine: Yosys fsm_extract would otherwise take it for one (its next
  // value comes from the lookup arbiter) and recurse beyond the WebAssembly stack
  (* fsm_encoding = "none" *) logic [ThreadW-1:0] lr_thread_q;
  logic                lr_hit_q, lr_ro_q, lr_write_q;
  logic [IdxW-1:0]     lr_idx_q;
  logic [PpnW-1:0]     lr_ppn_q;
  logic [1:0]          lr_size_q;
  logic [PasidW-1:0]   lr_pasid_q;
  logic [CVpnW-1:0]    lr_vpn_q;
  logic                lkp_rhit;   // L1: a hit delivered to the thread
  logic                lkp_rmiss;  // L1: a miss (or read-only fault) opening the thread's tracker

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      lr_valid_q <= 1'b0;
    end else begin
      lr_valid_q <= lkp_valid_i && !lkp_kill;
    end
  end

  always_ff @(posedge clk_i) begin
    lr_thread_q <= lkp_thread_i;
    lr_hit_q    <= lkp_hit;
    lr_ro_q     <= lkp_ro_flt;
    lr_write_q  <= lkp_write_i;
    lr_idx_q    <= lkp_idx;
    lr_ppn_q    <= lkp_ppn40[PpnW-1:0];
    lr_size_q   <= lkp_ent_size;
    lr_pasid_q  <= lkp_pasid_i;
    lr_vpn_q    <= lkp_vpn_i;
  end

  // set-associative part (AtcWays > 0): its L1 compare on the set read in L0
  logic            sa_hit, sa_ro;
  logic [PpnW-1:0] sa_ppn;
  logic            lkp_ro;     // L1: a write on a cached read-only entry, faulted from the ATC
  logic [1:0]      lkp_rsize;  // L1: page size of the hit entry

  assign lkp_rvalid_o  = lr_valid_q;
  assign lkp_rthread_o = lr_thread_q;
  assign lkp_hit_o     = lr_hit_q || sa_hit;
  assign lkp_ppn_o     = (!SetAssoc || lr_hit_q) ? lr_ppn_q : sa_ppn;
  assign lkp_size_o    = lkp_rsize;
  assign lkp_rhit      = lr_valid_q && lr_hit_q;
  assign lkp_rmiss     = lr_valid_q && !lr_hit_q && !sa_hit;
  assign lkp_ro        = (lr_ro_q || sa_ro) && !sa_hit;
  assign lkp_rsize     = (!SetAssoc || lr_hit_q) ? lr_size_q : ats_pkg::Pg4K;

  // ---------------------------------------------------------------------------
  // invalidation: entries to drop, trackers to poison
  // ---------------------------------------------------------------------------
  logic [N-1:0]          inv_drop;
  logic [NumThreads-1:0] inv_hit_trk;

  always_comb begin
    for (int unsigned i = 0; i < N; i++) begin
      inv_drop[i] = inv_valid_i && v_q[i] &&
                    (inv_all_i || pasid_q[i*PasidW +: PasidW] == inv_pasid_i) &&
                    ats_pkg::range_overlap(inv_addr_i, inv_keep_i,
                                           ats_pkg::sext_vpn(vpn_q[i*CVpnW +: CVpnW]),
                                           ats_pkg::size_keep(size_q[i*2 +: 2]));
    end
    lkp_kill = 1'b0;
    for (int unsigned i = 0; i < N; i++) begin
      if (lkp_any && lkp_idx == IdxW'(i) && inv_drop[i]) lkp_kill = 1'b1;
    end
    for (int unsigned t = 0; t < NumThreads; t++) begin
      inv_hit_trk[t] = inv_valid_i &&
                       (inv_all_i || tpasid_q[t*PasidW +: PasidW] == inv_pasid_i) &&
                       ats_pkg::range_overlap(inv_addr_i, inv_keep_i,
                                              ats_pkg::sext_vpn(tvpn_q[t*CVpnW +: CVpnW]),
                                              ats_pkg::size_keep(ats_pkg::Pg1G));
    end
  end

  // ---------------------------------------------------------------------------
  // request issue: round robin over waiting trackers, held while not accepted
  // ---------------------------------------------------------------------------
  logic [NumThreads-1:0] iss_req;
  logic                  iss_any;
  logic [ThreadW-1:0]    iss_sel;
  logic                  iss_fire;

  always_comb begin
    for (int unsigned t = 0; t < NumThreads; t++) begin
      iss_req[t] = tst_q[t] == ats_pkg::TNeed;
    end
  end

  rr_arb #(
    .N   (NumThreads),
    .IdxW(ThreadW)
  ) u_iss_arb (
    .clk_i,
    .rst_ni,
    .req_i  (iss_req),
    .ready_i(xreq_ready_i),
    .valid_o(iss_any),
    .idx_o  (iss_sel)
  );

  assign iss_fire     = iss_any && xreq_ready_i;
  assign xreq_valid_o = iss_any;
  assign xreq_id_o    = IdW'(iss_sel);
  logic [CVpnW-1:0] iss_vpn;

  always_comb begin
    xreq_pasid_o = '0;
    iss_vpn      = '0;
    xreq_write_o = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (iss_sel == ThreadW'(t)) begin
        xreq_pasid_o = tpasid_q[t*PasidW +: PasidW];
        iss_vpn      = tvpn_q[t*CVpnW +: CVpnW];
        xreq_write_o = twr_q[t];
      end
    end
  end
  assign xreq_vpn_o = ats_pkg::sext_vpn(iss_vpn);

  // ---------------------------------------------------------------------------
  // completion
  // ---------------------------------------------------------------------------
  logic               cpl_ok;      // completion for a tracker in flight
  logic [ThreadW-1:0] cpl_t;
  logic               cpl_poison;
  logic               cpl_use;     // delivered to the thread
  logic               fill_en;
  logic [CVpnW-1:0]   cpl_vpn;
  logic [PasidW-1:0] cpl_pasid;
  logic [39:0]        cpl_ppn40;

  assign xcpl_ready_o = 1'b1;
  assign cpl_t        = xcpl_id_i[ThreadW-1:0];
  logic cpl_infl;

  always_comb begin
    cpl_infl   = 1'b0;
    cpl_poison = 1'b0;
    cpl_vpn    = '0;
    cpl_pasid  = '0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (xcpl_id_i == IdW'(t)) begin
        cpl_infl   = tst_q[t] == ats_pkg::TInfl;
        cpl_poison = !DbgNoPoison && (tpois_q[t] || inv_hit_trk[t]);
        cpl_vpn    = tvpn_q[t*CVpnW +: CVpnW];
        cpl_pasid  = tpasid_q[t*PasidW +: PasidW];
      end
    end
  end

  assign cpl_ok       = xcpl_valid_i && cpl_infl;
  assign cpl_use      = cpl_ok && !cpl_poison;
  assign fill_en      = cpl_use && xcpl_cause_i == ats_pkg::FaultNone;
  assign cpl_ppn40    = ats_pkg::page_ppn(40'(xcpl_ppn_i), xcpl_size_i, cpl_vpn[17:0]);

  // the entry a fill writes: the completion's page, or (SplitHuge) its 4 KiB page of the access
  logic [1:0]      fill_size;
  logic [PpnW-1:0] fill_ppn;
  assign fill_size = SplitHuge ? ats_pkg::Pg4K : xcpl_size_i;
  assign fill_ppn  = SplitHuge ? cpl_ppn40[PpnW-1:0] : xcpl_ppn_i;

  // the array a fill writes: the fully associative one, or (set-associative) the
  // sets for a 4 KiB entry and the fully associative one for a huge entry
  logic fa_fill, sa_fill;
  assign sa_fill = SetAssoc && fill_en && fill_size == ats_pkg::Pg4K;
  assign fa_fill = fill_en && !sa_fill;

  // read-only faults held by trackers: the lowest thread, when no completion is delivered
  logic               flt_any;
  logic [ThreadW-1:0] flt_t;
  logic               flt_fire;

  always_comb begin
    flt_any = 1'b0;
    flt_t   = '0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (!flt_any && tst_q[t] == ats_pkg::TFlt) begin
        flt_any = 1'b1;
        flt_t   = ThreadW'(t);
      end
    end
  end
  assign flt_fire = flt_any && !cpl_use;

  assign xres_valid_o  = cpl_use || flt_fire;
  assign xres_thread_o = cpl_use ? cpl_t : flt_t;
  assign xres_cause_o  = cpl_use ? xcpl_cause_i : ats_pkg::FaultWriteProtect;
  assign xres_ppn_o    = (cpl_use && xcpl_cause_i == ats_pkg::FaultNone) ? cpl_ppn40[PpnW-1:0] : '0;

  // One translation per address: a fill removes every entry of the PASID that
  // overlaps the new page and takes the first of their slots, else an empty
  // entry, else the PLRU victim.
  logic            fhit_any, free_any;
  logic [IdxW-1:0] fhit_idx, free_idx, victim, fill_idx;
  logic [N-1:0]    v_kept;   // after the invalidation
  logic [N-1:0]    fill_ovl; // overlapped by the fill

  assign v_kept = v_q & ~inv_drop;

  always_comb begin
    fhit_any = 1'b0;
    fhit_idx = '0;
    free_any = 1'b0;
    free_idx = '0;
    for (int unsigned i = 0; i < N; i++) begin
      fill_ovl[i] = fill_en && v_kept[i] && pasid_q[i*PasidW +: PasidW] == cpl_pasid &&
                    ((vpn_q[i*CVpnW +: CVpnW] ^ cpl_vpn) & ats_pkg::cvpn_keep(size_q[i*2 +: 2]) &
                     ats_pkg::cvpn_keep(fill_size)) == '0;
      if (!fhit_any && fill_ovl[i]) begin
        fhit_any = 1'b1;
        fhit_idx = IdxW'(i);
      end
      if (!free_any && !v_kept[i]) begin
        free_any = 1'b1;
        free_idx = IdxW'(i);
      end
    end
  end

  // tree PLRU touch: every node on the path to idx points away from it
  function automatic logic [TreeN-2:0] plru_touch(input logic [TreeN-2:0] tree, input logic en,
                                                  input logic [IdxW-1:0]  idx);
    logic [TreeN-2:0] t;
    t = tree;
    for (int unsigned l = 0; l < IdxW; l++) begin
      for (int unsigned j = 0; j < (1 << l); j++) begin
        if (en && (32'(idx) >> (IdxW - l)) == j) begin
          t[(1 << l) - 1 + j] = ~idx[IdxW-1-l];
        end
      end
    end
    plru_touch = t;
  endfunction

  // tree PLRU victim: bit = 1 means the victim is in the upper half
  always_comb begin
    logic [IdxW-1:0] vic;
    vic = '0;
    for (int unsigned l = 0; l < IdxW; l++) begin
      vic[IdxW-1-l] = plru_q[(1 << l) - 1 + (32'(vic) >> (IdxW - l))];
    end
    victim = (32'(vic) < N) ? vic : IdxW'(N - 1);
  end

  always_comb begin
    if (fhit_any) begin
      fill_idx = fhit_idx;
    end else if (free_any) begin
      fill_idx = free_idx;
    end else begin
      fill_idx = victim;
    end
  end

  // ---------------------------------------------------------------------------
  // next state
  // ---------------------------------------------------------------------------
  always_comb begin
    v_d     = v_kept & ~fill_ovl;
    pasid_d = pasid_q;
    vpn_d   = vpn_q;
    size_d  = size_q;
    ppn_d   = ppn_q;
    wr_d    = wr_q;
    plru_d  = plru_q;

    // PLRU: touch the lookup hit, then the fill
    plru_d = plru_touch(plru_d, lkp_rhit, lr_idx_q);
    plru_d = plru_touch(plru_d, fa_fill, fill_idx);

    for (int unsigned i = 0; i < N; i++) begin
      if (fa_fill && fill_idx == IdxW'(i)) begin
        v_d[i]                  = 1'b1;
        pasid_d[i*PasidW +: PasidW]     = cpl_pasid;
        vpn_d[i*CVpnW +: CVpnW] = cpl_vpn;
        size_d[i*2 +: 2]        = fill_size;
        ppn_d[i*PpnW +: PpnW]   = fill_ppn;
        wr_d[i]                 = xcpl_writable_i;
      end
    end
  end

  always_comb begin
    tst_d    = tst_q;
    tpois_d  = tpois_q;
    tpasid_d = tpasid_q;
    tvpn_d   = tvpn_q;
    twr_d    = twr_q;

    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic iss_t;
      iss_t = iss_fire && iss_sel == ThreadW'(t);
      if (iss_t) begin
        tst_d[t] = ats_pkg::TInfl;
      end
      // rule 1: poison requests in flight (or leaving this cycle)
      if (inv_hit_trk[t] && (tst_q[t] == ats_pkg::TInfl || iss_t)) begin
        tpois_d[t] = 1'b1;
      end
      if (cpl_ok && xcpl_id_i == IdW'(t)) begin
        tst_d[t] = cpl_poison ? ats_pkg::TNeed : ats_pkg::TFree;
        tpois_d[t]      = 1'b0;
      end
      if (flt_fire && flt_t == ThreadW'(t)) begin
        tst_d[t] = ats_pkg::TFree;
      end
      // a miss opens a request for the thread (its tracker is free)
      if (lkp_rmiss && lr_thread_q == ThreadW'(t)) begin
        tst_d[t]                 = lkp_ro ? ats_pkg::TFlt : ats_pkg::TNeed;
        tpois_d[t]               = 1'b0;
        tpasid_d[t*PasidW +: PasidW]     = lr_pasid_q;
        tvpn_d[t*CVpnW +: CVpnW] = lr_vpn_q;
        twr_d[t]                 = lr_write_q;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      v_q     <= '0;
      plru_q  <= '0;
      tst_q   <= '0;
      tpois_q <= '0;
    end else begin
      v_q     <= v_d;
      plru_q  <= plru_d;
      tst_q   <= tst_d;
      tpois_q <= tpois_d;
    end
  end

  always_ff @(posedge clk_i) begin
    pasid_q  <= pasid_d;
    vpn_q    <= vpn_d;
    size_q   <= size_d;
    ppn_q    <= ppn_d;
    wr_q     <= wr_d;
    tpasid_q <= tpasid_d;
    tvpn_q   <= tvpn_d;
    twr_q    <= twr_d;
  end

  if (SetAssoc) begin : g_sa
    atc_sa #(
      .Ways   (AtcWays),
      .Entries(AtcEntries),
      .PaWidth(PaWidth)
    ) u_sa (
      .clk_i,
      .rst_ni,
      .wp_fault_en_i,
      .lkp_vpn_i,
      .lr_valid_i  (lr_valid_q),
      .lr_pasid_i  (lr_pasid_q),
      .lr_vpn_i    (lr_vpn_q),
      .lr_write_i  (lr_write_q),
      .hit_o       (sa_hit),
      .ro_o        (sa_ro),
      .ppn_o       (sa_ppn),
      .fill_i      (sa_fill),
      .hfill_i     (fill_en && fill_size != ats_pkg::Pg4K),
      .fill_pasid_i(cpl_pasid),
      .fill_vpn_i  (cpl_vpn),
      .fill_size_i (fill_size),
      .fill_ppn_i  (fill_ppn),
      .fill_wr_i   (xcpl_writable_i),
      .inv_valid_i,
      .inv_all_i,
      .inv_pasid_i,
      .inv_addr_i,
      .inv_keep_i
    );
  end else begin : g_fa_only
    assign sa_hit = 1'b0;
    assign sa_ro  = 1'b0;
    assign sa_ppn = '0;
  end

  // only the VA/PPN bits of the access are used
  logic unused_atc;
  assign unused_atc = ^{lkp_ppn40, cpl_ppn40};

endmodule
