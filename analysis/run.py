"""The one run loop: replay a trace through a frontend (and its allocator).

``replay(frontend, trace, recorders)`` feeds every event to the frontend and calls the
recorders at their stops: every ``recorder.every`` events (if set), at the end of each
phase of the trace, and at the end.  Recorders are the only code that reads allocator
state during a run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from allocators.frontends.base import Frontend, FrontendSummary
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace


class Recorder(Protocol):
    """Reads frontend/allocator state at stops.  ``every``: events between periodic
    calls of ``on_step`` (0 = never).  ``result()`` gives what it recorded (e.g. rows)."""

    every: int

    def on_step(self, frontend: Frontend, n_events: int, phase: str) -> None: ...

    def on_phase_end(self, frontend: Frontend, n_events: int, phase: str) -> None: ...

    def result(self) -> Any: ...


@dataclass
class RunResult:
    """What one replay produced: the frontend's summary and counters, the allocator's
    spec, the number of events, wall time (s) and each recorder's ``result()``."""

    frontend: str
    allocator: str
    summary: FrontendSummary
    counters: dict[str, int]
    n_events: int
    seconds: float
    recorded: dict[str, Any] = field(default_factory=dict)


def replay(frontend: Frontend, trace: Trace, recorders: Sequence[Recorder] = ()) -> RunResult:
    """Feed every event of ``trace`` to ``frontend``; return a ``RunResult``."""
    n = len(trace)
    stops = _stops(trace, recorders)
    store, free, compact = frontend.store, frontend.free, frontend.compact
    ops, pages, sizes, kinds = trace.ops.tolist(), trace.pages.tolist(), trace.sizes.tolist(), trace.kinds.tolist()
    t0 = time.perf_counter()
    start = 0
    for stop, phase, phase_end in stops:
        for op, page, size, kind in zip(ops[start:stop], pages[start:stop], sizes[start:stop], kinds[start:stop]):
            if op == OP_STORE:
                store(page, size, kind)
            elif op == OP_FREE:
                free(page)
            elif op == OP_COMPACT:
                compact()
        start = stop
        for rec in recorders:
            if phase_end:
                rec.on_phase_end(frontend, stop, phase)
            elif rec.every and stop % rec.every == 0:
                rec.on_step(frontend, stop, phase)
    seconds = time.perf_counter() - t0
    return RunResult(
        frontend=frontend.spec(),
        allocator=frontend.allocator.spec(),
        summary=frontend.summary(),
        counters=frontend.counters(),
        n_events=n,
        seconds=seconds,
        recorded={type(r).__name__: r.result() for r in recorders},
    )


def _stops(trace: Trace, recorders: Sequence[Recorder]) -> list[tuple[int, str, bool]]:
    """Sorted ``(event index, phase name, is phase end)`` where the loop pauses."""
    n = len(trace)
    phases = trace.phases
    bounds = [(start, name) for name, start in phases]
    ends = [(bounds[i + 1][0] if i + 1 < len(bounds) else n, name) for i, (_, name) in enumerate(bounds)]
    stops: dict[int, tuple[str, bool]] = {}
    everies = sorted({r.every for r in recorders if r.every})
    for i, (start, name) in enumerate(bounds):
        end = ends[i][0]
        for every in everies:
            first = (start // every + 1) * every
            for k in range(first, end, every):
                stops.setdefault(k, (name, False))
        stops[end] = (name, True)
    return [(k, name, is_end) for k, (name, is_end) in sorted(stops.items())]
