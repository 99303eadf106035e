// The SystemVerilog side of the C++ AXI4 memory slave (tb/csrc/axi_slave.cpp).
//
// At every rising edge the master's outputs, as they were before the edge, go to
// axs_tick(); its answers (READYs, the R and B beats) are registered here for the
// next cycle. No Python runs per clock or per beat. Ports carry the master's names
// (m_axi_*), so a wrapper connects it with `.*` beside the device.
module axi_slave_dpi #(
  parameter int unsigned IdW   = 4,
  parameter int unsigned AddrW = 48
) (
  input  logic             clk_i,
  input  logic [IdW-1:0]   m_axi_arid,
  input  logic [AddrW-1:0] m_axi_araddr,
  input  logic [7:0]       m_axi_arlen,
  input  logic [2:0]       m_axi_arsize,
  input  logic             m_axi_arlock,
  input  logic             m_axi_arvalid,
  output logic             m_axi_arready,
  output logic [IdW-1:0]   m_axi_rid,
  output logic [63:0]      m_axi_rdata,
  output logic [1:0]       m_axi_rresp,
  output logic             m_axi_rlast,
  output logic             m_axi_rvalid,
  input  logic             m_axi_rready,
  input  logic [IdW-1:0]   m_axi_awid,
  input  logic [AddrW-1:0] m_axi_awaddr,
  input  logic [7:0]       m_axi_awlen,
  input  logic [2:0]       m_axi_awsize,
  input  logic             m_axi_awlock,
  input  logic             m_axi_awvalid,
  output logic             m_axi_awready,
  input  logic [63:0]      m_axi_wdata,
  input  logic [7:0]       m_axi_wstrb,
  input  logic             m_axi_wlast,
  input  logic             m_axi_wvalid,
  output logic             m_axi_wready,
  output logic [IdW-1:0]   m_axi_bid,
  output logic [1:0]       m_axi_bresp,
  output logic             m_axi_bvalid,
  input  logic             m_axi_bready
);
  import "DPI-C" function void axs_tick(
    input bit arvalid, input int unsigned arid, input longint unsigned araddr, input int unsigned arlen,
    input int unsigned arsize, input bit arlock,
    input bit awvalid, input int unsigned awid, input longint unsigned awaddr, input int unsigned awlen,
    input int unsigned awsize, input bit awlock,
    input bit wvalid, input longint unsigned wdata, input int unsigned wstrb, input bit wlast,
    input bit rready, input bit bready,
    output bit arready, output bit awready, output bit wready,
    output bit rvalid, output int unsigned rid, output longint unsigned rdata, output int unsigned rresp,
    output bit bvalid, output int unsigned bid, output int unsigned bresp);

  bit              t_arready, t_awready, t_wready, t_rvalid, t_bvalid;
  int unsigned     t_rid, t_rresp, t_bid, t_bresp;
  longint unsigned t_rdata;

  initial begin
    m_axi_arready = 1'b0;
    m_axi_awready = 1'b0;
    m_axi_wready  = 1'b0;
    m_axi_rvalid  = 1'b0;
    m_axi_bvalid  = 1'b0;
    m_axi_rid     = '0;
    m_axi_rdata   = '0;
    m_axi_rresp   = '0;
    m_axi_bid     = '0;
    m_axi_bresp   = '0;
  end
  assign m_axi_rlast = 1'b1;

  always @(posedge clk_i) begin
    axs_tick(m_axi_arvalid, 32'(m_axi_arid), 64'(m_axi_araddr), 32'(m_axi_arlen), 32'(m_axi_arsize),
             m_axi_arlock, m_axi_awvalid, 32'(m_axi_awid), 64'(m_axi_awaddr), 32'(m_axi_awlen),
             32'(m_axi_awsize), m_axi_awlock, m_axi_wvalid, m_axi_wdata, 32'(m_axi_wstrb), m_axi_wlast,
             m_axi_rready, m_axi_bready, t_arready, t_awready, t_wready, t_rvalid, t_rid, t_rdata, t_rresp,
             t_bvalid, t_bid, t_bresp);
    m_axi_arready <= t_arready;
    m_axi_awready <= t_awready;
    m_axi_wready  <= t_wready;
    m_axi_rvalid  <= t_rvalid;
    m_axi_rid     <= IdW'(t_rid);
    m_axi_rdata   <= t_rdata;
    m_axi_rresp   <= 2'(t_rresp);
    m_axi_bvalid  <= t_bvalid;
    m_axi_bid     <= IdW'(t_bid);
    m_axi_bresp   <= 2'(t_bresp);
  end
endmodule
