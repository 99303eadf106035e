// Checks of the set-associative ATC store (rtl/atc_sa.sv), bound into
// `atc_sa` (rtl/assert/ats_bind.sv).
//
// Ghost state: the PASID and VPN each way of each set was last written with
// (the RAM word, kept here in flops), so the checks see the full address of
// every valid entry although the design keeps only a short key in flops.
//
//   sa_hit_onehot  the L1 compare of a delivered lookup matches at most one way
//                  of its set (a fill drops the entry of its own key first)
//   sa_rule1_drop  the cycle after an invalidation is accepted no valid entry
//                  overlaps it (PASID and range at 4 KiB): the key compare in
//                  flops drops a superset of the overlapping entries
//   sa_fill_one_way a fill writes one way
`include "ats_assert.svh"

module atc_sa_assert #(
  parameter int unsigned Ways    = 4,
  parameter int unsigned Entries = 64,
  parameter int unsigned SetW    = 4
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  input logic                       lr_valid_i,
  input logic [Ways-1:0]            m,
  input logic [Entries-1:0]         v_q,
  input logic [Ways-1:0]            we,
  input logic [SetW-1:0]            wset,
  input logic [ats_pkg::PasidW-1:0] fill_pasid_i,
  input logic [35:0]                fill_vpn_i,
  input logic                       inv_valid_i,
  input logic                       inv_all_i,
  input logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input logic [51:0]                inv_addr_i,
  input logic [51:0]                inv_keep_i
);

  `ATS_CHECKER_COMMON

  localparam int unsigned PasidW = ats_pkg::PasidW;

  logic [Entries*PasidW-1:0] gpasid_q;
  logic [Entries*36-1:0]     gvpn_q;

  always_ff @(posedge clk_i) begin
    for (int unsigned w = 0; w < Ways; w++) begin
      if (we[w]) begin
        gpasid_q[(32'(wset) * Ways + w) * PasidW +: PasidW] <= fill_pasid_i;
        gvpn_q[(32'(wset) * Ways + w) * 36 +: 36]           <= fill_vpn_i;
      end
    end
  end

  // the previous cycle's invalidation
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

  logic [Entries-1:0] drop_missed;
  always_comb begin
    for (int unsigned e = 0; e < Entries; e++) begin
      drop_missed[e] = dq_valid_q && v_q[e] && (dq_all_q || gpasid_q[e*PasidW +: PasidW] == dq_pasid_q) &&
                       ats_pkg::range_overlap(dq_addr_q, dq_keep_q, ats_pkg::sext_vpn(gvpn_q[e*36 +: 36]),
                                              ats_pkg::size_keep(ats_pkg::Pg4K));
    end
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      if (lr_valid_i) begin
        `ATS_ASSERT(sa_hit_onehot, (m & (m - 1'b1)) == '0, "a lookup matched two ways of its set")
      end
      `ATS_ASSERT(sa_fill_one_way, (we & (we - 1'b1)) == '0, "a fill wrote two ways")
      `ATS_ASSERT(sa_rule1_drop, drop_missed == '0,
                  "a set-associative ATC entry overlapping an accepted invalidation survived it")
    end
  end

endmodule
