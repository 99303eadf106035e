// Arbiter over N requesters: one grant index per cycle, round robin or fixed
// priority, with an optional lock.
//
// Round robin (RoundRobin = 1): the lowest requesting index above the last
// granted index wins, else the lowest requesting index. Fixed priority
// (RoundRobin = 0): the lowest requesting index wins. A grant is taken when
// valid_o && ready_i; the round-robin pointer then moves to it.
//
// Lock = 1: a grant that is not taken is held (valid_o set, idx_o stable)
// until it is taken, whatever req_i does meanwhile. Lock = 0: the grant is
// recomputed every cycle (for requesters that keep requesting until taken, or
// a consumer that always takes it).

module rr_arb #(
  parameter int unsigned N          = 4,
  parameter bit          RoundRobin = 1'b1,
  parameter bit          Lock       = 1'b1,
  parameter int unsigned IdxW       = (N > 1) ? $clog2(N) : 1  // at least $clog2(N)
) (
  input  logic            clk_i,
  input  logic            rst_ni,
  input  logic [N-1:0]    req_i,
  input  logic            ready_i,  // downstream accepts the grant this cycle
  output logic            valid_o,  // a grant this cycle
  output logic [IdxW-1:0] idx_o     // granted requester
);

  logic            any;
  logic [IdxW-1:0] sel;
  logic [IdxW-1:0] last;  // last granted index

  always_comb begin
    any = 1'b0;
    sel = '0;
    for (int unsigned i = 0; i < N; i++) begin
      if (!any && req_i[i] && IdxW'(i) > last) begin
        any = 1'b1;
        sel = IdxW'(i);
      end
    end
    for (int unsigned i = 0; i < N; i++) begin
      if (!any && req_i[i]) begin
        any = 1'b1;
        sel = IdxW'(i);
      end
    end
  end

  if (RoundRobin) begin : gen_rr
    logic [IdxW-1:0] rr_q, rr_d;

    assign rr_d = (valid_o && ready_i) ? idx_o : rr_q;
    assign last = rr_q;

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        rr_q <= '0;
      end else begin
        rr_q <= rr_d;
      end
    end
  end else begin : gen_fixed
    // no index lies above all ones: the lowest requesting index wins
    assign last = '1;
  end

  if (Lock) begin : gen_lock
    logic            lock_q, lock_d;
    logic [IdxW-1:0] sel_q, sel_d;

    assign valid_o = any || lock_q;
    assign idx_o   = lock_q ? sel_q : sel;
    assign lock_d  = valid_o && !ready_i;
    assign sel_d   = lock_d ? idx_o : sel_q;

    always_ff @(posedge clk_i or negedge rst_ni) begin
      if (!rst_ni) begin
        lock_q <= 1'b0;
        sel_q  <= '0;
      end else begin
        lock_q <= lock_d;
        sel_q  <= sel_d;
      end
    end
  end else begin : gen_no_lock
    assign valid_o = any;
    assign idx_o   = sel;
  end

  if (!RoundRobin && !Lock) begin : gen_comb
    // a plain priority encoder: no state, the handshake is not needed
    logic unused_arb;
    assign unused_arb = ^{clk_i, rst_ni, ready_i};
  end

endmodule
