// PCIe ATS-capable device: DMA threads, ATC, page walker, invalidation
// queue and one AXI4 master port (docs/ARCHITECTURE.md section 2).
//
//   dma (threads) --lookup--> atc --Translation Request/Completion--> ptw
//        |                     ^                                        |
//        |                     +-- inv (drop, poison) ----- PWC flush --+
//        +------ accesses ------> axi_arb <------- walker reads --------+

module ats_dev_top #(
  parameter int unsigned NumThreads = 4,
  parameter int unsigned AtcEntries = 16,
  // ATC organisation (docs/ARCHITECTURE.md): 0 fully associative; N: N-way
  // set-associative 4 KiB entries (block RAM) and AtcHugeEntries fully
  // associative entries for 2 MiB / 1 GiB pages
  parameter int unsigned AtcWays    = 0,
  parameter int unsigned AtcHugeEntries = 4,
  parameter int unsigned NumWalks   = 2,
  parameter int unsigned PwcEntries = 8,
  parameter int unsigned PaWidth    = 48,
  parameter int unsigned AdRetries  = 4,   // lost A/D reservations per walk before FaultAdUpdate
  // Page Requests (PCIe PRI, docs/ARCHITECTURE.md): cycles a request may stay
  // unanswered, and requests per command at most (then FaultLivelock)
  parameter int unsigned PriTimeout = 4096,
  parameter int unsigned PriRetries = 4,
  // 1: the ATC caches a 2 MiB / 1 GiB translation as the 4 KiB entry of the
  // access (an ATC that stores only 4 KiB pages); 0: as one entry of its size
  parameter bit          AtcSplitHuge = 1'b0,
  // AXI port (docs/ARCHITECTURE.md 2): cycles a walker or DMA request may wait
  // for the port, and then for its R/B, before it ends in FaultBusTimeout (>= 1)
  parameter int unsigned AxiTimeout = 4096,
  // Walk forward progress (docs/ARCHITECTURE.md): raced walks in a row per
  // Translation Request ID before the next one runs while new Invalidate
  // Requests are held back (0: never hold; a walk may starve)
  parameter int unsigned WalkMaxRetries = 4,
  // DMA command queue (docs/ARCHITECTURE.md 2): commands (accesses in flight)
  // per thread, answered in order per thread
  parameter int unsigned DmaOutstanding = 1,
  // 1: an Invalidate Completion waits only for the accesses whose translation
  // overlaps it; 0: for every access holding a translation when it was accepted
  parameter bit          DmaDrainExact  = 1'b0,
  // Test-only switches (docs/ARCHITECTURE.md 5): each breaks one ATS rule on
  // purpose so the co-simulation can show what the host relies on. Keep 0.
  parameter bit          DbgNoDrain  = 1'b0,  // Invalidate Completion does not wait for DMA
  parameter bit          DbgNoPoison = 1'b0,  // a walk raced by an invalidation still fills
  localparam int unsigned ThreadW   = (NumThreads > 1) ? $clog2(NumThreads) : 1,
  localparam int unsigned NumSlots  = NumThreads * DmaOutstanding,  // DMA command slots
  localparam int unsigned SlotW     = (NumSlots > 1) ? $clog2(NumSlots) : 1
) (
  input  logic                       clk_i,
  input  logic                       rst_ni,
  // config
  input  logic [PaWidth-1:0]         pasid_tbl_base_i,
  input  logic                       pri_en_i,  // 0: a translation fault is answered at once (no PRI)
  input  logic                       atc_wp_fault_i,  // 1: a write on a read-only ATC entry faults (no walk)
  input  logic                       pwc_keep_sup_i,  // 1: the PWC keeps U/S-clear entries, U/S decided at the leaf
  // commands
  input  logic                       cmd_valid_i,
  output logic                       cmd_ready_o,
  input  logic [ThreadW-1:0]         cmd_thread_i,
  input  logic                       cmd_write_i,
  input  logic [ats_pkg::PasidW-1:0] cmd_pasid_i,
  input  logic [63:0]                cmd_va_i,
  input  logic [63:0]                cmd_wdata_i,
  // responses
  output logic                       rsp_valid_o,
  input  logic                       rsp_ready_i,
  output logic [ThreadW-1:0]         rsp_thread_o,
  output logic                       rsp_fault_o,
  output logic [3:0]                 rsp_cause_o,
  output logic [63:0]                rsp_rdata_o,
  output logic [PaWidth-1:0]         rsp_pa_o,
  output logic                       rsp_atc_hit_o,
  // Invalidate Request
  input  logic                       inv_valid_i,
  output logic                       inv_ready_o,
  input  logic [ats_pkg::ItagW-1:0]  inv_itag_i,
  input  logic                       inv_pasid_valid_i,
  input  logic [ats_pkg::PasidW-1:0] inv_pasid_i,
  input  logic [51:0]                inv_addr_i,
  input  logic                       inv_s_i,
  input  logic                       inv_global_i,
  // Invalidate Completion
  output logic                       invc_valid_o,
  input  logic                       invc_ready_i,
  output logic [ats_pkg::ItagW-1:0]  invc_itag_o,
  // Page Request (PRG index = thread id, one request per group)
  output logic                       pr_valid_o,
  input  logic                       pr_ready_i,
  output logic [ats_pkg::PasidW-1:0] pr_pasid_o,
  output logic [51:0]                pr_addr_o,
  output logic                       pr_read_o,
  output logic                       pr_write_o,
  output logic [ats_pkg::PrgiW-1:0]  pr_prgi_o,
  output logic                       pr_last_o,
  // PRG Response (always accepted)
  input  logic                       prgr_valid_i,
  output logic                       prgr_ready_o,
  input  logic [ats_pkg::PrgiW-1:0]  prgr_prgi_i,
  input  logic [3:0]                 prgr_code_i,
  // AXI4 master
  output logic [ats_pkg::AxiIdW-1:0] m_axi_awid,
  output logic [PaWidth-1:0]         m_axi_awaddr,
  output logic [7:0]                 m_axi_awlen,
  output logic [2:0]                 m_axi_awsize,
  output logic [1:0]                 m_axi_awburst,
  output logic                       m_axi_awlock,
  output logic                       m_axi_awvalid,
  input  logic                       m_axi_awready,
  output logic [63:0]                m_axi_wdata,
  output logic [7:0]                 m_axi_wstrb,
  output logic                       m_axi_wlast,
  output logic                       m_axi_wvalid,
  input  logic                       m_axi_wready,
  input  logic [ats_pkg::AxiIdW-1:0] m_axi_bid,
  input  logic [1:0]                 m_axi_bresp,
  input  logic                       m_axi_bvalid,
  output logic                       m_axi_bready,
  output logic [ats_pkg::AxiIdW-1:0] m_axi_arid,
  output logic [PaWidth-1:0]         m_axi_araddr,
  output logic [7:0]                 m_axi_arlen,
  output logic [2:0]                 m_axi_arsize,
  output logic [1:0]                 m_axi_arburst,
  output logic                       m_axi_arlock,
  output logic                       m_axi_arvalid,
  input  logic                       m_axi_arready,
  input  logic [ats_pkg::AxiIdW-1:0] m_axi_rid,
  input  logic [63:0]                m_axi_rdata,
  input  logic [1:0]                 m_axi_rresp,
  input  logic                       m_axi_rlast,
  input  logic                       m_axi_rvalid,
  output logic                       m_axi_rready
);

  localparam int unsigned PpnW = PaWidth - 12;
  // Translation Request ID: one per DMA slot
  localparam int unsigned IdW  = (SlotW > ats_pkg::XIdW) ? SlotW : ats_pkg::XIdW;

  // ATC lookup
  logic               lkp_valid;
  logic [SlotW-1:0]   lkp_thread;
  logic [ats_pkg::PasidW-1:0] lkp_pasid;
  logic [35:0]        lkp_vpn;
  logic               lkp_write;
  logic               lkp_rvalid;
  logic [SlotW-1:0]   lkp_rthread;
  logic [1:0]         lkp_size;
  logic               lkp_hit;
  logic [PpnW-1:0]    lkp_ppn;
  // miss results
  logic               xres_valid;
  logic [SlotW-1:0]   xres_thread;
  logic [3:0]         xres_cause;
  logic [PpnW-1:0]    xres_ppn;
  // Translation Request / Completion
  logic               xreq_valid, xreq_ready;
  logic [IdW-1:0]     xreq_id;
  logic [ats_pkg::PasidW-1:0] xreq_pasid;
  logic [51:0]        xreq_vpn;
  logic               xreq_write;
  logic               xcpl_valid, xcpl_ready;
  logic [IdW-1:0]     xcpl_id;
  logic [3:0]         xcpl_cause;
  logic [PpnW-1:0]    xcpl_ppn;
  logic [1:0]         xcpl_size;
  logic               xcpl_writable;
  // invalidation
  logic               ap_valid, ap_all;
  logic [ats_pkg::PasidW-1:0] ap_pasid;
  logic [51:0]        ap_addr, ap_keep;
  logic [NumSlots-1:0] holds_xlat, mem_done;
  logic               walk_hold;  // walker forward progress: no new Invalidate Request accepted
  // memory
  logic [NumWalks-1:0]           pw_req, pw_gnt, pw_r_valid, pw_lock;
  logic [NumWalks*PaWidth-1:0]   pw_addr;
  logic [NumWalks-1:0]           pw_wr_req, pw_wr_gnt, pw_b_valid;
  logic [NumWalks*64-1:0]        pw_wdata;
  logic [NumThreads-1:0]         dm_rd_req, dm_wr_req, dm_gnt, dm_r_valid, dm_b_valid;
  logic [NumThreads*PaWidth-1:0] dm_addr;
  logic [NumThreads*64-1:0]      dm_wdata;
  logic [63:0]                   r_data;
  logic                          r_err, b_err, r_exok, b_exok;
  logic [35:0]                   pr_vpn;

  // Page Request address: the canonical VPN sign-extended to VA[63:12]
  assign pr_addr_o    = ats_pkg::sext_vpn(pr_vpn);
  assign prgr_ready_o = 1'b1;

  dma #(
    .NumThreads (NumThreads),
    .Outstanding(DmaOutstanding),
    .PaWidth    (PaWidth),
    .ThreadW    (ThreadW),
    .SlotW      (SlotW),
    .DrainExact (DmaDrainExact),
    .PriTimeout(PriTimeout),
    .PriRetries(PriRetries),
    .AxiTimeout(AxiTimeout)
  ) u_dma (
    .clk_i,
    .rst_ni,
    .pri_en_i,
    .cmd_valid_i,
    .cmd_ready_o,
    .cmd_thread_i,
    .cmd_write_i,
    .cmd_pasid_i,
    .cmd_va_i,
    .cmd_wdata_i,
    .rsp_valid_o,
    .rsp_ready_i,
    .rsp_thread_o,
    .rsp_fault_o,
    .rsp_cause_o,
    .rsp_rdata_o,
    .rsp_pa_o,
    .rsp_atc_hit_o,
    .lkp_valid_o  (lkp_valid),
    .lkp_thread_o (lkp_thread),
    .lkp_pasid_o  (lkp_pasid),
    .lkp_vpn_o    (lkp_vpn),
    .lkp_write_o  (lkp_write),
    .lkp_rvalid_i (lkp_rvalid),
    .lkp_rthread_i(lkp_rthread),
    .lkp_hit_i    (lkp_hit),
    .lkp_ppn_i    (lkp_ppn),
    .lkp_size_i   (lkp_size),
    .xres_valid_i (xres_valid),
    .xres_thread_i(xres_thread),
    .xres_cause_i (xres_cause),
    .xres_ppn_i   (xres_ppn),
    .xres_size_i  (xcpl_size),
    .pr_valid_o,
    .pr_ready_i,
    .pr_pasid_o,
    .pr_vpn_o     (pr_vpn),
    .pr_read_o,
    .pr_write_o,
    .pr_prgi_o,
    .pr_last_o,
    .prgr_valid_i,
    .prgr_prgi_i,
    .prgr_code_i,
    .rd_req_o     (dm_rd_req),
    .wr_req_o     (dm_wr_req),
    .mem_addr_o   (dm_addr),
    .mem_wdata_o  (dm_wdata),
    .mem_gnt_i    (dm_gnt),
    .r_valid_i    (dm_r_valid),
    .r_data_i     (r_data),
    .r_err_i      (r_err),
    .b_valid_i    (dm_b_valid),
    .b_err_i      (b_err),
    .ap_all_i     (ap_all),
    .ap_pasid_i   (ap_pasid),
    .ap_addr_i    (ap_addr),
    .ap_keep_i    (ap_keep),
    .holds_xlat_o (holds_xlat),
    .mem_done_o   (mem_done)
  );

  atc #(
    .NumThreads (NumSlots),
    .AtcEntries (AtcEntries),
    .AtcWays    (AtcWays),
    .AtcHugeEntries(AtcHugeEntries),
    .PaWidth    (PaWidth),
    .ThreadW    (SlotW),
    .IdW        (IdW),
    .SplitHuge  (AtcSplitHuge),
    .DbgNoPoison(DbgNoPoison)
  ) u_atc (
    .clk_i,
    .rst_ni,
    .wp_fault_en_i  (atc_wp_fault_i),
    .lkp_valid_i    (lkp_valid),
    .lkp_thread_i   (lkp_thread),
    .lkp_pasid_i    (lkp_pasid),
    .lkp_vpn_i      (lkp_vpn),
    .lkp_write_i    (lkp_write),
    .lkp_rvalid_o   (lkp_rvalid),
    .lkp_rthread_o  (lkp_rthread),
    .lkp_hit_o      (lkp_hit),
    .lkp_ppn_o      (lkp_ppn),
    .lkp_size_o     (lkp_size),
    .xres_valid_o   (xres_valid),
    .xres_thread_o  (xres_thread),
    .xres_cause_o   (xres_cause),
    .xres_ppn_o     (xres_ppn),
    .xreq_valid_o   (xreq_valid),
    .xreq_ready_i   (xreq_ready),
    .xreq_id_o      (xreq_id),
    .xreq_pasid_o   (xreq_pasid),
    .xreq_vpn_o     (xreq_vpn),
    .xreq_write_o   (xreq_write),
    .xcpl_valid_i   (xcpl_valid),
    .xcpl_ready_o   (xcpl_ready),
    .xcpl_id_i      (xcpl_id),
    .xcpl_cause_i   (xcpl_cause),
    .xcpl_ppn_i     (xcpl_ppn),
    .xcpl_size_i    (xcpl_size),
    .xcpl_writable_i(xcpl_writable),
    .inv_valid_i    (ap_valid),
    .inv_all_i      (ap_all),
    .inv_pasid_i    (ap_pasid),
    .inv_addr_i     (ap_addr),
    .inv_keep_i     (ap_keep)
  );

  ptw #(
    .NumWalks  (NumWalks),
    .PwcEntries(PwcEntries),
    .PaWidth   (PaWidth),
    .IdW       (IdW),
    .AdRetries (AdRetries),
    .AxiTimeout(AxiTimeout),
    .WalkMaxRetries(WalkMaxRetries)
  ) u_ptw (
    .clk_i,
    .rst_ni,
    .pasid_tbl_base_i,
    .xreq_valid_i   (xreq_valid),
    .xreq_ready_o   (xreq_ready),
    .xreq_id_i      (xreq_id),
    .xreq_pasid_i   (xreq_pasid),
    .xreq_vpn_i     (xreq_vpn),
    .xreq_write_i   (xreq_write),
    .xcpl_valid_o   (xcpl_valid),
    .xcpl_ready_i   (xcpl_ready),
    .xcpl_id_o      (xcpl_id),
    .xcpl_cause_o   (xcpl_cause),
    .xcpl_ppn_o     (xcpl_ppn),
    .xcpl_size_o    (xcpl_size),
    .xcpl_writable_o(xcpl_writable),
    .pwc_flush_i    (ap_valid),
    .pwc_keep_sup_i,
    .inv_hold_o     (walk_hold),
    .ar_req_o       (pw_req),
    .ar_addr_o      (pw_addr),
    .ar_lock_o      (pw_lock),
    .ar_gnt_i       (pw_gnt),
    .r_valid_i      (pw_r_valid),
    .r_data_i       (r_data),
    .r_err_i        (r_err),
    .r_exok_i       (r_exok),
    .aw_req_o       (pw_wr_req),
    .aw_data_o      (pw_wdata),
    .aw_gnt_i       (pw_wr_gnt),
    .b_valid_i      (pw_b_valid),
    .b_err_i        (b_err),
    .b_exok_i       (b_exok)
  );

  inv #(
    .NumThreads(NumSlots),
    .Depth     (ats_pkg::NumItag),
    .DbgNoDrain(DbgNoDrain)
  ) u_inv (
    .clk_i,
    .rst_ni,
    .inv_valid_i,
    .inv_ready_o,
    .inv_itag_i,
    .inv_pasid_valid_i,
    .inv_pasid_i,
    .inv_addr_i,
    .inv_s_i,
    .inv_global_i,
    .hold_i       (walk_hold),
    .invc_valid_o,
    .invc_ready_i,
    .invc_itag_o,
    .apply_o      (ap_valid),
    .apply_all_o  (ap_all),
    .apply_pasid_o(ap_pasid),
    .apply_addr_o (ap_addr),
    .apply_keep_o (ap_keep),
    .holds_xlat_i (holds_xlat),
    .mem_done_i   (mem_done)
  );

  axi_arb #(
    .NumThreads(NumThreads),
    .NumWalks  (NumWalks),
    .PaWidth   (PaWidth)
  ) u_axi (
    .clk_i,
    .rst_ni,
    .pw_req_i    (pw_req),
    .pw_addr_i   (pw_addr),
    .pw_lock_i   (pw_lock),
    .pw_gnt_o    (pw_gnt),
    .pw_r_valid_o(pw_r_valid),
    .pw_wr_req_i (pw_wr_req),
    .pw_wdata_i  (pw_wdata),
    .pw_wr_gnt_o (pw_wr_gnt),
    .pw_b_valid_o(pw_b_valid),
    .dm_rd_req_i (dm_rd_req),
    .dm_wr_req_i (dm_wr_req),
    .dm_addr_i   (dm_addr),
    .dm_wdata_i  (dm_wdata),
    .dm_gnt_o    (dm_gnt),
    .dm_r_valid_o(dm_r_valid),
    .dm_b_valid_o(dm_b_valid),
    .r_data_o    (r_data),
    .r_err_o     (r_err),
    .r_exok_o    (r_exok),
    .b_err_o     (b_err),
    .b_exok_o    (b_exok),
    .m_axi_awid,
    .m_axi_awaddr,
    .m_axi_awlen,
    .m_axi_awsize,
    .m_axi_awburst,
    .m_axi_awlock,
    .m_axi_awvalid,
    .m_axi_awready,
    .m_axi_wdata,
    .m_axi_wstrb,
    .m_axi_wlast,
    .m_axi_wvalid,
    .m_axi_wready,
    .m_axi_bid,
    .m_axi_bresp,
    .m_axi_bvalid,
    .m_axi_bready,
    .m_axi_arid,
    .m_axi_araddr,
    .m_axi_arlen,
    .m_axi_arsize,
    .m_axi_arburst,
    .m_axi_arlock,
    .m_axi_arvalid,
    .m_axi_arready,
    .m_axi_rid,
    .m_axi_rdata,
    .m_axi_rresp,
    .m_axi_rlast,
    .m_axi_rvalid,
    .m_axi_rready
  );

endmodule
