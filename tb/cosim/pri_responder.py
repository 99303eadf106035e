"""The PRI responder: reads the RTL's PCIe Page Requests and sends the host's PRG Responses.

Page Request handshakes are captured into a ring in the wrapper
(tb/cosim/wrapper.py `_PRI_HDL`) and read at quiet points (`take_prs`); PRG
Responses go through a small queue the wrapper presents one per cycle, in
order (`send_prgr`). The handles are bound when PRI is first enabled, so a
run without PRI touches none of them. The host side (who answers what, and
when) is model/iopf.py.

`PriResponder` is a part of `tb.cosim.ports.Ports`; it is not used alone.
"""
from __future__ import annotations

from tb.cosim.config import DeviceError
from tb.cosim.gpi import M32, Sig, Words
from tb.cosim.wrapper import CAP, PRQ

MASK64 = (1 << 64) - 1


class PriResponder:
    """The Page Request side of `Ports` (see the module docstring). From `Ports` it uses
    `dut` and `_kick`."""

    def pri_enable(self, on: bool) -> None:
        """pri_en_i and pr_ready_i (the host takes every Page Request at once)."""
        d = self.dut
        self._pr = (Sig(d, "pri_en_i"), Sig(d, "pr_ready_i"), Sig(d, "pr_n"), Words(d, "pr_c0", CAP),
                    Words(d, "pr_c1", CAP), Words(d, "pr_c2", CAP), Words(d, "pq_meta", PRQ), Sig(d, "pq_wp"))
        self._pr_seen = self._pr[2].get()
        self._pq_w = self._pr[7].get()
        self._pr[0].set(int(on))
        self._pr[1].set(int(on))
        self._kick()

    def take_prs(self) -> list[tuple[int, int, int, bool, bool, bool]]:
        """Page Requests handshaken since the last call: (pasid, page address, PRG index, r, w, last)."""
        if not hasattr(self, "_pr"):
            return []
        _, _, n_sig, c0, c1, c2, _, _ = self._pr
        n = n_sig.get()
        k = (n - self._pr_seen) & M32
        if k > CAP:
            raise DeviceError(f"pr: {k} Page Requests since the last quiet point, more than the ring holds ({CAP})")
        out = []
        for j in range(k):
            i = (self._pr_seen + j) % CAP
            m = c0.get(i)
            addr = (c2.get(i) << 32) | c1.get(i)
            out.append((m >> 12, (addr << 12) & MASK64, m & 0x1FF, bool(m >> 10 & 1), bool(m >> 11 & 1),
                        bool(m >> 9 & 1)))
        self._pr_seen = n
        return out

    def send_prgr(self, prg_index: int, code: int) -> None:
        """Queue a PRG Response (at a quiet point): presented for one cycle, in order."""
        meta, wp = self._pr[6], self._pr[7]
        meta.set(self._pq_w % PRQ, ((code & 0xF) << 9) | (prg_index & 0x1FF))
        self._pq_w = (self._pq_w + 1) & M32
        wp.set(self._pq_w)
        self._kick()
