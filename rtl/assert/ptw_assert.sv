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
// plus payload stability of the Translation Completion.
`include "ats_assert.svh"

module ptw_assert #(
  parameter int unsigned NumWalks = 2,
  parameter int unsigned PaWidth  = 48,
  parameter int unsigned IdW      = 3
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
  input logic [NumWalks-1:0]   r_valid_i,
  // internals
  input logic [NumWalks*2-1:0] st_q,
  input logic                  pwc_ins
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NumIds = 1 << IdW;
  localparam logic [1:0] WIdle = 2'd0;
  localparam logic [1:0] WWait = 2'd2;

  hs_assert #(.W(IdW + 4 + PaWidth - 12 + 3)) u_hs_xcpl (
    .clk_i, .rst_ni, .valid_i(xcpl_valid_o), .ready_i(xcpl_ready_i),
    .data_i({xcpl_id_o, xcpl_cause_o, xcpl_ppn_o, xcpl_size_o, xcpl_writable_o}));

  logic [NumWalks-1:0] ginv_q, ginv_d;
  logic [NumIds-1:0]   out_q, out_d;
  logic [NumWalks-1:0] ins_bad;

  always_comb begin
    out_d = out_q;
    if (xcpl_valid_o && xcpl_ready_i) out_d[xcpl_id_o] = 1'b0;
    if (xreq_valid_i && xreq_ready_o) out_d[xreq_id_i] = 1'b1;
    for (int unsigned s = 0; s < NumWalks; s++) begin
      ginv_d[s]  = (st_q[s*2 +: 2] == WIdle) ? pwc_flush_i : (ginv_q[s] || pwc_flush_i);
      // the slot whose read data arrives this cycle is the one that may insert
      ins_bad[s] = pwc_ins && st_q[s*2 +: 2] == WWait && r_valid_i[s] && (ginv_q[s] || pwc_flush_i);
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

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ASSERT(rule1_pwc_no_stale_fill, ins_bad == '0,
                  "page-walk cache filled by a walk that an invalidation raced")
      if (xcpl_valid_o) begin
        `ATS_ASSERT(ptw_cpl_requested, out_q[xcpl_id_o], "Translation Completion for an ID with no request taken")
        `ATS_ASSERT(ptw_cpl_size, xcpl_size_o != 2'd3 &&
                    (xcpl_cause_o == ats_pkg::FaultNone || (xcpl_ppn_o == '0 && !xcpl_writable_o)),
                    "completion size not 4K/2M/1G, or a fault that carries a translation")
      end
    end
  end

endmodule
