// Interface checks on the ports of ats_dev_top (docs/ARCHITECTURE.md section 2).
//
//   handshakes  payload held while VALID && !READY: command, Invalidate Request,
//               R, B (inputs: environment), response, Invalidate Completion,
//               AR, AW, W (outputs)
//   AXI         single beat (LEN 0, SIZE 3, BURST INCR, WSTRB ff, WLAST 1);
//               IDs {1, thread} for DMA (reads and writes), {0, slot} for the
//               walker (entry reads, A/D writes); one access outstanding per
//               walker ID, at most Outstanding (DmaOutstanding) per DMA ID; exclusive (ARLOCK/AWLOCK) only for the walker, and every
//               walker write is exclusive; R and B always accepted, only for
//               an outstanding ID, EXOKAY only for an exclusive access
//               (environment)
//   ITags       an accepted ITag is not outstanding (environment); a
//               completion names an outstanding ITag, which it retires: each
//               accepted ITag is completed at most once, none without request,
//               and at least once within 64 cycles of an idle memory port
//   responses   one per command: a thread's command is taken only when it has
//               fewer than Outstanding responses pending, a response names a
//               thread with a command pending;
//               FAULT iff cause != 0
// Only top-level ports are used, so this checker also binds to a flattened
// netlist of the top.
`include "ats_assert.svh"

module top_assert #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned NumWalks   = 2,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned ThreadW    = (NumThreads > 1) ? $clog2(NumThreads) : 1,
  parameter int unsigned Outstanding = 1,  // DMA commands (and accesses per AXI ID) in flight per thread
  parameter bit          AssumeEnv  = 1'b0
) (
  input logic                       clk_i,
  input logic                       rst_ni,
  input logic                       cmd_valid_i,
  input logic                       cmd_ready_o,
  input logic [ThreadW-1:0]         cmd_thread_i,
  input logic                       cmd_write_i,
  input logic [ats_pkg::PasidW-1:0] cmd_pasid_i,
  input logic [63:0]                cmd_va_i,
  input logic [63:0]                cmd_wdata_i,
  input logic                       rsp_valid_o,
  input logic                       rsp_ready_i,
  input logic [ThreadW-1:0]         rsp_thread_o,
  input logic                       rsp_fault_o,
  input logic [3:0]                 rsp_cause_o,
  input logic [63:0]                rsp_rdata_o,
  input logic [PaWidth-1:0]         rsp_pa_o,
  input logic                       rsp_atc_hit_o,
  input logic                       inv_valid_i,
  input logic                       inv_ready_o,
  input logic [ats_pkg::ItagW-1:0]  inv_itag_i,
  input logic                       inv_pasid_valid_i,
  input logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input logic [51:0]                inv_addr_i,
  input logic                       inv_s_i,
  input logic                       inv_global_i,
  input logic                       invc_valid_o,
  input logic                       invc_ready_i,
  input logic [ats_pkg::ItagW-1:0]  invc_itag_o,
  input logic [ats_pkg::AxiIdW-1:0] m_axi_awid,
  input logic [PaWidth-1:0]         m_axi_awaddr,
  input logic [7:0]                 m_axi_awlen,
  input logic [2:0]                 m_axi_awsize,
  input logic [1:0]                 m_axi_awburst,
  input logic                       m_axi_awlock,
  input logic                       m_axi_awvalid,
  input logic                       m_axi_awready,
  input logic [63:0]                m_axi_wdata,
  input logic [7:0]                 m_axi_wstrb,
  input logic                       m_axi_wlast,
  input logic                       m_axi_wvalid,
  input logic                       m_axi_wready,
  input logic [ats_pkg::AxiIdW-1:0] m_axi_bid,
  input logic [1:0]                 m_axi_bresp,
  input logic                       m_axi_bvalid,
  input logic                       m_axi_bready,
  input logic [ats_pkg::AxiIdW-1:0] m_axi_arid,
  input logic [PaWidth-1:0]         m_axi_araddr,
  input logic [7:0]                 m_axi_arlen,
  input logic [2:0]                 m_axi_arsize,
  input logic [1:0]                 m_axi_arburst,
  input logic                       m_axi_arlock,
  input logic                       m_axi_arvalid,
  input logic                       m_axi_arready,
  input logic [ats_pkg::AxiIdW-1:0] m_axi_rid,
  input logic [63:0]                m_axi_rdata,
  input logic [1:0]                 m_axi_rresp,
  input logic                       m_axi_rlast,
  input logic                       m_axi_rvalid,
  input logic                       m_axi_rready
);

  `ATS_CHECKER_COMMON

  localparam int unsigned NumIds = 1 << ats_pkg::AxiIdW;

  // ---------------------------------------------------------------------------
  // handshakes
  // ---------------------------------------------------------------------------
  hs_assert #(.W(ThreadW + 1 + ats_pkg::PasidW + 128), .AssumeEnv(1'b1)) u_hs_cmd (
    .clk_i, .rst_ni, .valid_i(cmd_valid_i), .ready_i(cmd_ready_o),
    .data_i({cmd_thread_i, cmd_write_i, cmd_pasid_i, cmd_va_i, cmd_wdata_i}));
  hs_assert #(.W(ThreadW + 6 + 64 + PaWidth)) u_hs_rsp (
    .clk_i, .rst_ni, .valid_i(rsp_valid_o), .ready_i(rsp_ready_i),
    .data_i({rsp_thread_o, rsp_fault_o, rsp_cause_o, rsp_rdata_o, rsp_pa_o, rsp_atc_hit_o}));
  hs_assert #(.W(ats_pkg::ItagW + 1 + ats_pkg::PasidW + 52 + 2), .AssumeEnv(1'b1)) u_hs_inv (
    .clk_i, .rst_ni, .valid_i(inv_valid_i), .ready_i(inv_ready_o),
    .data_i({inv_itag_i, inv_pasid_valid_i, inv_pasid_i, inv_addr_i, inv_s_i, inv_global_i}));
  hs_assert #(.W(ats_pkg::ItagW)) u_hs_invc (
    .clk_i, .rst_ni, .valid_i(invc_valid_o), .ready_i(invc_ready_i), .data_i(invc_itag_o));
  hs_assert #(.W(ats_pkg::AxiIdW + PaWidth + 14)) u_hs_aw (
    .clk_i, .rst_ni, .valid_i(m_axi_awvalid), .ready_i(m_axi_awready),
    .data_i({m_axi_awid, m_axi_awaddr, m_axi_awlen, m_axi_awsize, m_axi_awburst, m_axi_awlock}));
  hs_assert #(.W(64 + 8 + 1)) u_hs_w (
    .clk_i, .rst_ni, .valid_i(m_axi_wvalid), .ready_i(m_axi_wready),
    .data_i({m_axi_wdata, m_axi_wstrb, m_axi_wlast}));
  hs_assert #(.W(ats_pkg::AxiIdW + PaWidth + 14)) u_hs_ar (
    .clk_i, .rst_ni, .valid_i(m_axi_arvalid), .ready_i(m_axi_arready),
    .data_i({m_axi_arid, m_axi_araddr, m_axi_arlen, m_axi_arsize, m_axi_arburst, m_axi_arlock}));
  hs_assert #(.W(ats_pkg::AxiIdW + 64 + 3), .AssumeEnv(1'b1)) u_hs_r (
    .clk_i, .rst_ni, .valid_i(m_axi_rvalid), .ready_i(m_axi_rready),
    .data_i({m_axi_rid, m_axi_rdata, m_axi_rresp, m_axi_rlast}));
  hs_assert #(.W(ats_pkg::AxiIdW + 2), .AssumeEnv(1'b1)) u_hs_b (
    .clk_i, .rst_ni, .valid_i(m_axi_bvalid), .ready_i(m_axi_bready),
    .data_i({m_axi_bid, m_axi_bresp}));

  // ---------------------------------------------------------------------------
  // ghost state: AXI IDs, ITags and commands outstanding
  // ---------------------------------------------------------------------------
  logic ar_fire, aw_fire, r_fire, b_fire, inv_fire, invc_fire, cmd_fire, rsp_fire;
  assign ar_fire   = m_axi_arvalid && m_axi_arready;
  assign aw_fire   = m_axi_awvalid && m_axi_awready;
  assign r_fire    = m_axi_rvalid && m_axi_rready;
  assign b_fire    = m_axi_bvalid && m_axi_bready;
  assign inv_fire  = inv_valid_i && inv_ready_o;
  assign invc_fire = invc_valid_o && invc_ready_i;
  assign cmd_fire  = cmd_valid_i && cmd_ready_o;
  assign rsp_fire  = rsp_valid_o && rsp_ready_i;

  logic [NumIds-1:0]          rd_out_q, rd_out_d, wr_out_q, wr_out_d;
  logic [NumIds-1:0]          rd_lock_q, rd_lock_d, wr_lock_q, wr_lock_d;  // outstanding access is exclusive
  logic [ats_pkg::NumItag-1:0] itag_out_q, itag_out_d;
  logic [NumThreads-1:0]      cmd_out_q, cmd_out_d;
  // DMA IDs and threads: accesses and commands outstanding, counted
  localparam int unsigned OcW = $clog2(Outstanding + 1);
  logic [8*OcW-1:0]           drd_q, drd_d, dwr_q, dwr_d;
  logic [NumThreads*OcW-1:0]  dcmd_q, dcmd_d;

  always_comb begin
    rd_out_d   = rd_out_q;
    wr_out_d   = wr_out_q;
    rd_lock_d  = rd_lock_q;
    wr_lock_d  = wr_lock_q;
    if (ar_fire) rd_lock_d[m_axi_arid] = m_axi_arlock;
    if (aw_fire) wr_lock_d[m_axi_awid] = m_axi_awlock;
    itag_out_d = itag_out_q;
    cmd_out_d  = cmd_out_q;
    if (r_fire) rd_out_d[m_axi_rid] = 1'b0;
    if (ar_fire) rd_out_d[m_axi_arid] = 1'b1;
    if (b_fire) wr_out_d[m_axi_bid] = 1'b0;
    if (aw_fire) wr_out_d[m_axi_awid] = 1'b1;
    if (invc_fire) itag_out_d[invc_itag_o] = 1'b0;
    if (inv_fire) itag_out_d[inv_itag_i] = 1'b1;
    if (rsp_fire) cmd_out_d[rsp_thread_o] = 1'b0;
    if (cmd_fire) cmd_out_d[cmd_thread_i] = 1'b1;
    drd_d  = drd_q;
    dwr_d  = dwr_q;
    dcmd_d = dcmd_q;
    for (int unsigned t = 0; t < 8; t++) begin
      if (ar_fire && m_axi_arid == {1'b1, 3'(t)}) drd_d[t*OcW +: OcW] = drd_d[t*OcW +: OcW] + 1'b1;
      if (r_fire && m_axi_rid == {1'b1, 3'(t)})   drd_d[t*OcW +: OcW] = drd_d[t*OcW +: OcW] - 1'b1;
      if (aw_fire && m_axi_awid == {1'b1, 3'(t)}) dwr_d[t*OcW +: OcW] = dwr_d[t*OcW +: OcW] + 1'b1;
      if (b_fire && m_axi_bid == {1'b1, 3'(t)})   dwr_d[t*OcW +: OcW] = dwr_d[t*OcW +: OcW] - 1'b1;
      if (drd_d[t*OcW +: OcW] != '0) rd_out_d[{1'b1, 3'(t)}] = 1'b1;
      if (dwr_d[t*OcW +: OcW] != '0) wr_out_d[{1'b1, 3'(t)}] = 1'b1;
    end
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (cmd_fire && cmd_thread_i == ThreadW'(t)) dcmd_d[t*OcW +: OcW] = dcmd_d[t*OcW +: OcW] + 1'b1;
      if (rsp_fire && rsp_thread_o == ThreadW'(t)) dcmd_d[t*OcW +: OcW] = dcmd_d[t*OcW +: OcW] - 1'b1;
      if (dcmd_d[t*OcW +: OcW] != '0) cmd_out_d[t] = 1'b1;
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      rd_out_q   <= '0;
      wr_out_q   <= '0;
      rd_lock_q  <= '0;
      wr_lock_q  <= '0;
      itag_out_q <= '0;
      cmd_out_q  <= '0;
      drd_q      <= '0;
      dwr_q      <= '0;
      dcmd_q     <= '0;
    end else begin
      rd_out_q   <= rd_out_d;
      wr_out_q   <= wr_out_d;
      rd_lock_q  <= rd_lock_d;
      wr_lock_q  <= wr_lock_d;
      itag_out_q <= itag_out_d;
      cmd_out_q  <= cmd_out_d;
      drd_q      <= drd_d;
      dwr_q      <= dwr_d;
      dcmd_q     <= dcmd_d;
    end
  end

  // ITag liveness, the "at least once" half of "each accepted ITag is completed
  // exactly once": count the cycles in which ITags are outstanding, a completion
  // could leave (invc_ready_i) and the memory port is idle (nothing outstanding
  // or requested on AXI, so no DMA access can still hold a drain); one must
  // leave within ItagLiveCycles such cycles.
  localparam int unsigned ItagLiveCycles = 64;
  logic       port_idle;
  logic [7:0] itag_idle_q;
  assign port_idle = rd_out_q == '0 && wr_out_q == '0 && !m_axi_arvalid && !m_axi_awvalid;

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      itag_idle_q <= '0;
    end else if (invc_fire || itag_out_q == '0) begin
      itag_idle_q <= '0;
    end else if (port_idle && invc_ready_i && itag_idle_q != 8'hff) begin
      itag_idle_q <= itag_idle_q + 8'd1;
    end
  end

  // an AXI ID names a DMA thread ({1, t}) or a walk slot ({0, s}) that exists
  function automatic logic id_ok(input logic [ats_pkg::AxiIdW-1:0] id);
    if (id[3]) begin
      id_ok = 32'(id[2:0]) < NumThreads;
    end else begin
      id_ok = 32'(id[2:0]) < NumWalks;
    end
  endfunction

  `ATS_CHECK begin
    if (ats_on_q) begin
      // AXI: single-beat bursts, documented IDs, one access per ID
      if (m_axi_arvalid) begin
        `ATS_ASSERT(axi_ar_single_beat, m_axi_arlen == 8'd0 && m_axi_arsize == 3'd3 && m_axi_arburst == 2'b01,
                    "AR is not LEN 0, SIZE 3, BURST INCR")
        `ATS_ASSERT(axi_ar_id, id_ok(m_axi_arid), "ARID names no DMA thread or walk slot")
        `ATS_ASSERT(axi_ar_lock, !m_axi_arlock || !m_axi_arid[3], "exclusive read by a DMA thread")
      end
      if (m_axi_awvalid) begin
        `ATS_ASSERT(axi_aw_single_beat, m_axi_awlen == 8'd0 && m_axi_awsize == 3'd3 && m_axi_awburst == 2'b01,
                    "AW is not LEN 0, SIZE 3, BURST INCR")
        `ATS_ASSERT(axi_aw_id, id_ok(m_axi_awid), "AWID names no DMA thread or walk slot")
        `ATS_ASSERT(axi_aw_lock, m_axi_awlock == !m_axi_awid[3],
                    "exclusive write by a DMA thread, or a walker write that is not exclusive")
      end
      if (m_axi_wvalid) begin
        `ATS_ASSERT(axi_w_single_beat, m_axi_wlast && m_axi_wstrb == 8'hff, "W is not WLAST=1, WSTRB=ff")
      end
      if (ar_fire) begin
        `ATS_ASSERT(axi_ar_id_unique, !rd_out_q[m_axi_arid] || (r_fire && m_axi_rid == m_axi_arid) ||
                    (m_axi_arid[3] && 32'(drd_q[32'(m_axi_arid[2:0])*OcW +: OcW]) < Outstanding),
                    "second read with an ID whose read is outstanding (DMA: more than Outstanding)")
      end
      if (aw_fire) begin
        `ATS_ASSERT(axi_aw_id_unique, !wr_out_q[m_axi_awid] || (b_fire && m_axi_bid == m_axi_awid) ||
                    (m_axi_awid[3] && 32'(dwr_q[32'(m_axi_awid[2:0])*OcW +: OcW]) < Outstanding),
                    "second write with an ID whose write is outstanding (DMA: more than Outstanding)")
      end
      `ATS_ASSERT(axi_r_b_ready, m_axi_rready && m_axi_bready, "R or B not always accepted")
      if (m_axi_rvalid) begin
        `ATS_ENV(axi_r_expected, rd_out_q[m_axi_rid], "R beat for an ID with no read outstanding")
        `ATS_ENV(axi_r_last, m_axi_rlast, "R beat without RLAST (single-beat reads)")
        `ATS_ENV(axi_r_exokay, m_axi_rresp != 2'b01 || rd_lock_q[m_axi_rid], "EXOKAY for a read that is not exclusive")
      end
      if (m_axi_bvalid) begin
        `ATS_ENV(axi_b_expected, wr_out_q[m_axi_bid], "B response for an ID with no write outstanding")
        `ATS_ENV(axi_b_exokay, m_axi_bresp != 2'b01 || wr_lock_q[m_axi_bid], "EXOKAY for a write that is not exclusive")
      end

      // ITags
      if (inv_fire) begin
        `ATS_ENV(itag_unique, !itag_out_q[inv_itag_i] || (invc_fire && invc_itag_o == inv_itag_i),
                 "Invalidate Request with an ITag that is still outstanding")
      end
      `ATS_ASSERT(itag_completes, itag_idle_q < 8'(ItagLiveCycles),
                  "an accepted ITag was not completed although the memory port was idle")
      if (invc_valid_o) begin
        `ATS_ASSERT(itag_cpl_requested, itag_out_q[invc_itag_o],
                    "Invalidate Completion for an ITag not outstanding (never requested or completed twice)")
      end

      // commands and responses
      if (cmd_valid_i) begin
        `ATS_ENV(cmd_thread_exists, 32'(cmd_thread_i) < NumThreads, "command for a thread that does not exist")
      end
      if (cmd_fire) begin
        `ATS_ASSERT(rsp_cmd_one_per_thread, !cmd_out_q[cmd_thread_i] || (rsp_fire && rsp_thread_o == cmd_thread_i) ||
                    32'(dcmd_q[32'(cmd_thread_i)*OcW +: OcW]) < Outstanding,
                    "command taken for a thread whose queue of Outstanding responses is full")
      end
      if (rsp_valid_o) begin
        `ATS_ASSERT(rsp_has_cmd, cmd_out_q[rsp_thread_o], "response for a thread with no command pending")
        `ATS_ASSERT(rsp_fault_cause, rsp_fault_o == (rsp_cause_o != 4'd0), "FAULT does not match cause != 0")
      end
    end
  end

endmodule
