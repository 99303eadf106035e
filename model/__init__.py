"""Host model of the kernel side of the mmu_notifier secondary-TLB rule.

Pure Python: everything here runs without a simulator. See docs/ARCHITECTURE.md.
"""
