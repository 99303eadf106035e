"""The generated simulation top `cosim_top`: ats_dev_top with clock, AXI beats, queues and capture rings in Verilog.

Python never runs per clock (docs/INTENT.md, "Toolchain facts"): the clock
toggles in Verilog (Verilator --timing); the AXI master port is answered
inside the simulator by the C++ slave (tb/csrc/axi_slave.cpp behind the DPI
shim tb/csrc/axi_slave_dpi.sv, configured from tb/cosim/axi_port.py);
commands, Invalidate Requests and PRG Responses go through small queues the
drivers fill; responses and completions are captured into rings with a
counter per channel; back-pressure is generated here too, seeded. `clock_wrapper` writes build/rtl/cosim_top.sv;
`LEAN_VLT` makes only what the co-simulation touches VPI-visible.
"""
from __future__ import annotations

import re
from pathlib import Path

from tb.cosim.config import BUILD

LEAN_VLT = """`verilator_config
// Only what the co-simulation touches is VPI-visible (an all-public model,
// --public-flat-rw, is slower). Writable: the wrapper's input ports, the
// command / invalidation queues and py_kick; the RTL sees
// copies of them taken on py_kick (k_*, not VPI-visible), so no externally
// written variable reaches the RTL's combinational logic (which Verilator
// would otherwise re-evaluate on every evaluation). The AXI slave is C++ in
// the model (DPI), configured through ctypes, not VPI. Readable: handshake
// counters, capture rings and the few outputs the ports check at start-up.
public_flat_rw -module "cosim_top" -var "rst_ni"
public_flat_rw -module "cosim_top" -var "pasid_tbl_base_i"
public_flat_rw -module "cosim_top" -var "rsp_ready_i"
public_flat_rw -module "cosim_top" -var "invc_ready_i"
public_flat_rw -module "cosim_top" -var "cq_wp"
public_flat_rw -module "cosim_top" -var "cq_meta"
public_flat_rw -module "cosim_top" -var "cq_va*"
public_flat_rw -module "cosim_top" -var "cq_wd*"
public_flat_rw -module "cosim_top" -var "iq_wp"
public_flat_rw -module "cosim_top" -var "iq_meta"
public_flat_rw -module "cosim_top" -var "iq_a*"
public_flat_rw -module "cosim_top" -var "py_kick"
public_flat_rw -module "cosim_top" -var "bp_cfg"
public_flat_rw -module "cosim_top" -var "bp_seed"
public_flat_rw -module "cosim_top" -var "bp_hold"
public_flat_rd -module "cosim_top" -var "bp_sn"
public_flat_rd -module "cosim_top" -var "cq_rp"
public_flat_rd -module "cosim_top" -var "cq_issue"
public_flat_rd -module "cosim_top" -var "iq_rp"
public_flat_rd -module "cosim_top" -var "*_n"
public_flat_rd -module "cosim_top" -var "rsp_c*"
public_flat_rd -module "cosim_top" -var "invc_c*"
public_flat_rd -module "cosim_top" -var "*_o"
public_flat_rd -module "cosim_top" -var "m_axi_arid"
public_flat_rd -module "cosim_top" -var "m_axi_araddr"
public_flat_rd -module "cosim_top" -var "m_axi_arlen"
public_flat_rd -module "cosim_top" -var "m_axi_arsize"
public_flat_rd -module "cosim_top" -var "m_axi_awlen"
public_flat_rd -module "cosim_top" -var "m_axi_awsize"
public_flat_rd -module "cosim_top" -var "m_axi_wlast"
public_flat_rd -module "cosim_top" -var "m_axi_rready"
public_flat_rd -module "cosim_top" -var "m_axi_bready"
public_flat_rd -module "cosim_top" -var "cyc_q"
public_flat_rw -module "cosim_top" -var "pri_en_i"
public_flat_rw -module "cosim_top" -var "atc_wp_fault_i"
public_flat_rw -module "cosim_top" -var "pwc_keep_sup_i"
public_flat_rw -module "cosim_top" -var "pr_ready_i"
public_flat_rw -module "cosim_top" -var "pq_wp"
public_flat_rw -module "cosim_top" -var "pq_meta"
public_flat_rd -module "cosim_top" -var "pr_c*"
"""

WRAP_TOP = "cosim_top"


_AXI_HDL = """
  // ---- the AXI4 slave: C++ in the simulator (tb/csrc/axi_slave.cpp, DPI shim
  // tb/csrc/axi_slave_dpi.sv u_axi below, configured by tb/cosim/axi_port.py). At each
  // rising edge it takes the handshakes, reads or writes the host's PhysMem pages in
  // place, and registers its READYs and R/B beats for the next cycle; no Python runs.
  // cyc_q is the rising-edge count. The clock's first rise is at time 0 and counts too,
  // so at edge k the NBA reads cyc_q = k and during cycle k (after edge k) cyc_q = k + 1.
  logic [31:0] cyc_q;
  initial cyc_q = '0;
  always @(posedge clk_i) cyc_q <= cyc_q + 32'd1;

  logic                         m_axi_arready, m_axi_awready, m_axi_wready;
  logic                         m_axi_rvalid, m_axi_rlast, m_axi_bvalid;
  logic [ats_pkg::AxiIdW-1:0]   m_axi_rid, m_axi_bid;
  logic [63:0]                  m_axi_rdata;
  logic [1:0]                   m_axi_rresp, m_axi_bresp;
"""

_SLAVE_HDL = """
  // The slave sees VALID only while the wrapper's back-pressure lets the transfer through
  // (e_m_axi_*ready below), so its handshakes are exactly the RTL's.
  wire s_arvalid = m_axi_arvalid && !bp_stall[0] && !arh_hold;
  wire s_awvalid = m_axi_awvalid && !bp_stall[1];
  wire s_wvalid  = m_axi_wvalid && !bp_stall[1];
  axi_slave_dpi #(.IdW(ats_pkg::AxiIdW), .AddrW(PaWidth)) u_axi (
    .m_axi_arvalid(s_arvalid), .m_axi_awvalid(s_awvalid), .m_axi_wvalid(s_wvalid), .*);
"""

_BP_HDL = """
  // ---- back-pressure (tb/cosim/config.py, CosimConfig.stall / ar_hold), seeded so a run
  // replays. Per port p (0 ar, 1 aw+w, 2 rsp, 3 invc, 4 cmd, 5 inv) an xorshift32
  // generator, reloaded from bp_seed while reset is low, starts a refusal stretch of
  // 1 + (x[15:8] & mask) cycles with probability thr/256 per cycle
  // (bp_cfg[p] = {mask, thr}). READY ports are held low during a stretch; the command
  // and Invalidate Request queues do not present a new head during one (a VALID already
  // up is held until its handshake). bp_hold = {thread mask, cycles}: a DMA read (ARID
  // {1, thread}) of a thread in the mask waits that many cycles after it first raises
  // ARVALID. bp_sn[p] counts the cycles port p refused (reset with the RTL).
  localparam int unsigned BpN = 6;
  logic [15:0] bp_cfg [BpN], k_bp_cfg [BpN];
  logic [31:0] bp_seed, k_bp_seed, bp_hold, k_bp_hold;
  logic [31:0] bp_x_q [BpN];
  logic [8:0]  bp_n_q [BpN];
  logic [31:0] bp_sn [BpN];
  logic [BpN-1:0] bp_stall;
  logic [15:0] arh_n_q;
  logic        arh_started_q;
  initial begin
    for (int p = 0; p < BpN; p++) begin
      bp_cfg[p] = '0;
      k_bp_cfg[p] = '0;
      bp_n_q[p] = '0;
      bp_sn[p] = '0;
      bp_x_q[p] = 32'h1;
    end
    bp_seed = '0;
    k_bp_seed = '0;
    bp_hold = '0;
    k_bp_hold = '0;
    arh_n_q = '0;
    arh_started_q = 1'b0;
  end
  always_comb begin
    for (int p = 0; p < BpN; p++) bp_stall[p] = bp_n_q[p] != '0;
  end
  wire arh_new = m_axi_arvalid && m_axi_arid[ats_pkg::AxiIdW-1] && !arh_started_q &&
                 k_bp_hold[15:0] != '0 && k_bp_hold[16 + 32'(m_axi_arid[2:0])];
  wire arh_hold = arh_new || arh_n_q != '0;
  wire e_m_axi_arready = m_axi_arready && !bp_stall[0] && !arh_hold;
  wire e_m_axi_awready = m_axi_awready && !bp_stall[1];
  wire e_m_axi_wready  = m_axi_wready && !bp_stall[1];
  // every response handshake, to the response log Python reads once per scheduler step
  // (tb/csrc/cosim_rsp.cpp; tb/cosim/ports.py Ports.poll)
  import "DPI-C" function void cos_rsp(input int unsigned meta, input longint unsigned rdata,
                                       input longint unsigned pa, input int unsigned cyc, input int unsigned issue);
  wire e_rsp_ready_i   = k_rsp_ready_i && !bp_stall[2];
  wire e_invc_ready_i  = k_invc_ready_i && !bp_stall[3];
  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      for (int p = 0; p < BpN; p++) begin
        bp_x_q[p] <= (k_bp_seed ^ (32'h9e3779b9 * 32'(p + 1))) | 32'h1;
        bp_n_q[p] <= '0;
      end
      arh_n_q <= '0;
      arh_started_q <= 1'b0;
    end else begin
      for (int p = 0; p < BpN; p++) begin
        if (k_bp_cfg[p][7:0] != '0) begin
          logic [31:0] x;
          x = bp_x_q[p];
          x = x ^ (x << 13);
          x = x ^ (x >> 17);
          x = x ^ (x << 5);
          bp_x_q[p] <= x;
          if (bp_n_q[p] != '0) bp_n_q[p] <= bp_n_q[p] - 9'd1;
          else if (x[7:0] < k_bp_cfg[p][7:0]) bp_n_q[p] <= 9'd1 + 9'(x[15:8] & k_bp_cfg[p][15:8]);
        end
      end
      if (arh_new) begin
        arh_started_q <= 1'b1;
        arh_n_q <= k_bp_hold[15:0] - 16'd1;
      end else if (arh_n_q != '0) begin
        arh_n_q <= arh_n_q - 16'd1;
      end
      if (m_axi_arvalid && e_m_axi_arready) arh_started_q <= 1'b0;
    end
  end
"""

_CAP_HDL = """
  // ---- handshake capture for the co-simulation's monitors (tb/cosim/).
  // At every response and completion handshake the payload is stored in a ring
  // of Cap entries and the channel's counter steps. A value-change callback on
  // invc_n wakes Python once per completion, at its handshake edge, with the
  // payload still there to read (invalidation_driver.py _invc_cb). (AXI
  // accesses wake nobody either: the C++ slave logs them, read once per
  // scheduler step, tb/cosim/axi_port.py.) Responses wake nobody: each also
  // goes to a C++ log (cos_rsp) the device binding reads at its next quiet
  // point (ports.py Ports.poll), with its handshake cycle and the cycle its
  // command was taken; the ring keeps them for waves. At most one response per device thread can arrive
  // between two quiet points (a thread gets its next command only after its
  // response was read), so the ring cannot wrap.
  localparam int unsigned Cap = {cap};
  logic [31:0] rsp_n, invc_n;
  initial begin
    rsp_n = '0;
    invc_n = '0;
  end
  // (64-bit captures in two 32-bit words, 0 = low)
  logic [ThreadW+5:0]        rsp_cmeta  [Cap];  // {{atc hit, fault, cause, thread}}
  logic [31:0]               rsp_crd0   [Cap];  // read data
  logic [31:0]               rsp_crd1   [Cap];
  logic [31:0]               rsp_cpa0   [Cap];  // PA
  logic [31:0]               rsp_cpa1   [Cap];
  logic [31:0]               rsp_ccyc   [Cap];  // handshake cycle
  logic [31:0]               rsp_cissue [Cap];  // cycle its command was taken
  logic [ats_pkg::ItagW-1:0] invc_citag [Cap];

  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      for (int p = 0; p < BpN; p++) bp_sn[p] <= '0;
    end else begin
      if (m_axi_arvalid && !e_m_axi_arready) bp_sn[0] <= bp_sn[0] + 32'd1;
      if (m_axi_awvalid && !e_m_axi_awready) bp_sn[1] <= bp_sn[1] + 32'd1;
      if (rsp_valid_o && !e_rsp_ready_i) bp_sn[2] <= bp_sn[2] + 32'd1;
      if (invc_valid_o && !e_invc_ready_i) bp_sn[3] <= bp_sn[3] + 32'd1;
      if (cq_rp != k_cq_wp && !cmd_valid_i) bp_sn[4] <= bp_sn[4] + 32'd1;
      if (iq_rp != k_iq_wp && !inv_valid_i) bp_sn[5] <= bp_sn[5] + 32'd1;
    end
    if (rsp_valid_o && e_rsp_ready_i) begin
      rsp_cmeta[rsp_n[$clog2(Cap)-1:0]]  <= {{rsp_atc_hit_o, rsp_fault_o, rsp_cause_o, rsp_thread_o}};
      {{rsp_crd1[rsp_n[$clog2(Cap)-1:0]], rsp_crd0[rsp_n[$clog2(Cap)-1:0]]}} <= rsp_rdata_o;
      {{rsp_cpa1[rsp_n[$clog2(Cap)-1:0]], rsp_cpa0[rsp_n[$clog2(Cap)-1:0]]}} <= 64'(rsp_pa_o);
      rsp_ccyc[rsp_n[$clog2(Cap)-1:0]]   <= cyc_q;  // = k at edge k (see cyc_q)
      rsp_cissue[rsp_n[$clog2(Cap)-1:0]] <= cq_issue[rsp_thread_o];
      rsp_n <= rsp_n + 32'd1;
      cos_rsp(32'({{rsp_atc_hit_o, rsp_fault_o, rsp_cause_o, rsp_thread_o}}), rsp_rdata_o, 64'(rsp_pa_o), cyc_q,
              cq_issue[rsp_thread_o]);
    end
    if (invc_valid_o && e_invc_ready_i) begin
      invc_citag[invc_n[$clog2(Cap)-1:0]] <= invc_itag_o;
      invc_n <= invc_n + 32'd1;
    end
  end
"""
CAP = 16

_QUEUE_HDL = """
  // ---- command and Invalidate Request queues, filled by the co-simulation
  // (tb/cosim/command_driver.py send_cmd, tb/cosim/invalidation_driver.py
  // send_inv). Python writes an entry, then steps the write pointer (cq_wp,
  // iq_wp), at a quiet point; the queue presents its head on the RTL's port
  // until the handshake, one entry per cycle, in order, so raising, replacing
  // and dropping VALID costs no Python wake. cq_rp / iq_rp count the handshakes (a value-change callback on iq_rp
  // stamps each Invalidate Request with its handshake cycle). Reset empties
  // both queues.
  localparam int unsigned CmdQ = {cmdq};
  localparam int unsigned InvQ = {invq};
  logic [31:0] cq_wp, k_cq_wp, cq_rp, iq_wp, k_iq_wp, iq_rp;
  initial begin
    cq_wp = '0;
    k_cq_wp = '0;
    cq_rp = '0;
    iq_wp = '0;
    k_iq_wp = '0;
    iq_rp = '0;
  end
  logic [ThreadW+ats_pkg::PasidW:0]          cq_meta [CmdQ], k_cq_meta [CmdQ];  // {{write, thread, pasid}}
  logic [31:0]                               cq_va0  [CmdQ], k_cq_va0  [CmdQ];
  logic [31:0]                               cq_va1  [CmdQ], k_cq_va1  [CmdQ];
  logic [31:0]                               cq_wd0  [CmdQ], k_cq_wd0  [CmdQ];
  logic [31:0]                               cq_wd1  [CmdQ], k_cq_wd1  [CmdQ];
  logic [31:0]                               cq_issue [NumThreads];  // cycle each thread's last command was taken
  logic [ats_pkg::ItagW+ats_pkg::PasidW+2:0] iq_meta [InvQ], k_iq_meta [InvQ];  // {{global, s, pasid valid, pasid, itag}}
  logic [31:0]                               iq_a0   [InvQ], k_iq_a0   [InvQ];  // address bits [63:12], split
  logic [19:0]                               iq_a1   [InvQ], k_iq_a1   [InvQ];
  // the RTL's command and Invalidate Request inputs: the queues' heads
{decls}
  wire [$clog2(CmdQ)-1:0] cq_head = cq_rp[$clog2(CmdQ)-1:0];
  wire [$clog2(InvQ)-1:0] iq_head = iq_rp[$clog2(InvQ)-1:0];
  logic cmd_shown_q, inv_shown_q;  // VALID was up without a handshake: hold it (back-pressure)
  initial begin
    cmd_shown_q = 1'b0;
    inv_shown_q = 1'b0;
  end
  always_comb begin
    cmd_valid_i = cq_rp != k_cq_wp && (cmd_shown_q || !bp_stall[4]);
    {{cmd_write_i, cmd_thread_i, cmd_pasid_i}} = k_cq_meta[cq_head];
    cmd_va_i    = {{k_cq_va1[cq_head], k_cq_va0[cq_head]}};
    cmd_wdata_i = cmd_write_i ? {{k_cq_wd1[cq_head], k_cq_wd0[cq_head]}} : 64'd0;
    inv_valid_i = iq_rp != k_iq_wp && (inv_shown_q || !bp_stall[5]);
    {{inv_global_i, inv_s_i, inv_pasid_valid_i, inv_pasid_i, inv_itag_i}} = k_iq_meta[iq_head];
    inv_addr_i  = {{k_iq_a1[iq_head], k_iq_a0[iq_head]}};
  end
  always @(posedge clk_i) begin
    cmd_shown_q <= k_rst_ni && cmd_valid_i && !cmd_ready_o;
    inv_shown_q <= k_rst_ni && inv_valid_i && !inv_ready_o;
    if (!k_rst_ni) begin
      cq_rp <= k_cq_wp;
      iq_rp <= k_iq_wp;
    end else begin
      if (cmd_valid_i && cmd_ready_o) begin
        cq_issue[cmd_thread_i] <= cyc_q;  // = k at edge k (see cyc_q)
        cq_rp <= cq_rp + 32'd1;
      end
      if (inv_valid_i && inv_ready_o) iq_rp <= iq_rp + 32'd1;
    end
  end
"""
CMDQ = 16  # >= NumThreads: a thread has at most one command queued or in flight

_PRI_HDL = """
  // ---- Page Requests (PCIe PRI) for the co-simulation (tb/cosim/pri_responder.py, take_prs /
  // send_prgr). Every Page Request handshake is stored in a ring and pr_n steps; Python
  // reads them at its quiet points (a device thread has at most one request outstanding,
  // so the ring cannot wrap). PRG Responses go through a queue Python fills (pq_wp): the
  // head is presented for one cycle (the RTL always takes it), in order.
  localparam int unsigned PrQ = {prq};
  logic [31:0] pr_n, pq_wp, k_pq_wp, pq_rp;
  initial begin
    pr_n = '0;
    pq_wp = '0;
    k_pq_wp = '0;
    pq_rp = '0;
  end
  logic [31:0] pr_c0 [Cap];  // {{pasid, write, read, last, PRG index}}
  logic [31:0] pr_c1 [Cap];  // address bits [43:12]
  logic [31:0] pr_c2 [Cap];  // address bits [63:44]
  logic [12:0] pq_meta [PrQ], k_pq_meta [PrQ];  // {{response code, PRG index}}
  always_comb begin
    prgr_valid_i = pq_rp != k_pq_wp;
    {{prgr_code_i, prgr_prgi_i}} = k_pq_meta[pq_rp[$clog2(PrQ)-1:0]];
  end
  always @(posedge clk_i) begin
    if (!k_rst_ni) begin
      pq_rp <= k_pq_wp;
    end else if (prgr_valid_i) begin
      pq_rp <= pq_rp + 32'd1;
    end
    if (pr_valid_o && k_pr_ready_i) begin
      pr_c0[pr_n[$clog2(Cap)-1:0]] <= {{pr_pasid_o, pr_write_o, pr_read_o, pr_last_o, pr_prgi_o}};
      pr_c1[pr_n[$clog2(Cap)-1:0]] <= pr_addr_o[31:0];
      pr_c2[pr_n[$clog2(Cap)-1:0]] <= 32'(pr_addr_o[51:32]);
      pr_n <= pr_n + 32'd1;
    end
  end
"""
PRQ = 16  # PRG Responses the wrapper holds (>= NumThreads: one group per thread)
INVQ = 32  # Invalidate Requests the wrapper holds; more wait in Python (Ports.inv_q)

# what the co-simulation writes besides the wrapper's ports (copied to k_<name> on py_kick)
_KICKED = ("cq_wp", "cq_meta", "cq_va0", "cq_va1",
           "cq_wd0", "cq_wd1", "iq_wp", "iq_meta", "iq_a0", "iq_a1", "bp_cfg", "bp_seed", "bp_hold",
           "pq_wp", "pq_meta")

# the RTL inputs the queues drive (not wrapper ports)
_QUEUE_PORTS = ("cmd_valid_i", "cmd_thread_i", "cmd_write_i", "cmd_pasid_i", "cmd_va_i", "cmd_wdata_i",
                "inv_valid_i", "inv_itag_i", "inv_pasid_valid_i", "inv_pasid_i", "inv_addr_i", "inv_s_i",
                "inv_global_i", "prgr_valid_i", "prgr_prgi_i", "prgr_code_i")

# READY inputs the wrapper gates with its back-pressure (e_<name>, `_BP_HDL`)
_BP_READY = ("rsp_ready_i", "invc_ready_i")

# the RTL's AXI inputs: the C++ slave's outputs (not wrapper ports)
_SLAVE_PORTS = ("m_axi_arready", "m_axi_awready", "m_axi_wready", "m_axi_rvalid", "m_axi_rid", "m_axi_rdata",
                "m_axi_rresp", "m_axi_rlast", "m_axi_bvalid", "m_axi_bid", "m_axi_bresp")
_SLAVE_READY = ("m_axi_arready", "m_axi_awready", "m_axi_wready")  # gated by the back-pressure (e_<name>)


def clock_wrapper(period_ns: int = 10) -> Path:
    """Generate build/rtl/cosim_top.sv: ats_dev_top with its clock, AXI beats and input queues in Verilog.

    * The clock toggles with `always #` (Verilator --timing) instead of the
      cocotb GPI clock, which costs a VPI callback per edge. Rising edges are
      at k * period (k >= 1), so Python's cycle arithmetic is unchanged.
    * The AXI master port is answered by the C++ slave inside the simulator
      (`_AXI_HDL`, `_SLAVE_HDL`), which performs every access on the host's
      PhysMem pages in place and decides every response's cycle, ID, data
      and status.
    * Commands and Invalidate Requests go through small queues (`_QUEUE_HDL`)
      that present them on the RTL's ports; handshakes are captured into
      rings (`_CAP_HDL`).
    The wrapper's ports are the RTL's ports minus clk_i, the AXI inputs and
    the command / Invalidate Request inputs, copied from rtl/ats_dev_top.sv.
    """
    from tb import toolchain

    src = (toolchain.RTL / "ats_dev_top.sv").read_text()
    start = src.index("module ats_dev_top")
    lines = src[start:].splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.strip() == ");")
    port = r"\s*input\s+logic\s*(\[[^\]]*\])?\s*({names})\s*,?\s*(//.*)?$"
    drop = re.compile(port.format(names="|".join(("clk_i",) + _SLAVE_PORTS + _QUEUE_PORTS)))
    queued = re.compile(port.format(names="|".join(_QUEUE_PORTS)))
    head = [ln for ln in lines[:end + 1] if not drop.match(ln)]
    decls = {}
    for ln in lines[:end + 1]:
        m = queued.match(ln)
        if m:
            decls[m.group(2)] = f"  logic {m.group(1) + ' ' if m.group(1) else ''}{m.group(2)};"
    missing = [p for p in _QUEUE_PORTS if p not in decls]
    if missing:
        raise RuntimeError(f"clock_wrapper: rtl/ats_dev_top.sv has no input port(s) {missing}")
    # every input left on the wrapper (reset, configuration, READYs) reaches the RTL
    # through a register taken at the falling edge
    inp = re.compile(r"\s*input\s+logic\s*(\[[^\]]*\])?\s*(\w+)\s*,?\s*(//.*)?$")
    latched = [m.groups()[:2] for m in map(inp.match, head) if m]
    for want in ("rst_ni", "rsp_ready_i", "invc_ready_i"):
        if want not in [n for _, n in latched]:
            raise RuntimeError(f"clock_wrapper: rtl/ats_dev_top.sv has no input port {want}")
    found = {m.group(2) for m in map(re.compile(port.format(names="|".join(_SLAVE_PORTS))).match, lines[:end + 1])
             if m}
    if set(_SLAVE_PORTS) - found:
        raise RuntimeError(f"clock_wrapper: rtl/ats_dev_top.sv has no input port(s) "
                           f"{sorted(set(_SLAVE_PORTS) - found)}")
    latch = [*[f"  logic {w + ' ' if w else ''}k_{n};" for w, n in latched],
             "  initial begin", *[f"    k_{n} = '0;" for _, n in latched], "  end", ""]
    kick = ["  // ---- inputs of the RTL. Everything the co-simulation writes (these ports, the",
            "  // queues) reaches the RTL through a copy (k_<name>) taken when the",
            "  // co-simulation raises py_kick, which it does after each batch of writes (a",
            "  // command or Invalidate Request queued, reset); the copy drops",
            "  // py_kick again, so several kicks before one evaluation make one copy. A write",
            "  // and its kick happen before the same evaluation, so the RTL sees what it saw",
            "  // before; but no externally written variable feeds the RTL's combinational",
            "  // logic, so the model evaluates that logic only after clock edges and kicks",
            "  // (otherwise: on every evaluation).",
            "  logic py_kick;",
            "  initial py_kick = 1'b0;",
            "  always @(posedge py_kick) begin",
            *[f"    k_{n} <= {n};" for _, n in latched],
            *[f"    k_{n} <= {n};" for n in _KICKED], "    py_kick <= 1'b0;", "  end", ""]
    # the port list must not end with a comma once trailing inputs were removed
    last = max(i for i, ln in enumerate(head) if re.search(r"\w\s*,?\s*$", ln) and ("input" in ln or "output" in ln))
    head[last] = re.sub(r",\s*$", "", head[last])
    head[0] = head[0].replace("module ats_dev_top", f"module {WRAP_TOP}")
    params = re.findall(r"^\s*parameter\s+(?:int\s+unsigned|bit)\s+(\w+)\s*=", "\n".join(head), re.M)
    half = period_ns / 2
    body = ["", "  // generated by tb/cosim/wrapper.py (clock_wrapper): the clock lives in the simulator",
            "  logic clk_i;", "  initial clk_i = 1'b1;  // rising edges at k * period (k >= 1)",
            f"  always #({half}ns) clk_i = ~clk_i;", "", *latch, _AXI_HDL, _BP_HDL, _SLAVE_HDL,
            _QUEUE_HDL.format(cmdq=CMDQ, invq=INVQ, decls="\n".join(decls[p] for p in _QUEUE_PORTS)),
            _CAP_HDL.format(cap=CAP), _PRI_HDL.format(prq=PRQ), *kick,
            f"  ats_dev_top #({', '.join(f'.{p}({p})' for p in params)}) u_dut (",
            *[f"    .{n}({'e' if n in _BP_READY else 'k'}_{n})," for _, n in latched],
            *[f"    .{n}(e_{n})," for n in _SLAVE_READY], "    .*", "  );", "",
            "endmodule", ""]
    text = "\n".join(["// Co-simulation wrapper of ats_dev_top (generated; do not edit)", *head, *body])
    out = BUILD / "rtl" / "cosim_top.sv"
    out.parent.mkdir(parents=True, exist_ok=True)
    if not out.exists() or out.read_text() != text:
        out.write_text(text)
    return out


# RTL parameters of every co-simulation build (ahead of a caller's own): scenarios may
# use DEV-thread-0..7, so the device is built with the most threads it allows (ThreadW
