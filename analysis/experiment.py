"""Experiments: the cross product workloads x codecs x frontends x allocators, run through
the one run loop, and their results as tidy tables written atomically.

This is the Python API the CLI calls (``zdensity run``) and notebooks use:

    exp = run_experiment(dumps=["workloads/data/sample.zst"], codecs=["lzo"],
                         frontends=["zram"], allocators=["zsmalloc", "ideal"])
    exp.summary            # pandas DataFrame, SUMMARY_COLUMNS
    write_results(exp, "results/my-run")
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import hashlib
import json
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

import allocators as A
from allocators.frontends import FRONTENDS
from allocators.spec import SpecError, build_params, lookup, split_spec
from analysis.recorders import build_tables, standard_recorders
from analysis.run import Recorder, RunResult, replay
from analysis.summary import SUMMARY_COLUMNS, summary_row
from workloads.atomic import atomic_open
from workloads.codecs import create_codec
from workloads.errors import InputError
from workloads.measure import SizeCache
from workloads.resolve import DEFAULT_CODECS, load_workloads  # load_workloads: public API, re-exported
from workloads.trace import Trace

DEFAULT_FRONTENDS = ("zram",)


@dataclass
class RunSpec:
    """One cell of the cross product, resolved: its labels and the built objects' specs."""

    workload: str
    codec: str
    frontend: str
    allocator: str


@dataclass
class Experiment:
    """Results of ``run_experiment``: ``summary`` (DataFrame with ``SUMMARY_COLUMNS``),
    ``runs`` (one ``(RunSpec, RunResult)`` per row), ``traces`` (workload/codec -> Trace),
    ``config`` (everything needed to reproduce the run)."""

    summary: pd.DataFrame
    runs: list[tuple[RunSpec, RunResult]]
    traces: dict[tuple[str, str], Trace]
    config: dict[str, Any]
    extra_tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def split_list(text: str | Sequence[str] | None) -> list[str]:
    """``"a,b"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]`` (empty items dropped)."""
    if text is None:
        return []
    items = [text] if isinstance(text, str) else list(text)
    return [part.strip() for item in items for part in item.split(",") if part.strip()]


def pair_plan(frontends: Sequence[str], alloc_specs: Sequence[str]) -> list[tuple[str, list[str]]]:
    """Which allocators run behind which frontend.

    An allocator entry ``FRONTEND/SPEC`` runs only behind that frontend (added to the
    frontends if not listed); a plain ``SPEC`` runs behind every listed frontend.  So
    ``--frontend zram --allocators zram-legacy/xvmalloc,zsmalloc`` runs zsmalloc behind
    zram and xvmalloc behind zram-legacy only.  Frontends without allocators are dropped."""
    order = list(frontends)
    pairs: list[tuple[str | None, str]] = []
    for entry in alloc_specs:
        front, sep, spec = entry.rpartition("/")
        if sep and not front:
            raise SpecError(f"bad allocator entry {entry!r}: expected FRONTEND/ALLOCATOR")
        pairs.append((front or None, spec))
        if front and front not in order:
            order.append(front)
    plan = [(f, [spec for front, spec in pairs if front in (None, f)]) for f in order]
    return [(f, specs) for f, specs in plan if specs]


def allocator_factory(spec: str, page_size: int, kernel: str | None = None) -> Callable[[], A.Allocator]:
    """Validate ``spec`` now and return a function that builds a fresh allocator.

    Parameters apply in this order: defaults, ``page_size``, the kernel preset (if
    ``kernel``), then the spec's explicit ``key=value`` overrides."""
    name, overrides = split_spec(spec)
    cls = lookup(A.REGISTRY, name, "allocator")
    base = build_params(cls.Params, name, {"page_size": str(page_size)})
    base = _apply_preset(kernel, name, base)
    params = build_params(cls.Params, name, overrides, base)
    return lambda: cls(params)


def frontend_factory(spec: str, kernel: str | None = None) -> Callable[[A.Allocator], Any]:
    """Validate ``spec`` now; return a function that wraps an allocator in a fresh frontend.

    With a kernel preset, a frontend whose huge threshold comes from zsmalloc
    (``huge_threshold`` 0) in front of an allocator that is not zsmalloc takes it from
    that release's zsmalloc (zram reads it once from the pool it creates)."""
    name, overrides = split_spec(spec)
    cls = lookup(FRONTENDS, name, "frontend")
    base = _apply_preset(kernel, name, cls.Params())
    params = build_params(cls.Params, name, overrides, base)

    thresholds: dict[int, int] = {}  # page size -> that release's zsmalloc huge_class_size

    def make(alloc: A.Allocator) -> Any:
        front = cls(alloc, params)
        if kernel and getattr(params, "huge_threshold", None) == 0 and not hasattr(alloc, "huge_class_size"):
            ps = alloc.page_size
            if ps not in thresholds:
                thresholds[ps] = allocator_factory("zsmalloc", ps, kernel)().huge_class_size
            front.huge_threshold = thresholds[ps]
        return front

    return make


def _apply_preset(kernel: str | None, name: str, base: Any) -> Any:
    """``base`` with the values the kernel-preset table sets for ``name`` at ``kernel``."""
    if not kernel:
        return base
    from allocators import presets

    values = presets.preset_values(kernel, name, getattr(base, "page_size", 4096))
    return dataclasses.replace(base, **values) if values else base


def run_experiment(
    dumps: Sequence[str | Path] = (),
    trace: str | Path | None = None,
    codecs: Sequence[str] | str = DEFAULT_CODECS,
    frontends: Sequence[str] | str = DEFAULT_FRONTENDS,
    allocators: Sequence[str] | str | None = None,
    page_size: int = 4096,
    jobs: int | None = None,
    cache: SizeCache | None = None,
    kernel: str | None = None,
    traces: dict[tuple[str, str], Trace] | None = None,
    recorders: Callable[[], Sequence[Recorder]] | None = None,
    progress: bool | None = None,
    timeline_every: int | None = None,
    workloads: Sequence[str] = (),
    policy: str | None = None,
) -> Experiment:
    """Run every (workload, codec, frontend, allocator) combination.

    ``allocators``: specs (``NAME[:key=value...]``), default every registered allocator.
    ``traces``: ready traces (skips ``dumps``/``trace``/``codecs``/``workloads``).
    ``workloads``: generator specs (``workloads.synthetic``); ``policy``: one policy spec
    applied to dumps and generators (``workloads.policies``, default ``fill``).  ``recorders``: a
    factory of fresh extra recorders for each run.  All specs are validated before any
    work.  Every run also gets the standard recorders (``analysis.recorders``), whose rows
    become ``extra_tables`` (``analysis.recorders.build_tables``): ``timeline`` every
    ``timeline_every`` events (None = about 200 rows per run, 0 = no timeline),
    ``phases``, ``classes``, ``waste`` and ``sizes``.
    """
    codecs = split_list(codecs) or list(DEFAULT_CODECS)
    frontends = split_list(frontends) or list(DEFAULT_FRONTENDS)
    alloc_specs = split_list(allocators) or sorted(A.REGISTRY)
    plan = pair_plan(frontends, alloc_specs)
    make_fronts = [(fspec, frontend_factory(fspec, kernel), specs) for fspec, specs in plan]
    if traces is None:
        for c in codecs:
            create_codec(c)  # validate before measuring
        traces = load_workloads(dumps, trace, codecs, page_size, jobs, cache, progress, workloads, policy)
    if timeline_every is not None and timeline_every < 0:
        raise InputError(f"timeline interval must be >= 0 events, got {timeline_every}")
    rows, runs, standard, info = [], [], [], []
    for (workload, codec), tr in traces.items():
        for fspec, make_front, specs in make_fronts:
            for make_alloc in [allocator_factory(spec, tr.page_size, kernel) for spec in specs]:
                front = make_front(make_alloc())
                std = standard_recorders(len(tr), timeline_every)
                extra = list(recorders()) if recorders else []
                result = replay(front, tr, std + extra)
                spec = RunSpec(workload, codec, result.frontend, result.allocator)
                runs.append((spec, result))
                standard.append((spec, std))
                info.append(run_info(front))
                rows.append(summary_row(workload, codec, result.frontend, result.allocator, tr.page_size, result.summary))
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    config = experiment_config(traces, frontends, alloc_specs, codecs, page_size, kernel, runs, info)
    config["timeline_every"] = timeline_every
    return Experiment(summary, runs, traces, config, build_tables(standard, traces))


def run_info(front: Any) -> dict[str, Any]:
    """What plots and reports need to know about a run's frontend and allocator: the
    kernel code each models, the frontend's huge threshold (bytes, None if it has none)
    and the allocator's largest accepted size (bytes)."""
    alloc = front.allocator
    threshold = getattr(front, "huge_threshold", None)
    return {
        "frontend_models": type(front).models,
        "allocator_models": type(alloc).models,
        "huge_threshold": None if threshold is None else int(threshold),
        "max_alloc_bytes": int(alloc.max_alloc_bytes),
    }


def experiment_config(traces, frontends, alloc_specs, codecs, page_size, kernel, runs, info=None) -> dict[str, Any]:
    """Every parameter, library versions and input hashes, so the run can be repeated."""
    import importlib.metadata as md

    def version(pkg: str) -> str:
        try:
            return md.version(pkg)
        except md.PackageNotFoundError:
            return "not installed"

    return {
        "zdensity_version": version("zdensity"),
        "python": sys.version.split()[0],
        "platform": platform.platform(terse=True),
        "libraries": {p: version(p) for p in ("numpy", "pandas", "minilzo", "lz4", "zstandard")},
        "page_size": page_size,
        "kernel_preset": kernel,
        "codecs": list(codecs),
        "frontends_requested": list(frontends),
        "allocators_requested": list(alloc_specs),
        "workloads": [
            {k: v for k, v in t.meta.items() if k not in ("phases",)} | {"workload": w, "codec_label": c, "n_events": len(t)}
            for (w, c), t in traces.items()
        ],
        "runs": [
            {"workload": s.workload, "codec": s.codec, "frontend": s.frontend, "allocator": s.allocator,
             "counters": r.counters, "n_events": r.n_events, "seconds": round(r.seconds, 4), **extra}
            for (s, r), extra in zip(runs, info or [{}] * len(runs))
        ],
    }


def run_id(config: dict[str, Any], now: _dt.datetime | None = None) -> str:
    """Readable run id: ``YYYYmmdd-HHMMSS-<8 hex of the config hash>``."""
    now = now or _dt.datetime.now()
    ident = json.dumps({k: config.get(k) for k in ("codecs", "frontends_requested", "allocators_requested", "page_size", "kernel_preset", "workloads")}, sort_keys=True, default=str)
    return f"{now:%Y%m%d-%H%M%S}-{hashlib.sha256(ident.encode()).hexdigest()[:8]}"


def write_results(exp: Experiment, out_dir: str | Path) -> Path:
    """Write ``summary.csv``, ``config.json`` and any extra tables into ``out_dir``, each
    file atomically (temporary name, then rename)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name, df in [("summary", exp.summary), *exp.extra_tables.items()]:
        with atomic_open(out / f"{name}.csv", "w", newline="") as fh:
            df.to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out / "config.json", "w") as fh:
        json.dump(exp.config, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")
    return out


def load_run(run_dir: str | Path) -> dict[str, Any]:
    """Read a results directory: every ``*.csv`` as a DataFrame keyed by its stem, plus
    ``config`` (the parsed config.json)."""
    run_dir = Path(run_dir)
    if not (run_dir / "summary.csv").exists():
        raise InputError(f"{run_dir}: no summary.csv (not a zdensity results directory)")
    out: dict[str, Any] = {p.stem: pd.read_csv(p) for p in sorted(run_dir.glob("*.csv"))}
    cfg = run_dir / "config.json"
    out["config"] = json.loads(cfg.read_text()) if cfg.exists() else {}
    return out
