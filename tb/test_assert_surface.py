"""A testbench that breaks the Invalidate Request contract on purpose (cocotb module).

Used by tests/test_rtl_assert.py to show that a bound assertion failing in a
cocotb run fails the test with the assertion's name, its cycle and the replay
command. The case presents one ITag twice while its first request is still
outstanding, which `top_assert.itag_unique` forbids.
"""
from __future__ import annotations

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge


@cocotb.test()
async def duplicate_itag(dut):
    cocotb.start_soon(Clock(dut.clk_i, 10, "ns").start())
    for n in ("cmd_valid_i", "rsp_ready_i", "inv_valid_i", "invc_ready_i", "m_axi_arready", "m_axi_awready",
              "m_axi_wready", "m_axi_rvalid", "m_axi_bvalid", "pasid_tbl_base_i"):
        getattr(dut, n).value = 0
    dut.rst_ni.value = 0
    await ClockCycles(dut.clk_i, 3)
    await FallingEdge(dut.clk_i)
    dut.rst_ni.value = 1
    await ClockCycles(dut.clk_i, 2)
    await FallingEdge(dut.clk_i)
    dut.inv_itag_i.value = 3
    dut.inv_pasid_valid_i.value = 0
    dut.inv_pasid_i.value = 0
    dut.inv_addr_i.value = 0x12345
    dut.inv_s_i.value = 0
    dut.inv_global_i.value = 0
    dut.inv_valid_i.value = 1   # accepted at the next edge, then presented again: same ITag
    await ClockCycles(dut.clk_i, 3)
    dut.inv_valid_i.value = 0
    await ClockCycles(dut.clk_i, 4)
    assert False, "the duplicate ITag was not caught by the bound assertion"
