"""The C++ AXI slave inside the block-test simulator (cocotb module; tests/test_rtl_axi_slave.py).

* `no_answer_range`: a DMA read of a PA in a no-answer range is never
  answered: the device ends the command in FAULT BUS_TIMEOUT within
  AxiTimeout, the access stays in flight at the slave, and the thread's next
  command (another page) times out too (its AXI ID is still busy).
* `pages_by_pointer`: DMA writes land in the host's PhysMem page objects
  (no copy), including a page the slave had to ask for (never written
  before); a host store made after a read was answered is what the next
  read returns; a page copied over (`copy_page`, a new buffer) is served from
  its new buffer.
* `hook_failure` (known-bad): an accept hook raises; the cocotb test must
  fail with the hook's message (tests/test_rtl_axi_slave.py expects it).
"""
from __future__ import annotations

import cocotb

from model.ats import Fault
from model.memory import PAGE_SIZE
from tb.axi_mem import Resp
from tb.test_axi_timeout import PASID, Bench


@cocotb.test()
async def no_answer_range(dut):
    b = Bench(dut, "no_answer_range")
    tb = b.tb
    await b.start()
    va = b.fresh()
    await b.ok(0, va, False, "warm-up")
    pa = b.host.golden(PASID, va, False).pa
    rng = tb.axi.no_answer(pa & ~7, source="dma")
    r = await tb.threads[0].access(False, PASID, va, 0)
    hung = [a for a in tb.axi.inflight if a.source == "dma" and a.addr == pa & ~7]
    b.expect(rng.hits == 1 and len(hung) == 1 and hung[0].dropped, f"the no-answer access is not in flight: "
                                                                    f"{[str(a) for a in tb.axi.inflight]}")
    b.timed_out(r, hung[0].accept, "DMA read in a no-answer range")
    await tb.cycles(200)
    b.expect(hung[0].done is None, f"the no-answer access was answered: {hung[0]}")
    c0 = tb.now
    r = await tb.threads[0].access(False, PASID, b.fresh(), 0)
    b.timed_out(r, c0, "the next command of the thread whose read is never answered")
    await b.ok(1, b.fresh(), True, "another thread")


@cocotb.test()
async def pages_by_pointer(dut):
    b = Bench(dut, "pages_by_pointer")
    tb = b.tb
    await b.start()
    mem = b.host.mem
    va = b.fresh()
    exp = b.host.golden(PASID, va, True)
    page = exp.pa & ~(PAGE_SIZE - 1)
    b.expect(mem.page_is_zero(page) and page >> 12 not in mem.touched_pages(),
             f"the data page {page:#x} should not exist before the first DMA write")
    r = await tb.threads[0].access(True, PASID, va, 0x1234_5678_9ABC_DEF0)
    b.expect(not r.fault and mem.read64(exp.pa) == 0x1234_5678_9ABC_DEF0,
             f"DMA write not in PhysMem: {r}, memory {mem.read64(exp.pa):#x}")
    for v in (0x11, 0x22):
        mem.write64(exp.pa, v)  # a host store between two device reads
        r = await tb.threads[1].access(False, PASID, va, 0)
        b.expect(not r.fault and r.rdata == v, f"read after the host stored {v:#x}: {r}")
    # the page is replaced by a copy of another (a new buffer): the slave follows
    other = b.host.data_pa()
    mem.write64(other + (exp.pa & (PAGE_SIZE - 1)), 0x77)
    mem.copy_page(page, other)
    r = await tb.threads[2].access(False, PASID, va, 0)
    b.expect(not r.fault and r.rdata == 0x77, f"read after copy_page: {r}")
    mem.zero_page(page)
    r = await tb.threads[3].access(False, PASID, va, 0)
    b.expect(not r.fault and r.rdata == 0 and r.mem is not None and r.mem.resp == Resp.OKAY,
             f"read after zero_page: {r}")
    await tb.drain()
    tb.check_protocol()


@cocotb.test()
async def hook_failure(dut):
    b = Bench(dut, "hook_failure")
    tb = b.tb
    await b.start()

    def hook(a) -> None:
        if a.source == "dma":
            tb.fail(f"planted hook failure on {a}")

    tb.axi.accept_hooks.append(hook)
    r = await tb.threads[0].access(False, PASID, b.fresh(), 0)
    await tb.cycles(20)
    b.expect(False, f"the accept hook's failure did not end the test ({r}, fault {Fault(r.cause).name})")
