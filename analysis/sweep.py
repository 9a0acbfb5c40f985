"""Parameter sweeps: the cross product of parameter values over workloads and codecs.

A swept parameter is ``page_size=V1,V2,...`` or ``NAME.key=V1,V2,...`` where ``NAME`` is an
allocator or frontend of the sweep (``zsmalloc.chain_size=4,8,16``, ``zram.huge_threshold=
3072,3625``).  Each distinct run (page size, workload, codec, frontend spec, allocator
spec) is computed once: a parameter of ``zsmalloc`` multiplies the zsmalloc runs only.
Traces are loaded once per page size (compressed sizes come from the size cache) and
shared by every run.

``run_sweep(...)`` returns a ``SweepResult`` whose ``summary`` has one column per swept
parameter (the parameter's text, e.g. ``zsmalloc.chain_size``; empty where it does not
apply) followed by the summary.csv columns (a swept ``page_size`` is summary.csv's own
``page_size`` column).  Runs execute in a local process pool
(``executor="local"``, ``jobs`` processes) or on an existing Dask cluster
(``executor="dask"``, ``scheduler`` = its address; needs the ``dask`` extra).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Sequence

import pandas as pd

import allocators as A
from allocators.frontends import FRONTENDS
from allocators.spec import SpecError, parse_value, split_spec
from analysis.experiment import DEFAULT_FRONTENDS, load_workloads, pair_plan, run_experiment, split_list
from analysis.summary import SUMMARY_COLUMNS
from workloads.errors import InputError
from workloads.measure import SizeCache
from workloads.trace import Trace

EXECUTORS = ("local", "dask")


@dataclass(frozen=True)
class SweepParam:
    """One swept parameter: ``target`` (``page_size``, or an allocator/frontend name),
    ``key`` (the parameter; ``page_size`` for the global one) and its ``values`` (typed
    like the parameter's default)."""

    target: str
    key: str
    values: tuple[Any, ...]

    @property
    def column(self) -> str:
        return self.key if self.target == "page_size" else f"{self.target}.{self.key}"


def parse_param(text: str) -> SweepParam:
    """``page_size=4096,16384`` or ``NAME.key=v1,v2``; ``SpecError`` for an unknown name or
    parameter or an unparsable value."""
    lhs, eq, rhs = text.partition("=")
    values = [v.strip() for v in rhs.split(",") if v.strip()]
    if not eq or not values:
        raise SpecError(f"bad --param {text!r}: expected NAME.key=V1,V2,... or page_size=V1,V2,...")
    lhs = lhs.strip()
    if lhs == "page_size":
        return SweepParam("page_size", "page_size", tuple(_typed("page_size", v, 4096) for v in values))
    target, dot, key = lhs.partition(".")
    if not dot or not key:
        raise SpecError(f"bad --param {text!r}: expected NAME.key=V1,V2,... or page_size=V1,V2,...")
    registry = A.REGISTRY if target in A.REGISTRY else FRONTENDS if target in FRONTENDS else None
    if registry is None:
        known = ", ".join(sorted([*A.REGISTRY, *FRONTENDS]))
        raise SpecError(f"--param {text!r}: unknown allocator or frontend {target!r}; known: {known}")
    defaults = registry[target].Params()
    if key not in defaults.to_config() or key == "page_size":
        raise SpecError(f"--param {text!r}: {target} has no parameter {key!r}")
    return SweepParam(target, key, tuple(_typed(lhs, v, getattr(defaults, key)) for v in values))


def _typed(name: str, text: str, default: Any) -> Any:
    try:
        return parse_value(text, default)
    except ValueError as exc:
        raise SpecError(f"--param {name}: bad value {text!r} ({exc})") from None


@dataclass(frozen=True)
class SweepTask:
    """One run: its trace, frontend and allocator specs, kernel preset and the swept
    parameter values that apply to it (column -> value)."""

    key: tuple[str, str]
    trace: Trace
    frontend: str
    allocator: str
    kernel: str | None
    params: dict[str, Any] = field(default_factory=dict)


def run_task(task: SweepTask) -> list[dict[str, Any]]:
    """Summary rows of one task (module level so process pools and Dask can ship it)."""
    exp = run_experiment(traces={task.key: task.trace}, frontends=[task.frontend], allocators=[task.allocator],
                         kernel=task.kernel, timeline_every=0)
    return [{**task.params, **row} for row in exp.summary.to_dict("records")]


def _with(spec: str, overrides: dict[str, Any]) -> str:
    """``spec`` with ``key=value`` overrides appended (replacing the spec's own)."""
    name, kv = split_spec(spec)
    kv.update({k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in overrides.items()})
    return ":".join([name, *(f"{k}={v}" for k, v in kv.items())])


def plan(params: Sequence[SweepParam], alloc_specs: Sequence[str], front_specs: Sequence[str],
         page_sizes: Sequence[int]) -> list[tuple[int, str, str, dict[str, Any]]]:
    """Distinct ``(page_size, frontend spec, allocator spec, parameter columns)`` in a
    stable order: for each page size, frontend/allocator pair (``pair_plan``: an allocator
    entry ``FRONTEND/SPEC`` runs behind that frontend only), frontend point and allocator
    point of the cross product; a parameter multiplies only the runs it applies to."""
    pairs = pair_plan(front_specs, alloc_specs)
    names = {split_spec(f)[0] for f, _ in pairs} | {split_spec(a)[0] for _, specs in pairs for a in specs}
    for p in params:
        if p.target != "page_size" and p.target not in names:
            raise SpecError(f"--param {p.column}: {p.target} is not among this sweep's allocators or frontends")
    out, seen = [], set()
    for page_size in page_sizes:
        for fspec, specs in pairs:
            fname = split_spec(fspec)[0]
            for fpoint in _points(params, fname):
                for aspec in specs:
                    aname = split_spec(aspec)[0]
                    for apoint in _points(params, aname):
                        f, a = _with(fspec, fpoint), _with(aspec, apoint)
                        cols = {f"{fname}.{k}": v for k, v in fpoint.items()}
                        cols |= {f"{aname}.{k}": v for k, v in apoint.items()}
                        if (page_size, f, a) not in seen:
                            seen.add((page_size, f, a))
                            out.append((page_size, f, a, cols))
    return out


def _points(params: Sequence[SweepParam], name: str) -> list[dict[str, Any]]:
    mine = [p for p in params if p.target == name]
    return [dict(zip([p.key for p in mine], combo)) for combo in itertools.product(*(p.values for p in mine))]


@dataclass
class SweepResult:
    """``summary``: parameter columns then ``SUMMARY_COLUMNS``; ``params``: the swept
    parameters; ``config``: what reproduces the sweep."""

    summary: pd.DataFrame
    params: list[SweepParam]
    config: dict[str, Any]


def run_sweep(
    params: Sequence[str | SweepParam],
    dumps: Sequence[str] = (),
    workloads: Sequence[str] = (),
    policy: str | None = None,
    trace: str | None = None,
    codecs: Sequence[str] | str = ("lzo",),
    frontends: Sequence[str] | str = DEFAULT_FRONTENDS,
    allocators: Sequence[str] | str | None = None,
    page_size: int = 4096,
    kernel: str | None = None,
    jobs: int | None = 1,
    executor: str = "local",
    scheduler: str | None = None,
    cache: SizeCache | None = None,
    progress: bool | None = False,
) -> SweepResult:
    """Run the cross product of ``params`` (texts for ``parse_param`` or ``SweepParam``)
    over the workloads and codecs; see the module docstring."""
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    if executor == "dask" and not scheduler:
        raise InputError("--executor dask needs --scheduler ADDRESS (a running dask.distributed scheduler)")
    sparams = [p if isinstance(p, SweepParam) else parse_param(p) for p in params]
    if not sparams:
        raise InputError("a sweep needs at least one --param")
    columns = [p.column for p in sparams]
    if len(set(columns)) != len(columns):
        raise InputError(f"a parameter is swept twice: {', '.join(columns)}")
    alloc_specs = split_list(allocators) or sorted(A.REGISTRY)
    front_specs = split_list(frontends) or list(DEFAULT_FRONTENDS)
    codec_list = split_list(codecs) or ["lzo"]
    page_sizes = next((p.values for p in sparams if p.target == "page_size"), (page_size,))
    runs = plan(sparams, alloc_specs, front_specs, page_sizes)
    traces = {ps: load_workloads(dumps, trace, codec_list, ps, None, cache, progress, workloads, policy)
              for ps in page_sizes}
    tasks = [SweepTask(key, tr, f, a, kernel, cols)
             for ps, f, a, cols in runs for key, tr in traces[ps].items()]
    rows = [row for result in _execute(tasks, executor, jobs, scheduler) for row in result]
    summary = pd.DataFrame(rows, columns=[c for c in columns if c not in SUMMARY_COLUMNS] + SUMMARY_COLUMNS)
    config = {"params": [{"column": p.column, "values": list(p.values)} for p in sparams],
              "dumps": [str(d) for d in dumps], "workloads": list(workloads), "policy": policy,
              "trace": trace, "codecs": codec_list, "frontends": front_specs, "allocators": alloc_specs,
              "page_size": page_size, "kernel_preset": kernel, "executor": executor, "n_runs": len(tasks)}
    return SweepResult(summary, sparams, config)


def _execute(tasks: list[SweepTask], executor: str, jobs: int | None, scheduler: str | None) -> list[list[dict]]:
    """Results of ``run_task`` for every task, in task order."""
    if executor == "dask":
        try:
            from distributed import Client
        except ImportError:
            raise InputError("--executor dask needs dask.distributed: pip install 'zdensity[dask]'") from None
        try:
            client = Client(scheduler, timeout=30, set_as_default=False)
        except (OSError, TimeoutError) as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            return client.gather(client.map(run_task, tasks, pure=False))
    if jobs == 1 or len(tasks) <= 1:
        return [run_task(t) for t in tasks]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(run_task, tasks))


def density_vs_param_data(summary: pd.DataFrame, column: str, other_columns: Sequence[str] = ()) -> pd.DataFrame:
    """Rows where ``column`` applies, with ``line`` = allocator name, workload, codec,
    frontend and the other swept parameters' values (one line per combination) and
    ``value`` = the parameter's value; sorted by line then value."""
    d = summary[summary[column].notna()].copy()
    d["value"] = d[column]
    others = [c for c in other_columns if c != column]

    def line(row: pd.Series) -> str:
        parts = [str(row["allocator"]).split(":")[0], row["workload"], row["codec"], row["frontend"]]
        parts += [f"{c}={_plain(row[c])}" for c in others if pd.notna(row[c])]
        return " / ".join(map(str, parts))

    d["line"] = d.apply(line, axis=1) if len(d) else pd.Series(dtype=str)
    return d.sort_values(["line", "value"], kind="stable").reset_index(drop=True)


def _plain(value: Any) -> Any:
    """4.0 -> 4 (integer parameters come back as floats from columns with gaps)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def plot_density_vs_params(result: SweepResult):
    """One panel per swept parameter: density (stored objects / pool pages) against the
    parameter's values, one line (own marker and line style) per allocator, workload, codec,
    frontend and value of the other parameters."""
    from analysis.plots import Styles, plt

    cols = [p.column for p in result.params]
    fig, axes = plt.subplots(1, len(cols), figsize=(6.5 * len(cols), 4.5), squeeze=False)
    for ax, col in zip(axes[0], cols):
        d = density_vs_param_data(result.summary, col, cols)
        style = Styles(d["line"])
        for line, g in d.groupby("line", sort=False):
            st = style(line)
            ax.plot(g["value"].astype(str) if g["value"].dtype == object else g["value"], g["density"],
                    label=line, color=st["color"], marker=st["marker"], linestyle=st["linestyle"])
        ax.set_xlabel(col + (" (bytes)" if col == "page_size" or col.endswith("_bytes") else ""))
        ax.set_ylabel("density (stored objects per pool page)")
        ax.set_title(f"Density against {col}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small")
    fig.tight_layout()
    return fig
