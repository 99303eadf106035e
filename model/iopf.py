"""The host's I/O page-fault handler: Page Requests serviced through the CPU fault path.

Linux's SVA driver queues a device's Page Request (iommu_report_device_fault)
and its iopf worker calls iommu_sva_handle_iopf, which takes the mm's
mmap_lock and runs handle_mm_fault on the VMA, then answers the group with a
PRG Response. This module does the same for the scheduler: each request runs
`model.ops.handle_mm_fault` (fault-in, zero page, COW, write upgrade, swap-in,
all with their notifier calls) as a kernel thread named IOPF-<PRG index>, and answers

* Success when the fault path returned (the device translates again; a
  spurious fault, fixed meanwhile, is a Success too),
* Invalid Request when it raised SegmentationFault (no VMA, or a write to a
  read-only VMA: the access is not allowed),
* Response Failure for a PASID bound to no mm.

Blocked steps (a lock held by a preempted CPU thread) wait: `service` is
called after every device tick and advances each handler as far as it can.
`noop` (scenario `pri noop`, test only) answers Success without servicing:
a broken handler that leaves the device faulting until its livelock limit.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .ats import PageRequest, PrgResponse
from .mm import Blocked, SegmentationFault

THREAD = "IOPF"


@dataclass
class _Job:
    req: PageRequest
    gen: Any = None
    blocked: Blocked | None = None


@dataclass
class IopfHandler:
    """Services a device's Page Requests; `kernel_of(pasid)` gives the Kernel of the bound mm (or None)."""

    kernel_of: Callable[[int], Any]
    noop: bool = False
    jobs: list[_Job] = field(default_factory=list)
    answered: list[tuple[PageRequest, PrgResponse]] = field(default_factory=list)

    def service(self, device: Any) -> bool:
        """Take new requests, advance every handler; True if anything moved."""
        from .ops import handle_mm_fault

        moved = False
        for req in device.take_page_requests():
            self.jobs.append(_Job(req))
            moved = True
        for job in list(self.jobs):
            k = self.kernel_of(job.req.pasid)
            if k is None:
                self._answer(device, job, PrgResponse.FAILURE)
                moved = True
                continue
            if self.noop:
                self._answer(device, job, PrgResponse.SUCCESS)
                moved = True
                continue
            if job.gen is None:
                # one worker per PRG index: two groups in flight are two kernel threads
                job.gen = handle_mm_fault(k, f"{THREAD}-{job.req.prg_index}", job.req.va, write=job.req.w)
            code = None
            for _ in range(10_000):
                if job.blocked is not None:
                    if not job.blocked.ready():
                        break
                    job.blocked = None
                try:
                    y = next(job.gen)
                except StopIteration:
                    code = PrgResponse.SUCCESS
                    break
                except SegmentationFault:
                    code = PrgResponse.INVALID
                    break
                moved = True
                if isinstance(y, Blocked):
                    job.blocked = y
            if code is not None:
                self._answer(device, job, code)
                moved = True
        return moved

    def _answer(self, device: Any, job: _Job, code: PrgResponse) -> None:
        self.jobs.remove(job)
        self.answered.append((job.req, code))
        device.prg_response(job.req.prg_index, int(code))

    @property
    def busy(self) -> bool:
        return bool(self.jobs)
