// Set-associative store of the ATC's 4 KiB entries (atc.sv with AtcWays > 0).
//
// Entries / Ways sets of Ways ways, indexed by the low bits of the 4 KiB VPN
// (VA[12 +: SetW]). Entries of 2 MiB / 1 GiB pages are not kept here: atc.sv
// keeps them in its small fully associative array (AtcHugeEntries), looked up
// in the same cycle, so a huge page needs no index of its own and a lookup
// probes one set and the huge array.
//
// Layout (block RAM for large sizes): per way one memory of Sets words
// {PASID, VPN tag, PPN, writable}, written by a fill and read with a
// registered address (the set of the lookup, L0), so the tag compare runs in
// L1 on the RAM output and its result goes to the thread that same cycle, as
// the fully associative ATC's registered result does. Valid bits, the tree
// pseudo-LRU state of each set and a short key per entry (KeyPasidW low PASID
// bits and the VPN bits from the set index up to VPN[KnownW-1]) are flops:
//   - an invalidation clears, in its acceptance cycle, every entry whose key
//     and set index may lie in the range (PASID and range compared on the bits
//     kept in flops: a superset of the entries that overlap it; dropping more
//     is allowed, dropping fewer is not). So no multi-cycle scan of the RAM,
//     no lookup racing a scan, and the Invalidate Completion timing is the
//     fully associative ATC's (inv.sv unchanged);
//   - a 4 KiB fill drops every way of its set with the same key (the same
//     PASID and VPN always has the same key): at most one entry per address,
//     so a set never holds two matches (checked by atc_sa_assert);
//   - a 2 MiB / 1 GiB fill (into the huge array) drops every 4 KiB entry
//     whose key may lie in its page.
// The L1 compare takes the valid bits as they are in L1 (after the L0
// invalidation and fill drops) and leaves out a way written in L0 in the set
// it read (the RAM read of that way raced the write): a dropped entry is never
// a hit, and no result depends on the RAM's read-during-write behaviour.
// Replacement: an entry of the same key, else the first invalid way, else
// the tree pseudo-LRU victim of the set; a hit delivered to a thread and a
// fill touch their way.

module atc_sa #(
  parameter int unsigned Ways    = 4,
  parameter int unsigned Entries = 64,
  parameter int unsigned PaWidth = 48,
  // per entry in flops: PASID[KeyPasidW-1:0] and the VPN bits above the set
  // index up to VPN[KnownW-1] (VA[KnownW+11:12] known with the set index)
  parameter int unsigned KeyPasidW = 4,
  parameter int unsigned KnownW  = 18,
  localparam int unsigned PpnW   = PaWidth - 12,
  localparam int unsigned Sets   = Entries / Ways,
  localparam int unsigned SetW   = (Sets > 1) ? $clog2(Sets) : 1,
  localparam int unsigned WayW   = (Ways > 1) ? $clog2(Ways) : 1,
  localparam int unsigned TagW   = ats_pkg::CVpnW - SetW,
  localparam int unsigned EW     = ats_pkg::PasidW + TagW + PpnW + 1,  // RAM word
  localparam int unsigned KeyVW  = KnownW - SetW,
  localparam int unsigned KeyW   = KeyPasidW + KeyVW
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  input  logic                       wp_fault_en_i,
  // L0: the lookup's set is read (its index bits)
  input  logic [35:0]                lkp_vpn_i,
  // L1: the registered lookup (atc.sv lr_*_q) against the set read
  input  logic                       lr_valid_i,    // result delivered to the thread this cycle
  input  logic [ats_pkg::PasidW-1:0] lr_pasid_i,
  input  logic [35:0]                lr_vpn_i,
  input  logic                       lr_write_i,
  output logic                       hit_o,         // a matching entry that permits the access
  output logic                       ro_o,          // a write on a read-only entry, faulted from the ATC
  output logic [PpnW-1:0]            ppn_o,
  // fill (a completion that the ATC caches)
  input  logic                       fill_i,        // a 4 KiB entry into its set
  input  logic                       hfill_i,       // a 2 MiB / 1 GiB entry (kept in atc.sv)
  input  logic [ats_pkg::PasidW-1:0] fill_pasid_i,
  input  logic [35:0]                fill_vpn_i,
  input  logic [1:0]                 fill_size_i,
  input  logic [PpnW-1:0]            fill_ppn_i,
  input  logic                       fill_wr_i,
  // invalidation (accepted this cycle)
  input  logic                       inv_valid_i,
  input  logic                       inv_all_i,
  input  logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input  logic [51:0]                inv_addr_i,
  input  logic [51:0]                inv_keep_i
);

  localparam int unsigned PasidW = ats_pkg::PasidW;
  localparam int unsigned E      = Sets * Ways;

  if (Ways < 2 || (Ways & (Ways - 1)) != 0 || Sets < 2 || (Sets & (Sets - 1)) != 0 ||
      Sets * Ways != Entries || KnownW <= SetW || KnownW > ats_pkg::CVpnW || KeyPasidW > PasidW ||
      KeyPasidW == 0) begin : g_bad_param
    $error("atc_sa: Ways and Entries / Ways must be powers of two >= 2, SetW < KnownW <= 36");
  end

  // ---------------------------------------------------------------------------
  // state
  // ---------------------------------------------------------------------------
  logic [E-1:0]             v_q, v_d;
  logic [E*KeyW-1:0]        key_q, key_d;     // per entry {PASID[KeyPasidW-1:0], VPN[KnownW-1:SetW]}
  logic [Sets*(Ways-1)-1:0] plru_q, plru_d;   // per set, heap order: node n's children 2n+1 (lower), 2n+2
  logic [Ways-1:0]          wm_q;             // ways of the set read in L0 written in L0

  logic [Ways-1:0]  we;
  logic [SetW-1:0]  wset;
  logic [EW-1:0]    wdata;
  logic [SetW-1:0]  lkp_set, lr_set;
  logic [Ways*EW-1:0] rd;                     // L1: the set read in L0, all ways

  assign lkp_set = lkp_vpn_i[SetW-1:0];
  assign lr_set  = lr_vpn_i[SetW-1:0];

  for (genvar w = 0; w < Ways; w++) begin : g_way
    logic [EW-1:0] mem [Sets];
    logic [EW-1:0] rd_q;
    always_ff @(posedge clk_i) begin
      if (we[w]) begin
        mem[wset] <= wdata;
      end
      rd_q <= mem[lkp_set];
    end
    assign rd[w*EW +: EW] = rd_q;
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      wm_q <= '0;
    end else begin
      wm_q <= we & {Ways{wset == lkp_set}};
    end
  end

  // ---------------------------------------------------------------------------
  // L1: compare the set read
  // ---------------------------------------------------------------------------
  logic [Ways-1:0]  m;     // matching entry
  logic [Ways-1:0]  ok;    // ... that permits the access
  logic [WayW-1:0]  hway;
  logic [Ways-1:0]  lr_v;  // valid bits of the set read
  logic [PpnW-1:0]  hppn;

  // per-set fields are selected by decoding the set index (loops with constant
  // slices): a variable part-select of the flat vectors would synthesize to
  // shifters as wide as the whole ATC
  always_comb begin
    lr_v = '0;
    for (int unsigned s = 0; s < Sets; s++) begin
      if (lr_set == SetW'(s)) lr_v = v_q[s * Ways +: Ways];
    end
  end

  always_comb begin
    hway = '0;
    hppn = '0;
    for (int unsigned w = 0; w < Ways; w++) begin
      // RAM word: {PASID, VPN tag, PPN, writable}
      m[w]  = lr_v[w] && !wm_q[w] && rd[w * EW + EW - PasidW +: PasidW] == lr_pasid_i &&
              rd[w * EW + PpnW + 1 +: TagW] == lr_vpn_i[35:SetW];
      ok[w] = m[w] && (!lr_write_i || rd[w * EW]);
    end
    for (int unsigned w = Ways; w > 0; w--) begin
      if (ok[w-1]) begin
        hway = WayW'(w - 1);
        hppn = rd[(w - 1) * EW + 1 +: PpnW];
      end
    end
  end

  assign hit_o = |ok;
  assign ro_o  = wp_fault_en_i && lr_write_i && |m && !hit_o;
  assign ppn_o = hppn;

  // ---------------------------------------------------------------------------
  // drops: invalidation, a huge fill's page, a 4 KiB fill's own address
  // ---------------------------------------------------------------------------
  logic [E-1:0]    inv_drop, hfill_drop;
  logic [SetW-1:0] fset;
  logic [KnownW-1:0] hkeep;

  assign fset  = fill_vpn_i[SetW-1:0];
  assign hkeep = KnownW'(ats_pkg::cvpn_keep(fill_size_i));

  always_comb begin
    for (int unsigned s = 0; s < Sets; s++) begin
      for (int unsigned w = 0; w < Ways; w++) begin
        logic [KeyW-1:0]   k;
        logic [KnownW-1:0] known;
        k     = key_q[(s * Ways + w) * KeyW +: KeyW];
        known = {k[KeyVW-1:0], SetW'(s)};
        inv_drop[s * Ways + w] = inv_valid_i && v_q[s * Ways + w] &&
                                 (inv_all_i || k[KeyW-1:KeyVW] == inv_pasid_i[KeyPasidW-1:0]) &&
                                 ((known ^ inv_addr_i[KnownW-1:0]) & inv_keep_i[KnownW-1:0]) == '0;
        hfill_drop[s * Ways + w] = hfill_i && v_q[s * Ways + w] && k[KeyW-1:KeyVW] == fill_pasid_i[KeyPasidW-1:0] &&
                                   ((known ^ fill_vpn_i[KnownW-1:0]) & hkeep) == '0;
      end
    end
  end

  // ---------------------------------------------------------------------------
  // fill: way of the same key, else the first invalid way, else the PLRU victim
  // ---------------------------------------------------------------------------
  logic [E-1:0]      v_kept;
  logic [KeyW-1:0]   fkey;
  logic [Ways-1:0]   fsame;                 // ways of the fill's set with its key (dropped)
  logic              same_any, free_any;
  logic [WayW-1:0]   same_way, free_way, vic_way, fway;

  assign v_kept = v_q & ~inv_drop & ~hfill_drop;
  assign fkey   = {fill_pasid_i[KeyPasidW-1:0], fill_vpn_i[KnownW-1:SetW]};

  logic [Ways-1:0]      fv;     // the fill set's valid bits after the drops
  logic [Ways*KeyW-1:0] fkeys;  // ... and keys
  logic [Ways-2:0]      fplru;  // ... and PLRU tree

  always_comb begin
    fv    = '0;
    fkeys = '0;
    fplru = '0;
    for (int unsigned s = 0; s < Sets; s++) begin
      if (fset == SetW'(s)) begin
        fv    = v_kept[s * Ways +: Ways];
        fkeys = key_q[s * Ways * KeyW +: Ways * KeyW];
        fplru = plru_q[s * (Ways - 1) +: (Ways - 1)];
      end
    end
  end

  always_comb begin
    same_any = 1'b0;
    free_any = 1'b0;
    same_way = '0;
    free_way = '0;
    for (int unsigned w = 0; w < Ways; w++) begin
      logic vk;
      vk = fv[w];
      fsame[w] = fill_i && vk && fkeys[w * KeyW +: KeyW] == fkey;
      if (!same_any && fsame[w]) begin
        same_any = 1'b1;
        same_way = WayW'(w);
      end
      if (!free_any && !vk) begin
        free_any = 1'b1;
        free_way = WayW'(w);
      end
    end
  end

  // tree PLRU of one set, heap order (level l, position j is node 2^l - 1 + j):
  // a node's bit set means the victim lies in its upper subtree
  function automatic logic [WayW-1:0] plru_victim(input logic [Ways-2:0] tree);
    logic [WayW-1:0] way;
    way = '0;
    for (int unsigned l = 0; l < WayW; l++) begin
      way[WayW-1-l] = tree[(1 << l) - 1 + (32'(way) >> (WayW - l))];
    end
    plru_victim = way;
  endfunction

  // touching a way points every node on its path at the other subtree
  function automatic logic [Ways-2:0] plru_point_away(input logic [Ways-2:0] tree, input logic [WayW-1:0] way);
    logic [Ways-2:0] t;
    t = tree;
    for (int unsigned l = 0; l < WayW; l++) begin
      for (int unsigned j = 0; j < (1 << l); j++) begin
        if ((32'(way) >> (WayW - l)) == j) t[(1 << l) - 1 + j] = !way[WayW-1-l];
      end
    end
    plru_point_away = t;
  endfunction

  assign vic_way = plru_victim(fplru);

  always_comb begin
    if (same_any) begin
      fway = same_way;
    end else if (free_any) begin
      fway = free_way;
    end else begin
      fway = vic_way;
    end
  end

  assign wset  = fset;
  assign wdata = {fill_pasid_i, fill_vpn_i[35:SetW], fill_ppn_i, fill_wr_i};

  always_comb begin
    for (int unsigned w = 0; w < Ways; w++) begin
      we[w] = fill_i && fway == WayW'(w);
    end
  end

  // ---------------------------------------------------------------------------
  // next state
  // ---------------------------------------------------------------------------
  always_comb begin
    v_d    = v_kept;
    key_d  = key_q;
    plru_d = plru_q;
    for (int unsigned s = 0; s < Sets; s++) begin
      // PLRU: touch the delivered hit, then the fill
      if (lr_valid_i && hit_o && lr_set == SetW'(s)) begin
        plru_d[s * (Ways - 1) +: (Ways - 1)] = plru_point_away(plru_d[s * (Ways - 1) +: (Ways - 1)], hway);
      end
      if (fill_i && fset == SetW'(s)) begin
        plru_d[s * (Ways - 1) +: (Ways - 1)] = plru_point_away(plru_d[s * (Ways - 1) +: (Ways - 1)], fway);
        for (int unsigned w = 0; w < Ways; w++) begin
          if (fsame[w]) v_d[s * Ways + w] = 1'b0;
          if (fway == WayW'(w)) begin
            v_d[s * Ways + w]              = 1'b1;
            key_d[(s * Ways + w) * KeyW +: KeyW] = fkey;
          end
        end
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      v_q    <= '0;
      plru_q <= '0;
    end else begin
      v_q    <= v_d;
      plru_q <= plru_d;
    end
  end

  always_ff @(posedge clk_i) begin
    key_q <= key_d;
  end

  // only the set index bits and the key bits of the addresses are compared here
  logic unused_sa;
  assign unused_sa = ^{inv_addr_i[51:KnownW], inv_keep_i[51:KnownW], inv_pasid_i[PasidW-1:KeyPasidW],
                       lkp_vpn_i[35:SetW]};

endmodule
