// Bounded liveness of the walker, bound into ats_dev_top: a Translation
// Request the walker took is completed within MaxCycles cycles in which the
// memory is not the one holding it up. A cycle does not count when the AXI AR
// or AW channel is stalled (VALID && !READY) or a walker read or A/D write is
// outstanding on AXI (AR/AW taken, R/B not yet back): then the walk waits for
// the memory. The bound covers five reads and their A/D writes and re-reads
// (at most AdRetries per walk), each behind at most every other requester.
// Invalidations do not stop a walk (they only poison its result in the ATC,
// see atc_no_spurious_poison), so the bound holds whatever they do.
//
//   walk_bounded   every Translation Request in flight at the walker
`include "ats_assert.svh"

module walk_live_assert #(
  parameter int unsigned IdW       = 3,
  parameter int unsigned MaxCycles = 256
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  input logic                       xreq_valid_i,
  input logic                       xreq_ready_i,
  input logic [IdW-1:0]             xreq_id_i,
  input logic                       xcpl_valid_i,
  input logic                       xcpl_ready_i,
  input logic [IdW-1:0]             xcpl_id_i,
  input logic                       arvalid_i,
  input logic                       arready_i,
  input logic [ats_pkg::AxiIdW-1:0] arid_i,
  input logic                       rvalid_i,
  input logic                       rready_i,
  input logic [ats_pkg::AxiIdW-1:0] rid_i,
  input logic                       awvalid_i,
  input logic                       awready_i,
  input logic [ats_pkg::AxiIdW-1:0] awid_i,
  input logic                       bvalid_i,
  input logic                       bready_i,
  input logic [ats_pkg::AxiIdW-1:0] bid_i
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NumIds = 1 << IdW;

  logic [NumIds-1:0]    busy_q, busy_d;
  logic [NumIds*16-1:0] age_q, age_d;
  logic [7:0]           wrd_q, wrd_d;   // walker reads outstanding, per walk slot
  logic [7:0]           wwr_q, wwr_d;   // walker A/D writes outstanding, per walk slot
  logic                 mem_wait;
  logic [NumIds-1:0]    late;

  assign mem_wait = (arvalid_i && !arready_i) || (awvalid_i && !awready_i) || wrd_q != '0 || wwr_q != '0;

  always_comb begin
    wrd_d = wrd_q;
    if (rvalid_i && rready_i && !rid_i[3]) wrd_d[rid_i[2:0]] = 1'b0;
    if (arvalid_i && arready_i && !arid_i[3]) wrd_d[arid_i[2:0]] = 1'b1;
    wwr_d = wwr_q;
    if (bvalid_i && bready_i && !bid_i[3]) wwr_d[bid_i[2:0]] = 1'b0;
    if (awvalid_i && awready_i && !awid_i[3]) wwr_d[awid_i[2:0]] = 1'b1;
    busy_d = busy_q;
    age_d  = age_q;
    for (int unsigned i = 0; i < NumIds; i++) begin
      late[i] = busy_q[i] && 32'(age_q[i*16 +: 16]) > MaxCycles;
      if (busy_q[i] && !mem_wait && age_q[i*16 +: 16] != 16'hffff) age_d[i*16 +: 16] = age_q[i*16 +: 16] + 16'd1;
      if (xcpl_valid_i && xcpl_ready_i && xcpl_id_i == IdW'(i)) busy_d[i] = 1'b0;
      if (xreq_valid_i && xreq_ready_i && xreq_id_i == IdW'(i)) begin
        busy_d[i]             = 1'b1;
        age_d[i*16 +: 16]     = '0;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      busy_q <= '0;
      age_q  <= '0;
      wrd_q  <= '0;
      wwr_q  <= '0;
    end else begin
      busy_q <= busy_d;
      age_q  <= age_d;
      wrd_q  <= wrd_d;
      wwr_q  <= wwr_d;
    end
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ASSERT(walk_bounded, late == '0, "a walk took longer than MaxCycles cycles not spent waiting for memory")
    end
  end

endmodule
