// Binds the block checkers into the design (no design file names them).
// The formal flow (tb/formal.py) reads these statements too: Yosys has no
// `bind`, so it places each checker instance inside a copy of the target
// module, with the same connections.

bind atc atc_assert #(
  .NumThreads(NumThreads),
  .AtcEntries(N),           // the fully associative array
  .ThreadW   (ThreadW),
  .IdW       (IdW)
) u_atc_assert (.*);

bind atc_sa atc_sa_assert #(
  .Ways   (Ways),
  .Entries(Entries),
  .SetW   (SetW)
) u_atc_sa_assert (.*);

bind ptw ptw_assert #(
  .NumWalks  (NumWalks),
  .PaWidth   (PaWidth),
  .IdW       (IdW),
  .AdRetries (AdRetries),
  .AxiTimeout(AxiTimeout),
  .WalkMaxRetries(WalkMaxRetries)
) u_ptw_assert (.*);

// per slot: the slot's side of its thread's memory port
bind dma dma_assert #(
  .NumThreads(NumSlots),
  .PaWidth   (PaWidth),
  .ThreadW   (SlotW),
  .AxiTimeout(AxiTimeout),
  .DrainExact(DrainExact)
) u_dma_assert (
  .*,
  .cmd_thread_i(cmd_slot),
  .rd_req_o    (srd_req),
  .wr_req_o    (swr_req),
  .mem_addr_o  (saddr),
  .mem_gnt_i   (sgnt),
  .r_valid_i   (sr_valid),
  .b_valid_i   (sb_valid)
);

// per thread: the command queue and the thread's AXI ID (checked in
// simulation; bound at the top so the DMA's proof keeps to dma_assert)
bind ats_dev_top dma_queue_assert #(
  .NumThreads (NumThreads),
  .Outstanding(DmaOutstanding),
  .ThreadW    (ThreadW),
  .SlotW      (SlotW)
) u_dma_queue_assert (
  .clk_i,
  .rst_ni,
  .cmd_valid_i,
  .cmd_ready_o,
  .cmd_thread_i,
  .cmd_write_i,
  .cmd_slot    (u_dma.cmd_slot),
  .rsp_valid_o,
  .rsp_ready_i,
  .rsp_thread_o,
  .rsp_slot    (u_dma.rsp_slot),
  .r_valid_i   (dm_r_valid),
  .b_valid_i   (dm_b_valid),
  .sgnt        (u_dma.sgnt),
  .sr_valid    (u_dma.sr_valid),
  .sb_valid    (u_dma.sb_valid),
  .st_q        (u_dma.st_q)
);

bind inv inv_assert #(
  .NumThreads(NumThreads),
  .Depth     (Depth)
) u_inv_assert (.*);

bind ats_dev_top drain_assert #(
  .NumThreads (NumSlots),
  .ThreadW    (SlotW),
  .Outstanding(DmaOutstanding)
) u_drain_assert (
  .clk_i,
  .rst_ni,
  .lkp_valid_i      (lkp_rvalid),              // the lookup result: the thread obtains a hit now
  .lkp_thread_i     (lkp_rthread),
  .lkp_pasid_i      (u_atc.lr_pasid_q),
  .lkp_vpn_i        (u_atc.lr_vpn_q),
  .lkp_hit_i        (lkp_hit),
  .lkp_size_i       (u_atc.lkp_rsize),
  .xres_valid_i     (xres_valid),
  .xres_thread_i    (xres_thread),
  .xres_cause_i     (xres_cause),
  .xres_size_i      (xcpl_size),
  .inv_valid_i,
  .inv_ready_i      (inv_ready_o),
  .inv_itag_i,
  .inv_pasid_valid_i,
  .inv_pasid_i,
  .inv_addr_i,
  .inv_s_i,
  .inv_global_i,
  .invc_valid_i     (invc_valid_o),
  .invc_ready_i,
  .invc_itag_i      (invc_itag_o),
  .rvalid_i         (m_axi_rvalid),
  .rready_i         (m_axi_rready),
  .rid_i            (m_axi_rid),
  .bvalid_i         (m_axi_bvalid),
  .bready_i         (m_axi_bready),
  .bid_i            (m_axi_bid),
  .mem_drop_i       (u_dma.mem_drop),
  .slot_ans_i       (u_dma.sr_valid | u_dma.sb_valid)
);

bind ats_dev_top walk_live_assert #(
  .IdW(IdW)
) u_walk_live_assert (
  .clk_i,
  .rst_ni,
  .xreq_valid_i(xreq_valid),
  .xreq_ready_i(xreq_ready),
  .xreq_id_i   (xreq_id),
  .xcpl_valid_i(xcpl_valid),
  .xcpl_ready_i(xcpl_ready),
  .xcpl_id_i   (xcpl_id),
  .arvalid_i   (m_axi_arvalid),
  .arready_i   (m_axi_arready),
  .arid_i      (m_axi_arid),
  .rvalid_i    (m_axi_rvalid),
  .rready_i    (m_axi_rready),
  .rid_i       (m_axi_rid),
  .awvalid_i   (m_axi_awvalid),
  .awready_i   (m_axi_awready),
  .awid_i      (m_axi_awid),
  .bvalid_i    (m_axi_bvalid),
  .bready_i    (m_axi_bready),
  .bid_i       (m_axi_bid)
);

// per slot (PRG index = slot)
bind ats_dev_top pri_assert #(
  .NumThreads(NumSlots),
  .ThreadW   (SlotW),
  .PriTimeout(PriTimeout),
  .PriRetries(PriRetries)
) u_pri_assert (
  .clk_i,
  .rst_ni,
  .pri_en_i,
  .cmd_valid_i,
  .cmd_ready_i  (cmd_ready_o),
  .cmd_thread_i (u_dma.cmd_slot),
  .cmd_write_i,
  .lkp_valid_i  (lkp_valid),
  .lkp_thread_i (lkp_thread),
  .xres_valid_i (xres_valid),
  .xres_thread_i(xres_thread),
  .xres_cause_i (xres_cause),
  .pr_valid_i   (pr_valid_o),
  .pr_ready_i,
  .pr_pasid_i   (pr_pasid_o),
  .pr_addr_i    (pr_addr_o),
  .pr_read_i    (pr_read_o),
  .pr_write_i   (pr_write_o),
  .pr_prgi_i    (pr_prgi_o),
  .pr_last_i    (pr_last_o),
  .prgr_valid_i,
  .prgr_prgi_i,
  .rsp_valid_i  (rsp_valid_o),
  .rsp_thread_i (u_dma.rsp_slot),
  .rsp_cause_i  (rsp_cause_o)
);
