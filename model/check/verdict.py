"""The one result type every checker returns.

A verdict must be readable on its own: it names the rule, the addresses (hex),
and every event involved with its time, so a failure can be diagnosed from the
console or the JSON results without opening a waveform.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, is_dataclass
from typing import Any

# Every rule any checker can report, in the order the verdict table lists them.
RULES: tuple[str, ...] = (
    "ordering",
    "coherence",
    "future-read",
    "unknown-value",
    "lost-write",
    "lost-dirty",
    "use-after-free",
    "itag-reuse",
    "completion-without-request",
    "duplicate-completion",
    "lost-completion",
    "completion-before-drain",
    "livelock",
    "stale-window",
)


@dataclass
class Verdict:
    """One finding, or the statement that a rule held over the whole trace.

    `ok=True` verdicts are emitted once per rule that found nothing, so a
    verdict table always lists every rule; `stale-window` is a metric and is
    always ok, with its numbers in `metrics`.
    """

    rule: str
    ok: bool
    message: str
    events: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    @property
    def time(self) -> int | None:
        """Earliest time among the events (for sorting and tables)."""
        times = [t for t in (event_time(e) for e in self.events) if t is not None]
        return min(times) if times else None

    def to_json(self) -> dict:
        return {
            "rule": self.rule,
            "ok": self.ok,
            "message": self.message,
            "events": [event_json(e) for e in self.events],
            "metrics": _plain(self.metrics),
        }

    @classmethod
    def passed(cls, rule: str, message: str, **metrics: Any) -> "Verdict":
        return cls(rule=rule, ok=True, message=f"[{rule}] ok: {message}", metrics=dict(metrics))


def event_json(ev: Any) -> dict:
    """The trace's own JSON row form ({"type": name, **fields})."""
    if is_dataclass(ev) and not isinstance(ev, type):
        return {"type": type(ev).__name__, **asdict(ev)}
    return {"type": type(ev).__name__, "repr": repr(ev)}


def event_time(ev: Any) -> int | None:
    """The instant an event happened; for a DevAccess, when it hit memory."""
    for name in ("mem_time", "time", "complete", "issue"):
        t = getattr(ev, name, None)
        if t is not None:
            return t
    return None


def _plain(x: Any) -> Any:
    """Make metrics JSON-safe with a deterministic shape (tuples become lists)."""
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if is_dataclass(x) and not isinstance(x, type):
        return _plain(asdict(x))
    return x


def verdicts_to_json(verdicts: list[Verdict]) -> list[dict]:
    return [v.to_json() for v in verdicts]


def dumps(verdicts: list[Verdict]) -> str:
    """Stable JSON text: same verdicts, same bytes (keys sorted)."""
    return json.dumps(verdicts_to_json(verdicts), sort_keys=True, indent=1)


def limit(verdicts: list[Verdict], rule: str, max_reports: int | None) -> list[Verdict]:
    """Keep the first `max_reports` failures of a rule and count the rest.

    A badly broken run can fail thousands of reads; the first few carry all the
    information and the JSON stays small.
    """
    if max_reports is None or len(verdicts) <= max_reports:
        return verdicts
    kept = verdicts[:max_reports]
    rest = len(verdicts) - max_reports
    kept.append(Verdict(rule=rule, ok=False,
                        message=f"[{rule}] ... and {rest} more violation(s) of this rule not listed",
                        metrics={"unlisted": rest}))
    return kept
