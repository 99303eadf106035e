// DMA command queues and shared AXI IDs (dma.sv with DmaOutstanding slots per
// thread); bound into `dma`.
//
// Ghost state per slot: live (a command taken, not yet answered), rank (live
// commands of its thread taken before it), cwr (the command is a write), inf
// (its access granted and not answered: R/B to come, also after a timeout),
// grk (accesses of its thread granted before it and still in flight), gwr (that
// access is a write).
//
//   dma_rsp_in_order   a thread answers its oldest live command (rank 0), and a
//                      command goes into a slot of its thread that is not live
//   dma_axi_route      each R/B on a thread's ID goes to exactly one slot of
//                      that thread: the one granted first among those in
//                      flight (AXI keeps one ID's responses in order), of the
//                      same kind (R to a read, B to a write)
//   dma_axi_order      a write is granted only when no older live command of
//                      the thread still waits to issue (states lookup to
//                      memory) and no read of the thread is in flight; a read
//                      only when no older write still waits to issue and no
//                      write of the thread is in flight (program order on the
//                      ID: AXI does not order R against B)
`include "ats_assert.svh"

module dma_queue_assert #(
  parameter int unsigned NumThreads  = 4,
  parameter int unsigned Outstanding = 1,
  parameter int unsigned ThreadW     = 2,
  parameter int unsigned SlotW       = 2,
  localparam int unsigned NumSlots   = NumThreads * Outstanding
) (
  input logic                    clk_i,
  input logic                    rst_ni,
  input logic                    cmd_valid_i,
  input logic                    cmd_ready_o,
  input logic [ThreadW-1:0]      cmd_thread_i,
  input logic                    cmd_write_i,
  input logic [SlotW-1:0]        cmd_slot,
  input logic                    rsp_valid_o,
  input logic                    rsp_ready_i,
  input logic [ThreadW-1:0]      rsp_thread_o,
  input logic [SlotW-1:0]        rsp_slot,
  input logic [NumThreads-1:0]   r_valid_i,
  input logic [NumThreads-1:0]   b_valid_i,
  input logic [NumThreads*Outstanding-1:0] sgnt,
  input logic [NumThreads*Outstanding-1:0] sr_valid,
  input logic [NumThreads*Outstanding-1:0] sb_valid,
  input ats_pkg::dma_st_e [NumThreads*Outstanding-1:0] st_q
);

  `ATS_CHECKER_COMMON

  localparam int unsigned RkW = $clog2(Outstanding + 1);

  logic [NumSlots-1:0]     live_q, live_d, cwr_q, cwr_d, inf_q, inf_d, gwr_q, gwr_d;
  logic [NumSlots*RkW-1:0] rank_q, rank_d, grk_q, grk_d;
  logic                    order_bad, route_bad, issue_bad, cmd_bad;
  logic [NumSlots-1:0]     pend;  // the slot's command may still issue an access

  always_comb begin
    for (int unsigned s = 0; s < NumSlots; s++) begin
      pend[s] = st_q[s] == ats_pkg::TLkp || st_q[s] == ats_pkg::TXlat || st_q[s] == ats_pkg::TPri ||
                st_q[s] == ats_pkg::TPwt || st_q[s] == ats_pkg::TMem;
    end
  end

  always_comb begin
    live_d    = live_q;
    cwr_d     = cwr_q;
    inf_d     = inf_q;
    gwr_d     = gwr_q;
    rank_d    = rank_q;
    grk_d     = grk_q;
    order_bad = 1'b0;
    route_bad = 1'b0;
    issue_bad = 1'b0;
    cmd_bad   = 1'b0;
    for (int unsigned h = 0; h < NumThreads; h++) begin
      logic [RkW-1:0] nlive, ninf;
      logic           rsp_h, ans_h, any_rd, any_wr;
      int unsigned    nans;
      nlive  = '0;
      ninf   = '0;
      any_rd = 1'b0;
      any_wr = 1'b0;
      nans   = 0;
      for (int unsigned s = h * Outstanding; s < (h + 1) * Outstanding; s++) begin
        if (live_q[s]) nlive = nlive + 1'b1;
        if (inf_q[s]) ninf = ninf + 1'b1;
        if (inf_q[s] && gwr_q[s]) any_wr = 1'b1;
        if (inf_q[s] && !gwr_q[s]) any_rd = 1'b1;
        if (sr_valid[s] || sb_valid[s]) nans++;
      end
      rsp_h = rsp_valid_o && rsp_ready_i && rsp_thread_o == ThreadW'(h);
      // an R/B some access of the thread waits for (others name none: dropped)
      ans_h = (r_valid_i[h] && any_rd) || (b_valid_i[h] && any_wr);
      if (ans_h && nans != 1) route_bad = 1'b1;
      if (!ans_h && nans != 0) route_bad = 1'b1;
      for (int unsigned s = h * Outstanding; s < (h + 1) * Outstanding; s++) begin
        // responses in command order
        if (rsp_valid_o && rsp_slot == SlotW'(s) &&
            (rsp_thread_o != ThreadW'(h) || !live_q[s] || rank_q[s*RkW +: RkW] != '0)) order_bad = 1'b1;
        if (rsp_h && live_q[s] && rank_q[s*RkW +: RkW] != '0) rank_d[s*RkW +: RkW] = rank_q[s*RkW +: RkW] - 1'b1;
        if (rsp_h && rsp_slot == SlotW'(s)) live_d[s] = 1'b0;
        if (cmd_valid_i && cmd_ready_o && cmd_slot == SlotW'(s)) begin
          if (cmd_thread_i != ThreadW'(h) || live_q[s]) cmd_bad = 1'b1;
          live_d[s] = 1'b1;
          cwr_d[s]  = cmd_write_i;
          rank_d[s*RkW +: RkW] = nlive - RkW'(rsp_h);
        end
        // AXI: R/B to the first granted access in flight, of its kind
        if ((sr_valid[s] || sb_valid[s]) &&
            (!inf_q[s] || grk_q[s*RkW +: RkW] != '0 || (sr_valid[s] && gwr_q[s]) || (sb_valid[s] && !gwr_q[s] && !sr_valid[s])))
          route_bad = 1'b1;
        if (ans_h && inf_q[s] && grk_q[s*RkW +: RkW] != '0) grk_d[s*RkW +: RkW] = grk_q[s*RkW +: RkW] - 1'b1;
        if (sr_valid[s] || sb_valid[s]) inf_d[s] = 1'b0;
        if (sgnt[s]) begin
          // program order on the ID
          for (int unsigned o = h * Outstanding; o < (h + 1) * Outstanding; o++) begin
            if (o != s && live_q[o] && pend[o] && rank_q[o*RkW +: RkW] < rank_q[s*RkW +: RkW] &&
                (cwr_q[s] || cwr_q[o])) issue_bad = 1'b1;
          end
          if (cwr_q[s] ? any_rd : any_wr) issue_bad = 1'b1;
          inf_d[s] = 1'b1;
          gwr_d[s] = cwr_q[s];
          grk_d[s*RkW +: RkW] = ninf - RkW'(ans_h);
        end
      end
    end
  end

  always_ff @(posedge clk_i or negedge rst_ni) begin
    if (!rst_ni) begin
      live_q <= '0;
      inf_q  <= '0;
    end else begin
      live_q <= live_d;
      inf_q  <= inf_d;
    end
  end

  always_ff @(posedge clk_i) begin
    cwr_q  <= cwr_d;
    gwr_q  <= gwr_d;
    rank_q <= rank_d;
    grk_q  <= grk_d;
  end

  `ATS_CHECK begin
    if (ats_on_q) begin
      `ATS_ASSERT(dma_rsp_in_order, !order_bad && !cmd_bad,
                  "a thread answers a command that is not its oldest, or takes a command into a busy slot")
      `ATS_ASSERT(dma_axi_route, !route_bad,
                  "an R/B is not given to exactly the thread's first granted access in flight of its kind")
      `ATS_ASSERT(dma_axi_order, !issue_bad,
                  "an access is granted before an older one of its thread it may not pass (write, or read after write)")
    end
  end

endmodule
