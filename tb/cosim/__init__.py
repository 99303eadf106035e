"""The scenario co-simulation: the RTL (`ats_dev_top` in Verilator) as a `model.device.Device`.

One module per concept:

    config.py               CosimConfig: latency, reordering, bus errors, back-pressure, watchdogs
    build.py                which RTL is built (COSIM_PARAMS, DEVICE_BUGS), build(), run_sim()
    wrapper.py              the generated simulation top cosim_top (clock, C++ AXI slave, queues, rings)
    gpi.py                  raw signal access through the GPI
    ports.py                Ports: reset, time, back-pressure, callbacks, response monitor
    axi_port.py             the C++ AXI4 slave over the host's PhysMem; its access log per step
    command_driver.py       the translation/DMA command queue
    invalidation_driver.py  Invalidate Requests and Completions
    pri_responder.py        Page Requests and PRG Responses (PCIe PRI)
    device.py               RtlDevice: the Device protocol the scheduler drives; watchdogs
    monitors.py             port observations -> trace events and responses, in time order
    server.py               CosimServer, run_scenario_rtl: one simulator serving every run

`tb.rtldev` re-exports the names other code uses. The simulator side of the
server is tb/cosim_server.py; the pyuvm environment around the ports is
tb/env.py.

Speed (docs/INTENT.md, "Toolchain facts"): Python never runs per clock. The simulated top is a
generated wrapper (`clock_wrapper`, build/rtl/cosim_top.sv) around
ats_dev_top that makes the clock in Verilog (Verilator --timing), feeds the
command and Invalidate Request ports from small queues the drivers fill,
answers the AXI port with the C++ slave (tb/csrc/axi_slave.cpp through DPI,
reading and writing the host's PhysMem pages in place), and captures the
other handshakes (response, completion, Invalidate Request) into small rings
with a counter per channel. The bus functional models (`Ports`) are raw GPI
callbacks, not cocotb coroutines: a value-change callback per Invalidate
Request / Completion handshake; AXI accesses and responses wake nobody (the
slave's access log and the response log, which the wrapper fills through
DPI, tb/csrc/cosim_rsp.cpp, are read once per scheduler step, with their
handshake and issue cycles). The scheduler's
coroutine is stepped from raw timed callbacks too (`RtlDevice.drive`). An
idle device costs no Python at all. The RTL reads copies of what Python
writes, taken when Python raises the wrapper's `py_kick` after its writes
(`Ports._kick`), so Verilator evaluates the RTL's combinational logic only
after clock edges and kicks, not on every evaluation of the model.

Timing convention (one global clock, cycle k = rising edge k):

    edge k ........ qp(k) = k*P + P/4 ........ h(k) = k*P + P/2 ........ edge k+1
    handshakes      the scheduler acts:          (timed port actions)
    at edge k       host writes, submit,
                    invalidate, take_*

* A transfer with VALID and READY high during cycle k-1 happens at edge k and
  is stamped k (command `issue`, response `complete`, `InvReq`/`InvCpl` time).
* The AXI slave performs an access (reads or writes `PhysMem`) at its
  address handshake edge and stamps it with the cycle before, the cycle its
  request was VALID (`MemAccess.time`, `DevAccess.mem_time`): the host's
  actions of that cycle are visible, those of the next are not. So host
  changes made while the scheduler stands at cycle t are seen by every device
  access stamped >= t, and a device write stamped t is visible to the host
  from t+1: the same rule as the reference device. The response handshake
  comes `latency` (>= 2) cycles after the cycle the request was VALID.
* Monitors buffer what they see; `run()` hands events to the trace (and the
  scheduler) only once they have happened, in time order.

    eng = Ports(dut, CosimConfig(seed=7))
    await eng.start()
    dev = RtlDevice(eng, PhysMem(), pasid_tbl_base=0x1000, trace=Trace())
    await dev.begin()                      # reset, epoch = cycle 0 of this run
    result = await run_scenario(scenario, dev, "deferred", seed=1)

Outside the simulator, `run_scenario_rtl(scenario, policy, seed)` (used by
`python -m tb.matrix --device rtl`) sends the run to a co-simulation server:
one Verilator process (tb/cosim_server.py) that stays up and serves every
request, so a matrix of 57 cells pays the simulator start-up once.
"""
