// Assertion macros shared by the checker modules in rtl/assert/.
//
// Every check is an immediate assertion inside a clocked always block, so the
// same source is read by Verilator (--assert) and by Yosys
// (`read_verilog -formal -sv`, which has neither concurrent assertions nor
// action blocks). In simulation a failing check prints
//   [<time>] ASSERT <name> cycle <n> <instance path>: <message>
// through $error, which stops the simulation, and appends it to the file of
// the plusarg +ats_assert_log (ats_assert_pkg), from which
// tb.toolchain.run_cocotb lifts it into the test failure. In formal (FORMAL defined, as
// `read_verilog -formal` does) the name is the assertion's label, which
// SymbiYosys prints for a failing property.
//
// Environment checks use `ATS_ENV: in simulation they are assertions that
// catch a testbench breaking the interface contract; in formal they are
// assumptions when the checker's AssumeEnv parameter is set (the block's
// inputs), and assertions otherwise (the same contract checked on an output of
// a neighbouring block).
`ifndef ATS_ASSERT_SVH
`define ATS_ASSERT_SVH

`ifdef FORMAL
`define ATS_ASSERT(name, cond, msg) name: assert (cond);
`define ATS_ENV(name, cond, msg) \
  if (AssumeEnv) begin \
    name``_env: assume (cond); \
  end else begin \
    name: assert (cond); \
  end
`define ATS_COVER(name, cond) name: cover (cond);
// formal runs start in reset
`define ATS_FORMAL_RESET initial assume (!rst_ni);
// checks hold in the cycle they describe (an induction step's states are all
// constrained by them)
`define ATS_CHECK always_comb
`else
`define ATS_FORMAL_RESET
// checks sampled at the clock edge that ends the cycle they describe
`define ATS_CHECK always_ff @(posedge clk_i)
`define ATS_FAIL(name, pre, msg) \
  begin \
    ats_assert_pkg::log_fail($sformatf({"[%0t] ASSERT %s cycle %0d %m: ", pre, "%s"}, $time, `"name`", ats_cyc_q, msg)); \
    $error("%s", $sformatf({"[%0t] ASSERT %s cycle %0d %m: ", pre, "%s"}, $time, `"name`", ats_cyc_q, msg)); \
  end
`define ATS_ASSERT(name, cond, msg) \
  name: assert (cond) else `ATS_FAIL(name, "", msg)
`define ATS_ENV(name, cond, msg) \
  name: assert (cond) else if (AssumeEnv) `ATS_FAIL(name, "environment broke the contract: ", msg) \
                           else `ATS_FAIL(name, "", msg)
`define ATS_COVER(name, cond)
`endif

// Lemmas: invariants that tie a checker's ghost state to the block's
// registers. They are true properties (checked in simulation too) and the
// induction proofs need them; a formal task that shows a rule property failing
// on a broken design defines ATS_NO_LEMMAS, so that the rule, not a lemma
// that breaks a cycle earlier, is what fails.
`ifdef ATS_NO_LEMMAS
`define ATS_LEMMA(name, cond, msg)
`else
`define ATS_LEMMA(name, cond, msg) `ATS_ASSERT(name, cond, msg)
`endif

// Cycle counter for the messages (rising edges since time 0) and the enable
// of every check: set from the first clock edge out of reset (the checks
// never read the asynchronous reset synchronously).
`ifdef FORMAL
// Formal: checks are on whenever reset is released (the first cycle after
// reset sees the reset state), so an induction step never starts from an
// unchecked state.
`define ATS_CHECKER_COMMON \
  logic ats_on_q; \
  assign ats_on_q = rst_ni; \
  `ATS_FORMAL_RESET
`else
`define ATS_CHECKER_COMMON \
  logic [31:0] ats_cyc_q; \
  logic        ats_on_q; \
  initial ats_cyc_q = '0; \
  always @(posedge clk_i) ats_cyc_q <= ats_cyc_q + 32'd1; \
  always_ff @(posedge clk_i or negedge rst_ni) begin \
    if (!rst_ni) ats_on_q <= 1'b0; \
    else ats_on_q <= 1'b1; \
  end
`endif

`endif
