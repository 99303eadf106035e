// Page Request Interface (PCIe PRI) of the device; bound into `ats_dev_top`.
//
// Ghost state per thread, from the thread's interfaces only:
//   wr    the command is a write
//   need  the thread's walk ended in NOT_PRESENT / WRITE_PROTECT with PRI on
//         and fewer than PriRetries requests sent: a Page Request may follow
//   out   a Page Request of the thread was accepted, no PRG Response yet
//   cnt   Page Requests sent for the thread's current command
//   age   cycles the outstanding request has waited
//
//   pri_req_after_fault  a Page Request only for a thread whose translation
//                        faulted (and only once per fault), PRG index = thread
//   pri_req_fields       last set (one request per group), W = the command's
//                        write, R = not W
//   pri_retry_bounded    at most PriRetries requests per command
//   pri_wait_response    a thread with a request outstanding neither looks
//                        up the ATC nor answers its command, except by the
//                        timeout fault after PriTimeout cycles
//   pri_timeout          no request stays outstanding past PriTimeout cycles
// The Page Request channel is also checked for valid/payload stability.
// A PRG Response that names no outstanding request is legal (the device
// ignores it, e.g. an answer after the timeout).
`include "ats_assert.svh"

module pri_assert #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned ThreadW    = 2,
  parameter int unsigned PriTimeout = 4096,
  parameter int unsigned PriRetries = 4
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  input logic                       pri_en_i,
  input logic                       cmd_valid_i,
  input logic                       cmd_ready_i,
  input logic [ThreadW-1:0]         cmd_thread_i,
  input logic                       cmd_write_i,
  input logic                       lkp_valid_i,
  input logic [ThreadW-1:0]         lkp_thread_i,
  input logic                       xres_valid_i,
  input logic [ThreadW-1:0]         xres_thread_i,
  input logic [3:0]                 xres_cause_i,
  input logic                       pr_valid_i,
  input logic                       pr_ready_i,
  input logic [ats_pkg::PasidW-1:0] pr_pasid_i,
  input logic [51:0]                pr_addr_i,
  input logic                       pr_read_i,
  input logic                       pr_write_i,
  input logic [ats_pkg::PrgiW-1:0]  pr_prgi_i,
  input logic                       pr_last_i,
  input logic                       prgr_valid_i,
  input logic [ats_pkg::PrgiW-1:0]  prgr_prgi_i,
  input logic                       rsp_valid_i,
  input logic [ThreadW-1:0]         rsp_thread_i,
  input logic [3:0]                 rsp_cause_i
);

  `ATS_CHECKER_COMMON

  localparam int unsigned TmoW = $clog2(PriTimeout + 2);
  localparam int unsigned RtyW = $clog2(PriRetries + 2);

  hs_assert #(.W(ats_pkg::PasidW + 52 + 3 + ats_pkg::PrgiW)) u_hs_pr (
    .clk_i, .rst_ni, .valid_i(pr_valid_i), .ready_i(pr_ready_i),
    .data_i({pr_pasid_i, pr_addr_i, pr_read_i, pr_write_i, pr_last_i, pr_prgi_i}));

  logic [NumThreads-1:0]      wr_q, wr_d, need_q, need_d, out_q, out_d;
  logic [NumThreads*RtyW-1:0] cnt_q, cnt_d;
  logic [NumThreads*TmoW-1:0] age_q, age_d;
  logic                       req_bad, field_bad, retry_bad, wait_bad, tmo_bad;
  logic                       pr_fire, pr_known;
  logic [ThreadW-1:0]         pr_t;

  assign pr_fire  = pr_valid_i && pr_ready_i;
  assign pr_known = 32'(pr_prgi_i) < NumThreads;
  assign pr_t     = ThreadW'(pr_prgi_i);

  always_comb begin
    wr_d   = wr_q;
    need_d = need_q;
    out_d  = out_q;
    cnt_d  = cnt_q;
    age_d  = age_q;
    req_bad   = pr_valid_i && (!pr_known || !need_q[pr_t]);
    field_bad = pr_valid_i && pr_known && (!pr_last_i || pr_write_i != wr_q[pr_t] || pr_read_i == pr_write_i);
    retry_bad = pr_fire && pr_known && 32'(cnt_q[pr_t*RtyW +: RtyW]) >= PriRetries;
    wait_bad  = 1'b0;
    tmo_bad   = 1'b0;
    for (int unsigned t = 0; t < NumThreads; t++) begin
      logic resp;
      resp = prgr_valid_i && prgr_prgi_i == ats_pkg::PrgiW'(t) && out_q[t];
      if (out_q[t] && lkp_valid_i && lkp_thread_i == ThreadW'(t) && !resp) wait_bad = 1'b1;
      if (out_q[t] && rsp_valid_i && rsp_thread_i == ThreadW'(t) &&
          (rsp_cause_i != ats_pkg::FaultPriTimeout || 32'(age_q[t*TmoW +: TmoW]) < PriTimeout)) begin
        wait_bad = 1'b1;
      end
      if (out_q[t] && 32'(age_q[t*TmoW +: TmoW]) > PriTimeout + 1) tmo_bad = 1'b1;

      if (out_q[t]) age_d[t*TmoW +: TmoW] = age_q[t*TmoW +: TmoW] + 1'b1;
      if (resp || (rsp_valid_i && rsp_thread_i == ThreadW'(t))) out_d[t] = 1'b0;
      if (xres_valid_i && xres_thread_i == ThreadW'(t) && pri_en_i &&
          (xres_cause_i == ats_pkg::FaultNotPresent || xres_cause_i == ats_pkg::FaultWriteProtect) &&
          32'(cnt_q[t*RtyW +: RtyW]) < PriRetries) begin
        need_d[t] = 1'b1;
      end
      if (pr_fire && pr_known && pr_t == ThreadW'(t)) begin
        need_d[t] = 1'b0;
        out_d[t]  = 1'b1;
        age_d[t*TmoW +: TmoW] = '0;
        cnt_d[t*RtyW +: RtyW] = cnt_q[t*RtyW +: RtyW] + 1'b1;
      end
      if (cmd_valid_i && cmd_ready_i && cmd_thread_i == ThreadW'(t)) begin
        wr_d[t]   = cmd_write_i;
        need_d[t] = 1'b0;
        cnt_d[t*RtyW +: RtyW] = '0;
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      need_q <= '0;
      out_q  <= '0;
      cnt_q  <= '0;
      age_q  <= '0;
      wr_q   <= '0;
    end else begin
      need_q <= need_d;
      out_q  <= out_d;
      cnt_q  <= cnt_d;
      age_q  <= age_d;
      wr_q   <= wr_d;
    end
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ASSERT(pri_req_after_fault, !req_bad,
                  "Page Request for a thread without a translation fault to report (or a second one)")
      `ATS_ASSERT(pri_req_fields, !field_bad, "Page Request with last clear, or R/W not matching the command")
      `ATS_ASSERT(pri_retry_bounded, !retry_bad, "more than PriRetries Page Requests for one command")
      `ATS_ASSERT(pri_wait_response, !wait_bad,
                  "a thread went on (lookup or answer) with its Page Request unanswered and not timed out")
      `ATS_ASSERT(pri_timeout, !tmo_bad, "a Page Request outstanding past PriTimeout cycles")
    end
  end

  logic unused_pri;
  assign unused_pri = ^{pr_pasid_i, pr_addr_i};

endmodule
