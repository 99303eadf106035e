"""The RTL as a `model.device.Device`, and the co-simulation server: the names other code imports.

The co-simulation lives in the package tb/cosim/, one module per concept
(its docstring has the map and the timing convention). This module only
re-exports, so `from tb.rtldev import CosimServer, run_scenario_rtl, ...`
keeps working.
"""
from __future__ import annotations

from tb.cosim.axi_port import AxiAcc
from tb.cosim.build import COSIM_PARAMS, DEVICE_BUGS, build, run_sim, scenario_params, scenario_params_of_build
from tb.cosim.command_driver import CmdRec
from tb.cosim.config import BACKPRESSURE, BP_PORTS, BUILD, NO_BACKPRESSURE, ROOT, CosimConfig, DeviceError
from tb.cosim.device import RtlDevice
from tb.cosim.invalidation_driver import InvRec
from tb.cosim.ports import Ports
from tb.cosim.server import (CosimRemoteError, CosimServer, ScenarioErrorTypes, compare_with_ref,
                             params_server, run_scenario_rtl, server, variant_server)
from tb.cosim.wrapper import CAP, CMDQ, INVQ, LEAN_VLT, PRQ, WRAP_TOP, clock_wrapper

__all__ = ["CosimConfig", "BP_PORTS", "BACKPRESSURE", "NO_BACKPRESSURE", "Ports", "RtlDevice", "DeviceError",
           "build", "run_sim", "CosimServer", "server", "run_scenario_rtl", "compare_with_ref", "CosimRemoteError",
           "ScenarioErrorTypes", "DEVICE_BUGS", "variant_server", "params_server", "scenario_params",
           "scenario_params_of_build", "COSIM_PARAMS", "clock_wrapper", "WRAP_TOP",
           "LEAN_VLT", "CAP", "CMDQ", "INVQ", "PRQ", "CmdRec", "AxiAcc", "InvRec", "ROOT", "BUILD"]
