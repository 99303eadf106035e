// AXI4 master port shared by the walker (reads) and the DMA threads.
//
// Single-beat 64-bit accesses (LEN 0, SIZE 3, BURST INCR, WSTRB ff).
// AR: round robin over walk slots and DMA read threads into an output
// register (valid/payload stable until ARREADY). AW/W: round robin over DMA
// write threads into a pair of output registers loaded together, so W data
// follow AW order. A requester is granted (gnt pulse) when its request enters
// the output register. IDs: {1, thread} for DMA, {0, slot} for the walker.
// The walker's entry reads are exclusive (ARLOCK) and its A/D updates are
// exclusive writes (AWLOCK) of the entry address, competing with the DMA
// writes in the AW round robin; DMA accesses are never exclusive.
// R and B are always accepted and routed by ID; responses with an ID that
// names no requester are dropped. RRESP/BRESP: bit 1 is an error, EXOKAY is
// reported separately (r_exok_o, b_exok_o).

module axi_arb #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned NumWalks   = 2,
  parameter int unsigned PaWidth    = 48
) (
  input  logic                          clk_i,
  input  logic                          rst_ni,
  // walker reads
  input  logic [NumWalks-1:0]           pw_req_i,
  input  logic [NumWalks*PaWidth-1:0]   pw_addr_i,
  input  logic [NumWalks-1:0]           pw_lock_i,
  output logic [NumWalks-1:0]           pw_gnt_o,
  output logic [NumWalks-1:0]           pw_r_valid_o,
  // walker A/D writes (address pw_addr_i)
  input  logic [NumWalks-1:0]           pw_wr_req_i,
  input  logic [NumWalks*64-1:0]        pw_wdata_i,
  output logic [NumWalks-1:0]           pw_wr_gnt_o,
  output logic [NumWalks-1:0]           pw_b_valid_o,
  // DMA accesses
  input  logic [NumThreads-1:0]         dm_rd_req_i,
  input  logic [NumThreads-1:0]         dm_wr_req_i,
  input  logic [NumThreads*PaWidth-1:0] dm_addr_i,
  input  logic [NumThreads*64-1:0]      dm_wdata_i,
  output logic [NumThreads-1:0]         dm_gnt_o,
  output logic [NumThreads-1:0]         dm_r_valid_o,
  output logic [NumThreads-1:0]         dm_b_valid_o,
  // read data / errors (shared by walker and DMA)
  output logic [63:0]                   r_data_o,
  output logic                          r_err_o,
  output logic                          r_exok_o,
  output logic                          b_err_o,
  output logic                          b_exok_o,
  // AXI4 master
  output logic [ats_pkg::AxiIdW-1:0]    m_axi_awid,
  output logic [PaWidth-1:0]            m_axi_awaddr,
  output logic [7:0]                    m_axi_awlen,
  output logic [2:0]                    m_axi_awsize,
  output logic [1:0]                    m_axi_awburst,
  output logic                          m_axi_awlock,
  output logic                          m_axi_awvalid,
  input  logic                          m_axi_awready,
  output logic [63:0]                   m_axi_wdata,
  output logic [7:0]                    m_axi_wstrb,
  output logic                          m_axi_wlast,
  output logic                          m_axi_wvalid,
  input  logic                          m_axi_wready,
  input  logic [ats_pkg::AxiIdW-1:0]    m_axi_bid,
  input  logic [1:0]                    m_axi_bresp,
  input  logic                          m_axi_bvalid,
  output logic                          m_axi_bready,
  output logic [ats_pkg::AxiIdW-1:0]    m_axi_arid,
  output logic [PaWidth-1:0]            m_axi_araddr,
  output logic [7:0]                    m_axi_arlen,
  output logic [2:0]                    m_axi_arsize,
  output logic [1:0]                    m_axi_arburst,
  output logic                          m_axi_arlock,
  output logic                          m_axi_arvalid,
  input  logic                          m_axi_arready,
  input  logic [ats_pkg::AxiIdW-1:0]    m_axi_rid,
  input  logic [63:0]                   m_axi_rdata,
  input  logic [1:0]                    m_axi_rresp,
  input  logic                          m_axi_rlast,
  input  logic                          m_axi_rvalid,
  output logic                          m_axi_rready
);

  localparam int unsigned NumRd = NumWalks + NumThreads;  // AR requesters: walk slots, then threads
  localparam int unsigned RdW   = $clog2(NumRd);
  localparam int unsigned NumWr = NumWalks + NumThreads;  // AW requesters: walk slots, then threads
  localparam int unsigned WrW   = $clog2(NumWr);

  // ---------------------------------------------------------------------------
  // AR
  // ---------------------------------------------------------------------------
  logic [NumRd-1:0]   rd_req;
  logic               ar_any;
  logic [RdW-1:0]     ar_sel;
  logic               ar_load;
  logic               arvalid_q, arvalid_d;
  logic               arlock_q, arlock_d;
  logic [ats_pkg::AxiIdW-1:0] arid_q, arid_d;
  logic [PaWidth-1:0] araddr_q, araddr_d;

  assign rd_req  = {dm_rd_req_i, pw_req_i};
  assign ar_load = !arvalid_q || m_axi_arready;

  // no lock: the output register holds a request, and requesters keep
  // requesting until granted
  rr_arb #(
    .N   (NumRd),
    .Lock(1'b0),
    .IdxW(RdW)
  ) u_ar_arb (
    .clk_i,
    .rst_ni,
    .req_i  (rd_req),
    .ready_i(ar_load),
    .valid_o(ar_any),
    .idx_o  (ar_sel)
  );

  logic [NumThreads-1:0] dm_rd_gnt, dm_wr_gnt;

  always_comb begin
    arvalid_d = arvalid_q && !m_axi_arready;
    arid_d    = arid_q;
    arlock_d  = arlock_q;
    araddr_d  = araddr_q;
    pw_gnt_o  = '0;
    dm_rd_gnt = '0;
    if (ar_load && ar_any) begin
      arvalid_d = 1'b1;
    end
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (ar_load && ar_any && ar_sel == RdW'(s)) begin
        arid_d      = {1'b0, 3'(s)};
        arlock_d    = pw_lock_i[s];
        araddr_d    = pw_addr_i[s*PaWidth +: PaWidth];
        pw_gnt_o[s] = 1'b1;
      end
    end
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (ar_load && ar_any && ar_sel == RdW'(NumWalks + t)) begin
        arid_d       = {1'b1, 3'(t)};
        arlock_d     = 1'b0;
        araddr_d     = dm_addr_i[t*PaWidth +: PaWidth];
        dm_rd_gnt[t] = 1'b1;
      end
    end
  end

  assign dm_gnt_o = dm_rd_gnt | dm_wr_gnt;

  // ---------------------------------------------------------------------------
  // AW / W
  // ---------------------------------------------------------------------------
  logic               wr_any;
  logic [WrW-1:0]     wr_sel;
  logic               aw_load;
  logic               awvalid_q, awvalid_d;
  logic               wvalid_q, wvalid_d;
  logic               awlock_q, awlock_d;
  logic [NumWr-1:0]   wr_req;
  logic [ats_pkg::AxiIdW-1:0] awid_q, awid_d;
  logic [PaWidth-1:0] awaddr_q, awaddr_d;
  logic [63:0]        wdata_q, wdata_d;

  assign aw_load = (!awvalid_q || m_axi_awready) && (!wvalid_q || m_axi_wready);

  assign wr_req = {dm_wr_req_i, pw_wr_req_i};

  rr_arb #(
    .N   (NumWr),
    .Lock(1'b0),
    .IdxW(WrW)
  ) u_aw_arb (
    .clk_i,
    .rst_ni,
    .req_i  (wr_req),
    .ready_i(aw_load),
    .valid_o(wr_any),
    .idx_o  (wr_sel)
  );

  always_comb begin
    awvalid_d = awvalid_q && !m_axi_awready;
    wvalid_d  = wvalid_q && !m_axi_wready;
    awid_d    = awid_q;
    awlock_d  = awlock_q;
    awaddr_d  = awaddr_q;
    wdata_d   = wdata_q;
    dm_wr_gnt = '0;
    pw_wr_gnt_o = '0;
    if (aw_load && wr_any) begin
      awvalid_d = 1'b1;
      wvalid_d  = 1'b1;
    end
    for (int unsigned s = 0; s < NumWalks; s++) begin
      if (aw_load && wr_any && wr_sel == WrW'(s)) begin
        pw_wr_gnt_o[s] = 1'b1;
        awid_d         = {1'b0, 3'(s)};
        awlock_d       = 1'b1;
        awaddr_d       = pw_addr_i[s*PaWidth +: PaWidth];
        wdata_d        = pw_wdata_i[s*64 +: 64];
      end
    end
    for (int unsigned t = 0; t < NumThreads; t++) begin
      if (aw_load && wr_any && wr_sel == WrW'(NumWalks + t)) begin
        dm_wr_gnt[t] = 1'b1;
        awid_d       = {1'b1, 3'(t)};
        awlock_d     = 1'b0;
        awaddr_d     = dm_addr_i[t*PaWidth +: PaWidth];
        wdata_d      = dm_wdata_i[t*64 +: 64];
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      arvalid_q <= 1'b0;
      awvalid_q <= 1'b0;
      wvalid_q  <= 1'b0;
      arid_q    <= '0;
      awid_q    <= '0;
      arlock_q  <= 1'b0;
      awlock_q  <= 1'b0;
      araddr_q  <= '0;
      awaddr_q  <= '0;
      wdata_q   <= '0;
    end else begin
      arvalid_q <= arvalid_d;
      awvalid_q <= awvalid_d;
      wvalid_q  <= wvalid_d;
      arid_q    <= arid_d;
      awid_q    <= awid_d;
      arlock_q  <= arlock_d;
      awlock_q  <= awlock_d;
      araddr_q  <= araddr_d;
      awaddr_q  <= awaddr_d;
      wdata_q   <= wdata_d;
    end
  end

  assign m_axi_arvalid = arvalid_q;
  assign m_axi_arid    = arid_q;
  assign m_axi_araddr  = araddr_q;
  assign m_axi_arlen   = 8'd0;
  assign m_axi_arsize  = 3'd3;
  assign m_axi_arburst = 2'b01;
  assign m_axi_arlock  = arlock_q;

  assign m_axi_awvalid = awvalid_q;
  assign m_axi_awid    = awid_q;
  assign m_axi_awaddr  = awaddr_q;
  assign m_axi_awlen   = 8'd0;
  assign m_axi_awsize  = 3'd3;
  assign m_axi_awburst = 2'b01;
  assign m_axi_awlock  = awlock_q;
  assign m_axi_wvalid  = wvalid_q;
  assign m_axi_wdata   = wdata_q;
  assign m_axi_wstrb   = 8'hff;
  assign m_axi_wlast   = 1'b1;

  // ---------------------------------------------------------------------------
  // R / B routing
  // ---------------------------------------------------------------------------
  assign m_axi_rready = 1'b1;
  assign m_axi_bready = 1'b1;
  assign r_data_o     = m_axi_rdata;
  assign r_err_o      = m_axi_rresp[ats_pkg::AxiRespErrBit];
  assign b_err_o      = m_axi_bresp[ats_pkg::AxiRespErrBit];
  assign r_exok_o     = m_axi_rresp == ats_pkg::AxiRespExOkay;
  assign b_exok_o     = m_axi_bresp == ats_pkg::AxiRespExOkay;

  always_comb begin
    for (int unsigned s = 0; s < NumWalks; s++) begin
      pw_r_valid_o[s] = m_axi_rvalid && !m_axi_rid[3] && m_axi_rid[2:0] == 3'(s);
      pw_b_valid_o[s] = m_axi_bvalid && !m_axi_bid[3] && m_axi_bid[2:0] == 3'(s);
    end
    for (int unsigned t = 0; t < NumThreads; t++) begin
      dm_r_valid_o[t] = m_axi_rvalid && m_axi_rid[3] && m_axi_rid[2:0] == 3'(t);
      dm_b_valid_o[t] = m_axi_bvalid && m_axi_bid[3] && m_axi_bid[2:0] == 3'(t);
    end
  end

  // single-beat: RLAST is always set
  logic unused_axi;
  assign unused_axi = ^{m_axi_rlast};

endmodule
