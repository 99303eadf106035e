"""Every checker assertion fires on a sequence that breaks its rule (cocotb module).

Runs on the generated harness of tb/assert_harness.py (every checker of
rtl/assert/, no design): each case resets the harness, drives a short illegal
sequence into one checker and expects the named assertion of that instance
to fire; a few legal sequences must fire nothing. The simulator is told to
continue after an assertion error (+verilator+error+limit), and the fired
assertions are read from the +ats_assert_log file the checkers write
(rtl/assert/ats_assert_pkg.sv), which is emptied after each case so the
caller (tb.toolchain.run_cocotb) sees no failure left over.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Awaitable, Callable

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, RisingEdge

from tb.assert_harness import INSTANCES, _ports

V = 0x7_1234_5678 & ((1 << 36) - 1)  # a canonical VPN (VA[47:12]) used by the cases
ONES52 = (1 << 52) - 1


def sext(vpn: int) -> int:
    return vpn | (((1 << 16) - 1) << 36) if vpn >> 35 & 1 else vpn


class H:
    """Drives the harness: values set at the falling edge hold until changed."""

    def __init__(self, dut):
        self.dut = dut
        self.log = Path(cocotb.plusargs["ats_assert_log"])
        self.names = [f"{pre}_{n}" for pre, (mod, _) in INSTANCES.items() for _, _, n in _ports(mod)
                      if n not in ("clk_i", "rst_ni")]

    async def cyc(self, n: int = 1, **values: int) -> None:
        await FallingEdge(self.dut.clk_i)
        for k, v in values.items():
            getattr(self.dut, k).value = v
        for _ in range(n):
            await RisingEdge(self.dut.clk_i)

    async def reset(self, **defaults: int) -> None:
        await FallingEdge(self.dut.clk_i)
        self.dut.rst_ni.value = 0
        for n in self.names:
            getattr(self.dut, n).value = 0
        for k, v in {**QUIET, **defaults}.items():
            getattr(self.dut, k).value = v
        await RisingEdge(self.dut.clk_i)
        await RisingEdge(self.dut.clk_i)
        await self.cyc(2, rst_ni=1)
        self.take()

    def take(self) -> set[tuple[str, str]]:
        """(assertion, instance) pairs fired since the last call."""
        text = self.log.read_text() if self.log.exists() else ""
        self.log.write_text("")
        return {(m.group(1), m.group(2)) for m in re.finditer(r"ASSERT (\w+) cycle \d+ \S*?\.(u_\w+)", text)}


Case = Callable[[H], Awaitable[None]]

# inputs that keep every checker quiet while another one is exercised
QUIET = {"top_m_axi_rready": 1, "top_m_axi_bready": 1, "atc_xcpl_ready_o": 1, "inv_inv_ready_o": 1, "inv_room_q": 1,
         "ptw_usr_q": 3, "ptw_pwc_ins_usr": 1}


async def run_cases(dut, inst: str, cases: dict, clean: dict | None = None):
    """Case `<assertion>[/<variant>]` must fire that assertion in instance u_<inst>; a clean case nothing."""
    cocotb.start_soon(Clock(dut.clk_i, 10, "ns").start())
    h = H(dut)
    missed = []
    for name, c in cases.items():
        case, defaults = c if isinstance(c, tuple) else (c, {})
        await h.reset(**defaults)
        await case(h)
        await h.cyc(2)
        fired = h.take()
        if (name.split("/")[0], f"u_{inst}") not in fired:
            missed.append(f"{name}: fired {sorted(fired) or 'nothing'}")
    for label, c in (clean or {}).items():
        case, defaults = c if isinstance(c, tuple) else (c, {})
        await h.reset(**defaults)
        await case(h)
        await h.cyc(2)
        fired = h.take()
        if fired:
            missed.append(f"legal sequence {label} fired {sorted(fired)}")
    await h.cyc(2, rst_ni=0)  # checks off: nothing left in the log for the caller
    h.take()
    assert not missed, f"u_{inst}: " + "; ".join(missed)


# --------------------------------------------------------------------------- hs_assert


@cocotb.test()
async def hs(dut):
    async def drop(h):
        await h.cyc(hs_valid_i=1, hs_ready_i=0, hs_data_i=5)
        await h.cyc(hs_valid_i=0)

    async def change(h):
        await h.cyc(hs_valid_i=1, hs_ready_i=0, hs_data_i=5)
        await h.cyc(hs_data_i=6)

    async def legal(h):
        await h.cyc(hs_valid_i=1, hs_ready_i=0, hs_data_i=5)
        await h.cyc(2, hs_ready_i=1)
        await h.cyc(hs_valid_i=0, hs_data_i=9)

    await run_cases(dut, "hs", {"hs_valid_held": (drop, {}), "hs_payload_held": (change, {})},
                    clean={"handshake": (legal, {})})


# --------------------------------------------------------------------------- top_assert

TOP_OK = {"top_m_axi_rready": 1, "top_m_axi_bready": 1}


def _top(**kv):
    return {f"top_{k}": v for k, v in kv.items()}


AR_OK = dict(m_axi_arvalid=1, m_axi_arready=1, m_axi_arid=8, m_axi_arlen=0, m_axi_arsize=3, m_axi_arburst=1)
AW_OK = dict(m_axi_awvalid=1, m_axi_awready=1, m_axi_awid=8, m_axi_awlen=0, m_axi_awsize=3, m_axi_awburst=1)


def once(*steps: dict) -> Case:
    async def f(h):
        for s in steps:
            await h.cyc(**_top(**s))
    return f


@cocotb.test()
async def top(dut):
    off = {k: 0 for k in ("m_axi_arvalid", "m_axi_awvalid", "m_axi_wvalid", "m_axi_rvalid", "m_axi_bvalid",
                          "inv_valid_i", "invc_valid_o", "cmd_valid_i", "rsp_valid_o")}
    cases = {
        "axi_ar_single_beat": once({**AR_OK, "m_axi_arlen": 1}, off),
        "axi_ar_id": once({**AR_OK, "m_axi_arid": 3}, off),
        "axi_aw_single_beat": once({**AW_OK, "m_axi_awsize": 2}, off),
        "axi_aw_id": once({**AW_OK, "m_axi_awid": 3, "m_axi_awlock": 1}, off),
        "axi_ar_lock": once({**AR_OK, "m_axi_arlock": 1}, off),
        "axi_aw_lock": once({**AW_OK, "m_axi_awlock": 1}, off),
        "axi_aw_lock/walker_plain": once({**AW_OK, "m_axi_awid": 1, "m_axi_awlock": 0}, off),
        "axi_r_exokay": once(AR_OK, {**off, "m_axi_rvalid": 1, "m_axi_rid": 8, "m_axi_rlast": 1, "m_axi_rresp": 1},
                             off),
        "axi_b_exokay": once(AW_OK, {**off, "m_axi_bvalid": 1, "m_axi_bid": 8, "m_axi_bresp": 1}, off),
        "axi_w_single_beat": once(dict(m_axi_wvalid=1, m_axi_wready=1, m_axi_wlast=0, m_axi_wstrb=0xff), off),
        "axi_ar_id_unique": once(AR_OK, AR_OK, off),
        "axi_aw_id_unique": once(AW_OK, AW_OK, off),
        "axi_r_b_ready": once(dict(m_axi_rready=0)),
        "axi_r_expected": once(dict(m_axi_rvalid=1, m_axi_rid=9, m_axi_rlast=1), off),
        "axi_r_last": once(AR_OK, {**off, "m_axi_rvalid": 1, "m_axi_rid": 8, "m_axi_rlast": 0}, off),
        "axi_b_expected": once(dict(m_axi_bvalid=1, m_axi_bid=8), off),
        "itag_unique": once(dict(inv_valid_i=1, inv_ready_o=1, inv_itag_i=3), dict(inv_itag_i=3), off),
        "itag_cpl_requested": once(dict(invc_valid_o=1, invc_itag_o=4), off),
        "itag_completes": once(dict(inv_valid_i=1, inv_ready_o=1, inv_itag_i=3),
                               *[{**off, "invc_ready_i": 1}] * 70),
        "cmd_thread_exists": once(dict(cmd_valid_i=1, cmd_thread_i=3), off),
        "rsp_cmd_one_per_thread": once(dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=1), dict(cmd_thread_i=1), off),
        "rsp_has_cmd": once(dict(rsp_valid_o=1, rsp_ready_i=1, rsp_thread_o=0), off),
        "rsp_fault_cause": once(dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=0),
                                {**off, "rsp_valid_o": 1, "rsp_ready_i": 1, "rsp_thread_o": 0, "rsp_fault_o": 1,
                                 "rsp_cause_o": 0}, off),
    }
    walker_ad = (dict(AR_OK, m_axi_arid=1, m_axi_arlock=1),
                 {**off, "m_axi_rvalid": 1, "m_axi_rid": 1, "m_axi_rlast": 1, "m_axi_rresp": 1},
                 dict(AW_OK, m_axi_rvalid=0, m_axi_awid=1, m_axi_awlock=1),
                 {**off, "m_axi_bvalid": 1, "m_axi_bid": 1, "m_axi_bresp": 1},
                 dict(off, m_axi_arlock=0, m_axi_awlock=0, m_axi_rresp=0, m_axi_bresp=0))
    legal = once(*walker_ad, AR_OK, {**off, "m_axi_rvalid": 1, "m_axi_rid": 8, "m_axi_rlast": 1},
                 dict(m_axi_rvalid=0, inv_valid_i=1, inv_ready_o=1, inv_itag_i=3),
                 {**off, "invc_valid_o": 1, "invc_ready_i": 1, "invc_itag_o": 3},
                 {**off, "cmd_valid_i": 1, "cmd_ready_o": 1, "cmd_thread_i": 2},
                 {**off, "rsp_valid_o": 1, "rsp_ready_i": 1, "rsp_thread_o": 2, "rsp_fault_o": 1, "rsp_cause_o": 7},
                 off)
    await run_cases(dut, "top", {k: (v, TOP_OK) for k, v in cases.items()}, clean={"AXI, ITag, command": (legal, TOP_OK)})


# --------------------------------------------------------------------------- atc_assert

ATC_OK = {"atc_xcpl_ready_o": 1}


def atc(*steps: dict) -> Case:
    async def f(h):
        for s in steps:
            await h.cyc(**{f"atc_{k}": v for k, v in s.items()})
    return f


ISSUE = dict(xreq_valid_o=1, xreq_ready_i=1, xreq_id_o=0, xreq_pasid_o=1, xreq_vpn_o=sext(V))
NO_ISSUE = dict(xreq_valid_o=0)
INV = dict(inv_valid_i=1, inv_all_i=0, inv_pasid_i=1, inv_addr_i=sext(V), inv_keep_i=ONES52)
NO_INV = dict(inv_valid_i=0)
CPL = dict(xcpl_valid_i=1, xcpl_id_i=0, xcpl_cause_i=0, xcpl_size_i=0)
INFL0 = dict(tst_q=2, tpasid_q=1, tvpn_q=V)     # tracker 0 in flight, as the ATC would hold it
LKP = dict(lkp_valid_i=1, lkp_thread_i=0, lkp_pasid_i=1, lkp_vpn_i=V)   # thread 0 looks up (L0)
LKP_RES = dict(lkp_valid_i=0, lkp_rvalid_o=1, lkp_rthread_o=0)        # its result (L1)


@cocotb.test()
async def atc_rule1(dut):
    cases = {
        "rule1_no_stale_fill": atc({**ISSUE}, {**NO_ISSUE, **INV, **INFL0}, {**NO_INV, **CPL, "fill_en": 1}),
        # the leaf is larger than the page asked for: an invalidation elsewhere in its 2 MiB races it
        "rule1_no_stale_fill/big_leaf": atc(ISSUE, {**NO_ISSUE, **INV, "inv_addr_i": sext(V) ^ 1},
                                    {**NO_INV, **CPL, "xcpl_size_i": 1, "fill_en": 1}),
        # issued in the very cycle the invalidation is accepted
        "rule1_no_stale_fill/issue_race": atc({**ISSUE, **INV}, {**NO_ISSUE, **NO_INV}, {**CPL, "fill_en": 1}),
        "rule1_no_stale_use": atc(ISSUE, {**NO_ISSUE, **INV}, {**NO_INV, **CPL, "xres_valid_o": 1,
                                                               "xres_thread_o": 0, "xres_cause_o": 0}),
        "rule1_xres_from_cpl": atc(dict(xres_valid_o=1, xres_thread_o=1, xres_cause_o=0)),
        "rule1_drop": atc(INV, {**NO_INV, "v_q": 1, "pasid_q": 1, "vpn_q": V, "size_q": 0}),
        "atc_xcpl_ready": atc(dict(xcpl_ready_o=0)),
        "atc_no_spurious_poison": atc(ISSUE, NO_ISSUE, CPL),
        "atc_xreq_one_per_id": atc(ISSUE, ISSUE, NO_ISSUE),
        "atc_env_cpl_requested": atc({**CPL, "xcpl_id_i": 1}),
        "atc_env_cpl_size": atc(ISSUE, {**NO_ISSUE, **CPL, "xcpl_size_i": 3}),
        "atc_env_inv_range": atc({**INV, "inv_keep_i": 5}),
        "atc_env_lkp_thread_free": atc(dict(lkp_valid_i=1, lkp_thread_i=0, lkp_hit_o=0), dict(lkp_thread_i=0)),
        "atc_inv_infl": atc(dict(tst_q=2)),
        "atc_inv_req": atc(ISSUE, {**NO_ISSUE, **INFL0, "tpasid_q": 2}),
        "atc_inv_pois": atc(dict(tpois_q=1)),
        "atc_inv_pois/nested": atc(ISSUE, {**NO_ISSUE, **INFL0, **INV, "inv_addr_i": sext(V) ^ 1}, NO_INV),
        "atc_inv_busy": atc(dict(tst_q=1)),
        "atc_xreq_waiting": atc({**ISSUE, "tst_q": 0}),
        # the lookup pipeline: an invalidation of the looked-up page in the compare cycle (L0)
        "rule1_no_stale_hit": atc({**LKP, **INV}, {**NO_INV, **LKP_RES, "lkp_hit_o": 1}),
        "rule1_no_stale_hit/ro_fault": atc({**LKP, **INV}, {**NO_INV, **LKP_RES, "lkp_ro": 1}),
        "rule1_no_stale_hit/2m_entry": atc({**LKP, **INV, "inv_addr_i": sext(V) | 0x1FF, "inv_keep_i": ~0x1FF & ONES52},
                                           {**NO_INV, **LKP_RES, "lkp_hit_o": 1}),
        "atc_lkp_result": atc(dict(lkp_rvalid_o=1, lkp_rthread_o=0)),
        "atc_lkp_result/other_thread": atc(LKP, {**LKP_RES, "lkp_rthread_o": 1}),
    }
    # a legal walk: lookup miss, request, completion delivered and filled; an
    # invalidation of another PASID meanwhile does not make it stale
    legal = atc(LKP, {**LKP_RES, "lkp_hit_o": 0}, dict(lkp_rvalid_o=0, tst_q=1),
                {**ISSUE}, {**NO_ISSUE, **INV, **INFL0, "inv_pasid_i": 7},
                {**NO_INV, **CPL, "fill_en": 1, "xres_valid_o": 1, "xres_thread_o": 0, "xres_cause_o": 0},
                dict(xcpl_valid_i=0, fill_en=0, xres_valid_o=0, tst_q=0, tpasid_q=0, tvpn_q=0))
    # an invalidation of the looked-up page in L0 kills the result (no lkp_rvalid_o in L1); one of
    # another page lets the hit through, and one in L1 does not concern the pipeline (drain)
    killed = atc({**LKP, **INV}, {**NO_INV, "lkp_valid_i": 0}, {})
    other = atc({**LKP, **INV, "inv_addr_i": sext(V) ^ 1}, {**NO_INV, **LKP_RES, "lkp_hit_o": 1}, {"lkp_rvalid_o": 0})
    late = atc(LKP, {**LKP_RES, **INV, "lkp_hit_o": 1}, {**NO_INV, "lkp_rvalid_o": 0})
    await run_cases(dut, "atc", {k: (v, ATC_OK) for k, v in cases.items()},
                    clean={"walk": (legal, ATC_OK), "lookup killed": (killed, ATC_OK),
                           "other page": (other, ATC_OK), "invalidation in L1": (late, ATC_OK)})


# --------------------------------------------------------------------------- ptw_assert


# a walk of ID 0 raced by an invalidation in its acceptance cycle, completed; an armed one taken
RACED = (dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0, pwc_flush_i=1),
         dict(xreq_valid_i=0, pwc_flush_i=0, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0), dict(xcpl_valid_o=0))
ARMED_TAKE = dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0)


@cocotb.test()
async def ptw_checks(dut):
    def p(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"ptw_{k}": v for k, v in s.items()})
        return f
    cases = {
        "rule1_pwc_no_stale_fill": p(dict(st_q=1), dict(pwc_flush_i=1), dict(pwc_flush_i=0, st_q=2, r_valid_i=1,
                                                                              pwc_ins_by=1)),
        "ptw_cpl_requested": p(dict(xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=2)),
        "ptw_cpl_size": p(dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0),
                          dict(xreq_valid_i=0, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0, xcpl_size_o=3)),
        # slot 0 reads PTE 0x1007 (P RW US, A/D clear), then writes it back
        "ad_update_exclusive": p(dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1007, r_exok_i=0),
                                 dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1027)),
        "ad_update_exclusive/twice": p(dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1007, r_exok_i=1),
                                       dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1027),
                                       dict(aw_gnt_i=0), dict(aw_gnt_i=1)),
        "ad_update_exclusive/other_frame": p(dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1007, r_exok_i=1),
                                             dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x2027)),
        "ad_update_exclusive/not_present": p(dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1006, r_exok_i=1),
                                             dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1026)),
        "ad_dirty_write_leaf": p(dict(st_q=2, lvl_q=4, wr_q=0, r_valid_i=1, r_data_i=0x1007, r_exok_i=1),
                                 dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1067)),
        "ad_dirty_write_leaf/table": p(dict(st_q=2, lvl_q=3, wr_q=1, r_valid_i=1, r_data_i=0x1007, r_exok_i=1),
                                       dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1067)),
        "ad_writable_dirty": p(dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1027, r_exok_i=1),
                               dict(r_valid_i=0, st_q=3, cause_q=0, wrbl_q=1)),
        "ad_retry_bounded": p(dict(st_q=5, b_valid_i=1, b_err_i=0, b_exok_i=0), dict(), dict(b_valid_i=0, st_q=1),
                              dict(ar_req_o=1)),
        # slot 0 done without a fault although its path had a U/S-clear entry
        "ptw_sup_path": p(dict(st_q=1, usr_q=2), dict(st_q=3, cause_q=0)),
        "pwc_sup_fill_keep": p(dict(st_q=2, pwc_ins_by=1, pwc_ins_usr=0, pwc_keep_sup_i=0)),
        # AXI timeout (AxiTimeout 8): a second read granted on slot 0 before the first one's R
        "ptw_id_reuse": p(dict(st_q=1, ar_req_o=1, ar_gnt_i=1), dict(st_q=2, ar_req_o=0, ar_gnt_i=0),
                          dict(st_q=1, ar_req_o=1, ar_gnt_i=1)),
        "ptw_id_reuse/write": p(dict(st_q=4, aw_req_o=1, aw_gnt_i=1), dict(st_q=5, aw_req_o=0, aw_gnt_i=0),
                                dict(st_q=4, aw_req_o=1, aw_gnt_i=1)),
        # waiting for R without a read of its own (e.g. reused while a late R is due)
        "ptw_wait_own": p(dict(st_q=2)),
        "ptw_wait_own/write": p(dict(st_q=5)),
        "ptw_wait_bounded": p(*[dict(st_q=1)] * 9),
        "ptw_wait_bounded/response": p(dict(st_q=1, ar_req_o=1, ar_gnt_i=1),
                                       *[dict(st_q=2, ar_req_o=0, ar_gnt_i=0)] * 9),
        # forward progress (WalkMaxRetries 2, HoldMaxCycles 12): ID 0 raced twice, then armed
        "walk_retry_bounded": p(*RACED, *RACED, *RACED),
        "walk_hold_armed": p(*RACED, *RACED, ARMED_TAKE, dict(xreq_valid_i=0)),
        "walk_hold_armed/in_flight": p(*RACED, *RACED, {**ARMED_TAKE, "inv_hold_o": 1},
                                       dict(xreq_valid_i=0, inv_hold_o=0)),
        "walk_hold_ends": p(dict(inv_hold_o=1)),
        "walk_hold_bounded": p(*RACED, *RACED, {**ARMED_TAKE, "inv_hold_o": 1}, *[dict(xreq_valid_i=0)] * 13),
        "walk_hold_honoured": p(*RACED, *RACED, {**ARMED_TAKE, "inv_hold_o": 1}, dict(xreq_valid_i=0, pwc_flush_i=1)),
        # an invalidation accepted just before the hold rose is applied in its first cycle: not then
        "walk_armed_unraced": p(*RACED, *RACED, {**ARMED_TAKE, "xreq_ready_o": 0},
                                {**ARMED_TAKE, "inv_hold_o": 1, "pwc_flush_i": 1}),
    }
    keep_fill = p(dict(st_q=1, ar_req_o=1, ar_gnt_i=1),
                  dict(st_q=2, ar_req_o=0, ar_gnt_i=0, pwc_keep_sup_i=1, pwc_ins_by=1, pwc_ins_usr=0),
                  dict(pwc_ins_by=0, pwc_ins_usr=1), dict(st_q=3, cause_q=3, usr_q=2), dict(st_q=0))
    legal = p(dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0, st_q=0), dict(xreq_valid_i=0, st_q=1, ar_req_o=1,
                                                                              ar_gnt_i=1),
              dict(st_q=2, ar_req_o=0, ar_gnt_i=0), dict(r_valid_i=1, pwc_ins_by=1),
              dict(r_valid_i=0, pwc_ins_by=0, st_q=3, pwc_flush_i=1),
              dict(pwc_flush_i=0, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0, xcpl_size_o=1), dict(xcpl_valid_o=0, st_q=0))
    # a read timed out after 8 cycles in WWait, its late R is dropped, the slot's next read is granted
    legal_late = p(dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0, st_q=0),
                   dict(xreq_valid_i=0, st_q=1, ar_req_o=1, ar_gnt_i=1), *[dict(st_q=2, ar_req_o=0, ar_gnt_i=0)] * 8,
                   dict(st_q=3, cause_q=15, orph_r_q=1, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0, xcpl_cause_o=15),
                   dict(st_q=0, xcpl_valid_o=0, xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=1),
                   dict(st_q=1, xreq_valid_i=0), dict(st_q=1, r_valid_i=1, r_data_i=0x1007),
                   dict(st_q=1, r_valid_i=0, orph_r_q=0, ar_req_o=1, ar_gnt_i=1), dict(st_q=2, ar_req_o=0, ar_gnt_i=0),
                   dict(r_valid_i=1), dict(r_valid_i=0, st_q=3, cause_q=1, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=1,
                                           xcpl_cause_o=1), dict(xcpl_valid_o=0, st_q=0))
    # a write walk's leaf: exclusive read EXOKAY, A and D written, EXOKAY, writable completion
    legal_ad = p(dict(xreq_valid_i=1, xreq_ready_o=1, xreq_id_i=0, st_q=0), dict(xreq_valid_i=0, st_q=1, wr_q=1,
                                                                                 ar_req_o=1, ar_gnt_i=1),
                 dict(st_q=2, lvl_q=4, r_valid_i=1, r_data_i=0x1007, r_exok_i=1, ar_req_o=0, ar_gnt_i=0),
                 dict(r_valid_i=0, st_q=4, aw_req_o=1, aw_gnt_i=1, aw_data_o=0x1067),
                 dict(aw_req_o=0, aw_gnt_i=0, st_q=5, b_valid_i=1, b_exok_i=1),
                 dict(b_valid_i=0, st_q=3, cause_q=0, wrbl_q=1, xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0),
                 dict(xcpl_valid_o=0, st_q=0))
    # ID 0 raced twice, its third walk taken under the hold, completed unraced; the hold drops
    legal_armed = p(*RACED, *RACED, {**ARMED_TAKE, "xreq_ready_o": 0}, {**ARMED_TAKE, "inv_hold_o": 1},
                    *[dict(xreq_valid_i=0)] * 6,
                    dict(xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0), dict(xcpl_valid_o=0, inv_hold_o=0), *RACED)
    # ... the same, with an invalidation applied in the hold's first cycle: the armed walk is taken a cycle later
    legal_armed_late = p(*RACED, *RACED, {**ARMED_TAKE, "xreq_ready_o": 0},
                         {**ARMED_TAKE, "xreq_ready_o": 0, "inv_hold_o": 1, "pwc_flush_i": 1},
                         {**ARMED_TAKE, "pwc_flush_i": 0}, *[dict(xreq_valid_i=0)] * 6,
                         dict(xcpl_valid_o=1, xcpl_ready_i=1, xcpl_id_o=0), dict(xcpl_valid_o=0, inv_hold_o=0))
    await run_cases(dut, "ptw", cases, clean={"walk with flush after its last read": (legal, {}),
                                              "armed walk under the hold": (legal_armed, {}),
                                              "armed walk after a flush in the hold's first cycle":
                                                  (legal_armed_late, {}),
                                              "write walk setting A and D": (legal_ad, {}),
                                              "keep mode: supervisor path cached, walk faults": (keep_fill, {}),
                                              "read timed out, late R dropped, slot reused": (legal_late, {})})


# --------------------------------------------------------------------------- dma_assert

# thread 0 looks up (L0); its result comes the next cycle (L1)
LOOKUP = dict(lkp_valid_o=1, lkp_thread_o=0)
RESULT = dict(lkp_valid_o=0, lkp_rvalid_i=1, lkp_rthread_i=0)
NO_RESULT = dict(lkp_rvalid_i=0)


@cocotb.test()
async def dma_checks(dut):
    def d(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"dma_{k}": v for k, v in s.items()})
        return f
    # read on thread 0: command, ATC hit, access granted; the FSM state as dma.sv holds it
    hit_read = (dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=0, cmd_write_i=0),
                dict(cmd_valid_i=0, st_q=1, **LOOKUP),
                dict(**RESULT, lkp_hit_i=1, lkp_ppn_i=0x123, holds_xlat_o=1),
                dict(**NO_RESULT, st_q=3, rd_req_o=1, mem_addr_o=0x123 << 12, mem_gnt_i=1),
                dict(rd_req_o=0, mem_gnt_i=0, st_q=4))
    cases = {
        "rule2_dma_holds": d(dict(st_q=1, **LOOKUP), dict(**RESULT, lkp_hit_i=1, holds_xlat_o=0)),
        "rule2_dma_mem_done": d(dict(mem_done_o=1)),
        "dma_access_translated": d(dict(rd_req_o=1)),
        "dma_inv_state": d(dict(st_q=3)),
        "dma_env_gnt": d(dict(mem_gnt_i=1)),
        "dma_env_rb": d(dict(r_valid_i=1)),
        "dma_env_xres": d(dict(xres_valid_i=1, xres_thread_i=0, xres_cause_i=0)),
        # a result with no lookup the cycle before (a killed lookup gives none)
        "dma_env_lkp_result": d(dict(st_q=1), dict(lkp_rvalid_i=1, lkp_rthread_i=0, lkp_hit_i=0)),
        # AXI timeout (AxiTimeout 8)
        "dma_id_reuse": d(*hit_read, dict(rd_req_o=1)),
        "dma_drop_ungranted": d(dict(mem_drop=1)),
        "dma_drop_ungranted/granted": d(dict(st_q=1, **LOOKUP), dict(**RESULT, lkp_hit_i=1, holds_xlat_o=1),
                                        dict(**NO_RESULT, rd_req_o=1, mem_gnt_i=1, mem_drop=1, mem_done_o=1)),
        "rule2_dma_mem_done/drop": d(dict(st_q=1, **LOOKUP), dict(**RESULT, lkp_hit_i=1, holds_xlat_o=1),
                                     dict(**NO_RESULT, rd_req_o=1, mem_drop=1)),
        "rule2_dma_holds/orphan": d(*hit_read, dict(st_q=5, holds_xlat_o=0)),
        "dma_wait_bounded": d(*[dict(st_q=3)] * 9),
        "dma_wait_bounded/orphan": d(*[dict(st_q=1, orph_q=1)] * 9),
    }
    # ... its R times out: the response leaves, the thread is orphaned; a write command waits in
    # TLkp, the late R drains it, the write looks up
    legal_late = d(*hit_read, *[dict()] * 6, dict(st_q=5, orph_q=1, orph_wr_q=0), dict(st_q=0),
                   dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=0, cmd_write_i=1),
                   dict(cmd_valid_i=0, st_q=1, wr_q=1), dict(),
                   dict(r_valid_i=1, mem_done_o=1, holds_xlat_o=0),
                   dict(r_valid_i=0, mem_done_o=0, orph_q=0, **LOOKUP),
                   dict(**RESULT, lkp_hit_i=1, lkp_ppn_i=0x123, holds_xlat_o=1),
                   dict(**NO_RESULT, st_q=3, wr_req_o=1, mem_addr_o=0x123 << 12))
    # ... or the port never takes it: withdrawn ungranted after 8 cycles in TMem
    legal_drop = d(*hit_read[:3], dict(**NO_RESULT, st_q=3, rd_req_o=1, mem_addr_o=0x123 << 12),
                   *[dict()] * 6, dict(mem_drop=1, mem_done_o=1, holds_xlat_o=0),
                   dict(mem_drop=0, mem_done_o=0, rd_req_o=0, st_q=5), dict(st_q=0))
    # read on thread 0: command, ATC hit, access granted, R; the FSM state as dma.sv holds it
    legal = d(dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=0, cmd_write_i=0),
              dict(cmd_valid_i=0, st_q=1, **LOOKUP),
              dict(**RESULT, lkp_hit_i=1, lkp_ppn_i=0x123, holds_xlat_o=1),
              dict(**NO_RESULT, st_q=3, rd_req_o=1, mem_addr_o=0x123 << 12, mem_gnt_i=1),
              dict(rd_req_o=0, mem_gnt_i=0, st_q=4),
              dict(r_valid_i=1, mem_done_o=1, holds_xlat_o=0),
              dict(r_valid_i=0, mem_done_o=0, st_q=5), dict(st_q=0))
    await run_cases(dut, "dma", cases, clean={"read hit": (legal, {}), "read timed out, late R": (legal_late, {}),
                                              "request withdrawn at the timeout": (legal_drop, {})})


@cocotb.test()
async def dma_exact_checks(dut):
    """dma_assert with DrainExact: only a translation overlapping the applied invalidation must be reported."""
    def d(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"dmx_{k}": v for k, v in s.items()})
        return f
    cmd = dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=0, cmd_write_i=0, cmd_pasid_i=5, cmd_va_i=V << 12)
    own = dict(ap_pasid_i=5, ap_addr_i=sext(V), ap_keep_i=ONES52)          # the access's page
    other = dict(ap_pasid_i=5, ap_addr_i=sext(V) ^ 1, ap_keep_i=ONES52)    # its neighbour
    # read hit on thread 0, the FSM state as dma.sv holds it; holds_xlat_o as the exact drain gives it
    def read(inv, holds):
        return d(cmd, dict(cmd_valid_i=0, st_q=1, **LOOKUP),
                 dict(**RESULT, **inv, lkp_hit_i=1, lkp_ppn_i=0x123, lkp_size_i=0, holds_xlat_o=holds),
                 dict(**NO_RESULT, st_q=3, rd_req_o=1, mem_addr_o=0x123 << 12, mem_gnt_i=1),
                 dict(rd_req_o=0, mem_gnt_i=0, st_q=4),
                 dict(r_valid_i=1, mem_done_o=1, holds_xlat_o=0),
                 dict(r_valid_i=0, mem_done_o=0, st_q=5), dict(st_q=0))
    cases = {"rule2_dma_holds": read(own, 0),
             # a 2 MiB entry hit: an invalidation of another 4 KiB page inside it matches
             "rule2_dma_holds/huge": d(cmd, dict(cmd_valid_i=0, st_q=1, **LOOKUP),
                                       dict(**RESULT, ap_pasid_i=5, ap_addr_i=sext(V) ^ 0x100, ap_keep_i=ONES52,
                                            lkp_hit_i=1, lkp_ppn_i=0x123, lkp_size_i=1, holds_xlat_o=0))}
    await run_cases(dut, "dmx", cases, clean={"non-matching invalidation, not reported": (read(other, 0), {}),
                                              "matching invalidation, reported": (read(own, 1), {})})


# --------------------------------------------------------------------------- dma_queue_assert

def st2(*states: int) -> int:
    """dq_st_q for slots 0.. (3 bits each)."""
    return sum(s << (3 * i) for i, s in enumerate(states))


@cocotb.test()
async def dma_queue_checks(dut):
    """Command queues (2 threads x 2 slots): in-order responses, AXI routing and issue order."""
    def d(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"dq_{k}": v for k, v in s.items()})
        return f

    def cmd(slot, write=0):
        return dict(cmd_valid_i=1, cmd_ready_o=1, cmd_thread_i=slot // 2, cmd_slot=slot, cmd_write_i=write)
    off = dict(cmd_valid_i=0, sgnt=0, r_valid_i=0, b_valid_i=0, sr_valid=0, sb_valid=0, rsp_valid_o=0)
    two_reads = (cmd(0), cmd(1), dict(**off, st_q=st2(3, 3)))
    cases = {
        "dma_rsp_in_order": d(*two_reads, dict(rsp_valid_o=1, rsp_ready_i=1, rsp_thread_o=0, rsp_slot=1)),
        "dma_rsp_in_order/busy_slot": d(cmd(0), cmd(0)),
        # granted 0 then 1; the R goes to 1
        "dma_axi_route": d(*two_reads, dict(sgnt=0b01), dict(sgnt=0b10, st_q=st2(4, 3)),
                           dict(sgnt=0, st_q=st2(4, 4), r_valid_i=0b01, sr_valid=0b10)),
        "dma_axi_route/dropped": d(*two_reads, dict(sgnt=0b01), dict(sgnt=0, st_q=st2(4, 3), r_valid_i=0b01)),
        # an older write still to issue, a younger read granted
        "dma_axi_order": d(cmd(0, 1), cmd(1, 0), dict(**off, st_q=st2(3, 3)), dict(sgnt=0b10)),
        # a read in flight, a younger write granted
        "dma_axi_order/write_after_read": d(cmd(0, 0), cmd(1, 1), dict(**off, st_q=st2(3, 3)), dict(sgnt=0b01),
                                            dict(sgnt=0b10, st_q=st2(4, 3))),
    }
    # two reads granted in reverse order (the younger hit first), answered in grant order, responses in order
    legal = d(*two_reads, dict(sgnt=0b10), dict(sgnt=0b01, st_q=st2(3, 4)),
              dict(sgnt=0, st_q=st2(4, 4), r_valid_i=0b01, sr_valid=0b10),
              dict(st_q=st2(4, 5), sr_valid=0b01), dict(r_valid_i=0, sr_valid=0, st_q=st2(5, 5)),
              dict(rsp_valid_o=1, rsp_ready_i=1, rsp_thread_o=0, rsp_slot=0),
              dict(rsp_slot=1, st_q=st2(0, 5)), dict(rsp_valid_o=0, st_q=st2(0, 0)))
    await run_cases(dut, "dq", cases, clean={"reads passing, answered in grant order": (legal, {})})


# --------------------------------------------------------------------------- inv_assert

INV_OK = {"inv_inv_ready_o": 1}


@cocotb.test()
async def inv_checks(dut):
    def i(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"inv_{k}": v for k, v in s.items()})
        return f

    # an Invalidate Request accepted (cycle 1), applied with its drain snapshot (cycle 2), queued (cycle 3)
    def acc(itag, **kv):
        return {**dict(inv_valid_i=1, inv_ready_o=1, inv_itag_i=itag, inv_pasid_valid_i=0, inv_addr_i=0x55,
                       inv_s_i=0), **kv}

    def ap(itag, holds=0, **kv):
        return {**dict(inv_valid_i=0, apply_o=1, ap_q=1, ap_itag_q=itag, apply_all_o=1, apply_addr_o=0x55,
                       apply_keep_o=ONES52, holds_xlat_i=holds), **kv}
    stop = dict(inv_valid_i=0, apply_o=0, ap_q=0)
    q1 = dict(**stop, cnt_q=1, wptr_q=1, rptr_q=0, itag_q=2, mask_q=1)   # the FIFO holding ITag 2, thread 0 pending
    cases = {
        "rule2_inv_drain": i(acc(2), ap(2, 1), {**q1, "invc_valid_o": 1, "invc_itag_o": 2}),
        "inv_cpl_requested": i(dict(invc_valid_o=1, invc_itag_o=5)),
        "inv_cpl_applied": i(acc(2), ap(2, 0, invc_valid_o=1, invc_itag_o=2)),
        "inv_ready_room": i(dict(inv_ready_o=0)),
        "inv_ready_room/held": i(dict(hold_i=1)),
        "inv_apply": i(acc(2), {**ap(2), "apply_o": 0}),
        "inv_apply/acceptance_cycle": i(acc(2, apply_o=1, apply_all_o=1, apply_addr_o=0x55, apply_keep_o=ONES52)),
        "inv_apply/range": i(acc(2, inv_s_i=1, inv_addr_i=0b0111),
                             ap(2, apply_addr_o=0b0111, apply_keep_o=(ONES52 << 3) & ONES52)),
        "inv_env_itag_free": i(acc(2), ap(2, 1), {**q1, **acc(2)}),
        "inv_env_itag_checked": i(acc(9)),
        "inv_inv_fifo": i(dict(cnt_q=1, wptr_q=1)),
        "inv_inv_slot": i(acc(2), ap(2, 1), {**q1, "mask_q": 2}),
        "inv_inv_distinct": i(acc(2), ap(2), {**q1, "mask_q": 0, **acc(3)}, {**ap(3), "cnt_q": 1},
                              {**stop, "cnt_q": 2, "wptr_q": 2, "itag_q": 2 | 2 << 5, "mask_q": 0}),
        "inv_inv_stage": i(dict(ap_q=1, ap_itag_q=2)),
        "inv_inv_room": i(dict(room_q=0)),
    }
    # S=1 range: address ...0111 (bits 12..14 set, bit 15 clear) covers 64 KiB, keep from bit 4 up
    legal = i(acc(2, inv_s_i=1, inv_addr_i=0b0111),
              ap(2, 1, apply_addr_o=0b0111, apply_keep_o=(ONES52 << 4) & ONES52),
              {**q1, "mem_done_i": 1},
              dict(mem_done_i=0, mask_q=0, invc_valid_o=1, invc_ready_i=1, invc_itag_o=2),
              dict(invc_valid_o=0, cnt_q=0, rptr_q=1, mask_q=0))
    await run_cases(dut, "inv", {k: (v, INV_OK) for k, v in cases.items()}, clean={"drained completion": (legal, INV_OK)})


# --------------------------------------------------------------------------- drain_assert / walk_live_assert


# --------------------------------------------------------------------------- atc_sa_assert


def asa(*steps: dict) -> Case:
    async def f(h):
        for s in steps:
            await h.cyc(**{f"asa_{k}": v for k, v in s.items()})
    return f


@cocotb.test()
async def atc_sa_checks(dut):
    """Set 1 way 0 (entry 2) written with V of PASID 1, then kept valid across its invalidation."""
    fill = dict(we=1, wset=1, fill_pasid_i=1, fill_vpn_i=V)
    inv = dict(inv_valid_i=1, inv_all_i=0, inv_pasid_i=1, inv_addr_i=sext(V), inv_keep_i=ONES52)
    cases = {
        "sa_hit_onehot": asa(dict(lr_valid_i=1, m=3)),
        "sa_fill_one_way": asa(dict(we=3)),
        "sa_rule1_drop": asa(fill, dict(we=0, v_q=4), {**inv, "v_q": 4}, dict(inv_valid_i=0, v_q=4)),
        "sa_rule1_drop/all_pasids": asa(fill, dict(we=0, v_q=4), {**inv, "inv_all_i": 1, "inv_pasid_i": 9, "v_q": 4},
                                        dict(inv_valid_i=0, v_q=4)),
    }
    # dropped (v_q clear the cycle after), another PASID's or another page's invalidation, one hit
    dropped = asa(fill, dict(we=0, v_q=4), {**inv, "v_q": 4}, dict(inv_valid_i=0, v_q=0))
    other = asa(fill, dict(we=0, v_q=4), {**inv, "inv_pasid_i": 2, "v_q": 4}, dict(inv_valid_i=0, v_q=4),
                {**inv, "inv_addr_i": sext(V) ^ 1}, dict(inv_valid_i=0, lr_valid_i=1, m=2))
    await run_cases(dut, "asa", cases, clean={"dropped": dropped, "other PASID or page, one hit": other})


@cocotb.test()
async def drain_and_walk(dut):
    def d(*steps):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"drn_{k}": v for k, v in s.items()})
        return f
    hit = dict(lkp_valid_i=1, lkp_thread_i=0, lkp_pasid_i=1, lkp_vpn_i=V, lkp_hit_i=1, lkp_size_i=1)
    req = dict(lkp_valid_i=0, inv_valid_i=1, inv_ready_i=1, inv_itag_i=1, inv_pasid_valid_i=1, inv_pasid_i=1,
               inv_addr_i=sext(V) ^ 3, inv_s_i=0)   # another 4 KiB page inside the 2 MiB entry hit
    cpl = dict(inv_valid_i=0, invc_valid_i=1, invc_ready_i=1, invc_itag_i=1)
    await run_cases(dut, "drn", {"rule2_drain": d(hit, req, cpl),
                                 # obtained in the application cycle, the one after the acceptance
                                 "rule2_drain/applied": d(req, {**hit, "inv_valid_i": 0}, {**cpl, "lkp_valid_i": 0})},
                    clean={"other PASID": d(hit, {**req, "inv_pasid_i": 2}, cpl),
                           "answered first": d(hit, {**req, "rvalid_i": 1, "rready_i": 1, "rid_i": 8},
                                               {**cpl, "rvalid_i": 0}),
                           "withdrawn unissued": d(hit, {**req, "mem_drop_i": 1}, {**cpl, "mem_drop_i": 0}),
                           "obtained after the application": d(req, dict(inv_valid_i=0), {**hit, **cpl},
                                                               {**cpl, "lkp_valid_i": 0})})

    def w(*steps, n=1):
        async def f(h):
            for s in steps:
                await h.cyc(**{f"wlk_{k}": v for k, v in s.items()})
            await h.cyc(n)
        return f
    take = dict(xreq_valid_i=1, xreq_ready_i=1, xreq_id_i=0)
    await run_cases(dut, "wlk", {"walk_bounded": w(take, dict(xreq_valid_i=0), n=25)},
                    clean={"memory stalls AR": w(take, dict(xreq_valid_i=0, arvalid_i=1, arready_i=0), n=40)})


# --------------------------------------------------------------------------- pri_assert (PriTimeout 8, PriRetries 2)

PRI_FAULT = dict(pri_xres_valid_i=1, pri_xres_thread_i=1, pri_xres_cause_i=1)
PRI_FAULT_OFF = dict(pri_xres_valid_i=0)


def pri_req(**kv) -> dict:
    """A Page Request of thread 1 for a read command, accepted."""
    return {"pri_pr_valid_i": 1, "pri_pr_ready_i": 1, "pri_pr_prgi_i": 1, "pri_pr_read_i": 1,
            "pri_pr_write_i": 0, "pri_pr_last_i": 1, **{f"pri_{k}": v for k, v in kv.items()}}


async def pri_cmd(h):
    await h.cyc(pri_cmd_valid_i=1, pri_cmd_ready_i=1, pri_cmd_thread_i=1, pri_cmd_write_i=0)
    await h.cyc(pri_cmd_valid_i=0)


async def pri_round(h, answer: bool = True):
    """Fault → request → (response)."""
    await h.cyc(**PRI_FAULT)
    await h.cyc(**PRI_FAULT_OFF, **pri_req())
    await h.cyc(pri_pr_valid_i=0)
    if answer:
        await h.cyc(pri_prgr_valid_i=1, pri_prgr_prgi_i=1)
        await h.cyc(pri_prgr_valid_i=0)


@cocotb.test()
async def pri_checks(dut):
    en = {"pri_pri_en_i": 1}

    async def unasked(h):
        await pri_cmd(h)
        await h.cyc(**pri_req())

    async def not_last(h):
        await pri_cmd(h)
        await h.cyc(**PRI_FAULT)
        await h.cyc(**PRI_FAULT_OFF, **pri_req(pr_last_i=0))

    async def wrong_rw(h):
        await pri_cmd(h)
        await h.cyc(**PRI_FAULT)
        await h.cyc(**PRI_FAULT_OFF, **pri_req(pr_write_i=1, pr_read_i=0))

    async def third_retry(h):
        await pri_cmd(h)
        for _ in range(2):
            await pri_round(h)
        # the checker's own ghost no longer expects a request: a third one breaks both rules
        await h.cyc(**PRI_FAULT)
        await h.cyc(**PRI_FAULT_OFF, **pri_req())

    async def lookup_early(h):
        await pri_cmd(h)
        await pri_round(h, answer=False)
        await h.cyc(pri_lkp_valid_i=1, pri_lkp_thread_i=1)

    async def answer_early(h):
        await pri_cmd(h)
        await pri_round(h, answer=False)
        await h.cyc(pri_rsp_valid_i=1, pri_rsp_thread_i=1, pri_rsp_cause_i=13)

    async def never_times_out(h):
        await pri_cmd(h)
        await pri_round(h, answer=False)
        await h.cyc(12)

    async def pr_dropped(h):
        await pri_cmd(h)
        await h.cyc(**PRI_FAULT)
        await h.cyc(**PRI_FAULT_OFF, **pri_req(pr_ready_i=0))
        await h.cyc(pri_pr_valid_i=0)

    async def legal(h):
        await pri_cmd(h)
        await pri_round(h)
        await h.cyc(pri_lkp_valid_i=1, pri_lkp_thread_i=1)
        await h.cyc(pri_lkp_valid_i=0)
        await pri_round(h)
        # the second success, then a timeout answered at PriTimeout
        await h.cyc(pri_rsp_valid_i=1, pri_rsp_thread_i=1, pri_rsp_cause_i=14)
        await h.cyc(pri_rsp_valid_i=0)
        await pri_cmd(h)
        await pri_round(h, answer=False)
        await h.cyc(7)
        await h.cyc(pri_rsp_valid_i=1, pri_rsp_thread_i=1, pri_rsp_cause_i=13)
        await h.cyc(pri_rsp_valid_i=0)
        # a stray response is legal
        await h.cyc(pri_prgr_valid_i=1, pri_prgr_prgi_i=0)
        await h.cyc(pri_prgr_valid_i=0)

    await run_cases(dut, "pri", {
        "pri_req_after_fault": (unasked, en),
        "pri_req_fields": (not_last, en),
        "pri_req_fields/rw": (wrong_rw, en),
        "pri_retry_bounded": (third_retry, en),
        "pri_wait_response": (lookup_early, en),
        "pri_wait_response/answer": (answer_early, en),
        "pri_timeout": (never_times_out, en),
        "hs_valid_held": (pr_dropped, en),
    }, clean={"fault, request, success, retry, timeout": (legal, en)})
