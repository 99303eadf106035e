// Valid/ready stability on one channel: once VALID is high without READY,
// VALID stays high and the payload is held until the handshake.
//
// Output channels (the block drives VALID and payload) are assertions;
// input channels (AssumeEnv = 1) are the environment's side of the contract:
// assertions on the testbench in simulation, assumptions in formal.
`include "ats_assert.svh"

module hs_assert #(
  parameter int unsigned W         = 1,
  parameter bit          AssumeEnv = 1'b0
) (
  input logic         clk_i,
  input logic         rst_ni,
  input logic         valid_i,
  input logic         ready_i,
  input logic [W-1:0] data_i
);

  `ATS_CHECKER_COMMON

  logic         stall_q;  // VALID && !READY in the previous cycle
  logic [W-1:0] data_q;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      stall_q <= 1'b0;
    end else begin
      stall_q <= valid_i && !ready_i;
    end
  end

  always_ff @(posedge clk_i) begin
    data_q <= data_i;
  end

  `ATS_CHECK begin
    if (ats_on_q && stall_q) begin
      `ATS_ENV(hs_valid_held, valid_i, "VALID dropped before READY")
      `ATS_ENV(hs_payload_held, data_i == data_q, "payload changed while VALID && !READY")
    end
  end

endmodule
