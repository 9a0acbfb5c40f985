"""Recorders: the only code that reads frontend/allocator state during a run.

Each recorder follows ``analysis.run.Recorder``: ``every`` (events between periodic
``on_step`` calls, 0 = none), ``on_step``, ``on_phase_end`` and ``result()`` (a list of
plain dict rows without the run's keys; ``analysis.experiment`` prefixes workload, codec,
frontend and allocator and builds the tables).

- ``TimelineRecorder``: every N events and at each phase end, the pool's state
  (``timeline.csv``).
- ``PhaseRecorder``: at each phase end (after fill, churn, compaction), the pool's state
  and its waste breakdown (``phases.csv``).
- ``ClassRecorder``: at each phase end, the allocator's per-class table (``classes.csv``;
  no rows for allocators without classes).

``snapshot(frontend)`` is the one definition of a state row; its fields:
``live_pages`` (occupied frontend slots, incl. zero/same-filled), ``stored_objects`` (live
objects in the allocator), ``compressed_bytes`` (the frontend's accounted bytes),
``pool_pages``, ``pool_bytes = pool_pages * page_size``, ``density = stored_objects /
pool_pages`` (NaN for an empty pool).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from allocators.base import WASTE_KINDS
from allocators.frontends.base import Frontend
from workloads.trace import KIND_TEXT, OP_STORE, Trace

TIMELINE_POINTS = 200
"""Default number of timeline rows per run when ``--timeline-every`` is not given."""


def auto_every(n_events: int, points: int = TIMELINE_POINTS) -> int:
    """Events between timeline rows so a run yields about ``points`` rows:
    ``max(1, ceil(n_events / points))``."""
    return max(1, -(-n_events // points))


def snapshot(frontend: Frontend) -> dict[str, Any]:
    """The pool's state now (formulas in the module docstring)."""
    s = frontend.summary()
    pool_bytes = s.pool_pages * frontend.page_size
    return {
        "live_pages": s.live_pages,
        "stored_objects": s.stored_objects,
        "compressed_bytes": s.compressed_bytes,
        "pool_pages": s.pool_pages,
        "pool_bytes": pool_bytes,
        "density": s.stored_objects / s.pool_pages if s.pool_pages else math.nan,
    }


def frontend_waste(frontend: Frontend) -> dict[str, int]:
    """The waste breakdown of the frontend's whole store: the allocator's
    ``waste_breakdown()`` plus, as ``payload_bytes``, the pages the frontend holds outside
    the allocator's pool (3.x zram's raw pages of incompressible data: ``(frontend
    pool_pages - allocator pool_pages) * page_size``), so the parts add up to the
    frontend's ``pool_pages * page_size``."""
    waste = dict(frontend.allocator.waste_breakdown())
    outside = frontend.pool_pages() - frontend.allocator.pool_pages()
    waste["payload_bytes"] += outside * frontend.page_size
    return waste


class TimelineRecorder:
    """Rows ``phase, n_events, <snapshot>`` every ``every`` events and at each phase end
    (so the last row is the end of the run)."""

    def __init__(self, every: int) -> None:
        if every < 1:
            raise ValueError(f"timeline interval must be >= 1 event, got {every}")
        self.every = every
        self.rows: list[dict[str, Any]] = []

    def on_step(self, frontend: Frontend, n_events: int, phase: str) -> None:
        self.rows.append({"phase": phase, "n_events": n_events, **snapshot(frontend)})

    on_phase_end = on_step

    def result(self) -> list[dict[str, Any]]:
        return self.rows


class PhaseRecorder:
    """At each phase end: ``phase, n_events, <snapshot>, <waste breakdown>,
    pages_compacted`` (the frontend's running total of pages freed by compaction)."""

    every = 0

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_step(self, frontend: Frontend, n_events: int, phase: str) -> None:
        """Never called (``every`` is 0)."""

    def on_phase_end(self, frontend: Frontend, n_events: int, phase: str) -> None:
        waste = frontend_waste(frontend)
        self.rows.append({
            "phase": phase,
            "n_events": n_events,
            **snapshot(frontend),
            **{k: waste[k] for k in WASTE_KINDS},
            "pages_compacted": frontend.pages_compacted,
        })

    def result(self) -> list[dict[str, Any]]:
        return self.rows


class ClassRecorder:
    """At each phase end, one row per class: ``phase`` then ``ClassStats.to_row()``
    (``class, size, obj_allocated, obj_used, pages_used, pages_per_unit, objs_per_unit``
    and the allocator's debugfs extras)."""

    every = 0

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def on_step(self, frontend: Frontend, n_events: int, phase: str) -> None:
        """Never called (``every`` is 0)."""

    def on_phase_end(self, frontend: Frontend, n_events: int, phase: str) -> None:
        for c in frontend.allocator.class_stats():
            self.rows.append({"phase": phase, **c.to_row()})

    def result(self) -> list[dict[str, Any]]:
        return self.rows


def standard_recorders(n_events: int, timeline_every: int | None) -> list[Any]:
    """The recorders every ``run_experiment`` run gets: phases, classes and (unless
    ``timeline_every == 0``) a timeline every ``timeline_every`` events (None = about
    ``TIMELINE_POINTS`` rows)."""
    recs: list[Any] = [PhaseRecorder(), ClassRecorder()]
    if timeline_every != 0:
        recs.append(TimelineRecorder(timeline_every or auto_every(n_events)))
    return recs


KEYS = ["workload", "codec", "frontend", "allocator"]
"""The key columns of every per-run table."""

TABLE_RECORDERS = {"timeline": TimelineRecorder, "phases": PhaseRecorder, "classes": ClassRecorder}


def build_tables(runs: Sequence[tuple[Any, Sequence[Any]]], traces: Mapping[tuple[str, str], Trace]) -> dict[str, pd.DataFrame]:
    """Tidy tables from the standard recorders of each run (``(RunSpec, recorders)``) and
    the traces: ``timeline``, ``phases``, ``classes`` (each keyed by ``KEYS``), ``waste``
    (the last phase row of each run: ``pool_bytes`` and the ``WASTE_KINDS``, which add up
    to ``pool_bytes``) and ``sizes`` (``size_histogram`` of each trace, keyed by workload
    and codec)."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLE_RECORDERS}
    for spec, recs in runs:
        keys = {k: getattr(spec, k) for k in KEYS}
        for rec in recs:
            for name, cls in TABLE_RECORDERS.items():
                if type(rec) is cls:
                    rows[name].extend({**keys, **r} for r in rec.result())
    tables = {name: pd.DataFrame(r) for name, r in rows.items()}
    if tables["classes"].empty:
        tables["classes"] = pd.DataFrame(columns=KEYS + ["phase", "class", "size", "obj_allocated", "obj_used",
                                                          "pages_used", "pages_per_unit", "objs_per_unit"])
    phases = tables["phases"]
    waste_cols = KEYS + ["phase", "stored_objects", "pool_pages", "pool_bytes", *WASTE_KINDS]
    tables["waste"] = (phases.groupby(KEYS, sort=False).tail(1)[waste_cols].reset_index(drop=True)
                       if not phases.empty else pd.DataFrame(columns=waste_cols))
    tables["sizes"] = pd.concat([size_histogram(tr, w, c) for (w, c), tr in traces.items()], ignore_index=True) \
        if traces else pd.DataFrame(columns=SIZE_COLUMNS)
    return tables


SIZE_COLUMNS = ["workload", "codec", "kind", "size_bytes", "n_stores"]


def size_histogram(trace: Trace, workload: str, codec: str) -> pd.DataFrame:
    """Exact histogram of the store events' compressed sizes: one row per (kind, size)
    with ``n_stores`` events (``kind`` data, zero or same; frees and compactions are not
    counted)."""
    store = trace.ops == OP_STORE
    df = pd.DataFrame({"kind": trace.kinds[store], "size_bytes": trace.sizes[store]})
    counts = df.value_counts(["kind", "size_bytes"]).rename("n_stores").reset_index()
    counts = counts.sort_values(["kind", "size_bytes"], kind="stable").reset_index(drop=True)
    counts["kind"] = counts["kind"].map(KIND_TEXT)
    counts.insert(0, "codec", codec)
    counts.insert(0, "workload", workload)
    return counts[SIZE_COLUMNS]
