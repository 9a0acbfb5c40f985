"""Plots: result tables in, matplotlib figures out (Agg backend, no display needed).

Each plot has a ``*_data`` function that prepares a tidy DataFrame from the tables (kept
separate so it can be tested and reused) and a drawing function that returns a
``matplotlib.figure.Figure``.  ``write_plots(run, out_dir, fmt)`` draws every plot a loaded
run has data for and writes them atomically.  Styles are readable in grayscale: every
allocator has its own hatch and marker as well as its colour.

- ``density``: density per allocator, bars grouped by (workload, codec, frontend), the
  ideal packer as a line over each group.
- ``timeline``: pool pages against events, one line per allocator, phases shaded and named.
- ``waste``: where the pool's bytes go, stacked bars of the waste breakdown (MiB).
- ``sizes``: the compressed-size histogram and CDF of each workload, with the frontend's
  huge threshold, allocators' size limits and zsmalloc's class boundaries marked.
- ``classes``: zsmalloc per-class occupancy (every zsmalloc spec of the run): objects
  allocated/used and pages used per class.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from allocators.base import WASTE_KINDS  # noqa: E402
from analysis import metrics as M  # noqa: E402
from analysis.recorders import KEYS  # noqa: E402
from workloads.atomic import atomic_open  # noqa: E402
from workloads.errors import InputError  # noqa: E402

FORMATS = ("png", "svg")
PLOTS = ("density", "timeline", "waste", "sizes", "classes")
HATCHES = ["", "//", "\\\\", "xx", "..", "++", "oo", "--", "**", "||", "O."]
MARKERS = ["o", "s", "^", "v", "D", "x", "+", "*", "P", "<", ">"]
LINESTYLES = ["-", "--", "-.", ":"]
WASTE_LABELS = {"payload_bytes": "payload", "header_bytes": "headers/handles",
                "internal_frag_bytes": "internal fragmentation (slot rounding)",
                "external_frag_bytes": "external fragmentation (free slots/blocks)",
                "metadata_bytes": "metadata"}
CLASS_ALLOCATOR = "zsmalloc"
MIB = float(1 << 20)


class Styles:
    """Colour, hatch, marker and line style per allocator, stable across a run's plots
    (assigned in order of first appearance)."""

    def __init__(self, names) -> None:
        cmap = plt.get_cmap("tab10")
        self.index = {n: i for i, n in enumerate(dict.fromkeys(names))}
        self._cmap = cmap

    def __call__(self, name: str) -> dict[str, Any]:
        i = self.index.setdefault(name, len(self.index))
        return {"color": self._cmap(i % 10), "hatch": HATCHES[i % len(HATCHES)],
                "marker": MARKERS[i % len(MARKERS)], "linestyle": LINESTYLES[i % len(LINESTYLES)]}


def _group_label(workload: str, codec: str, frontend: str | None = None) -> str:
    return f"{workload} / {codec}" + (f" / {frontend}" if frontend else "")


# ------------------------------------------------------------------ density
def density_data(summary: pd.DataFrame, ideal: str = "ideal") -> pd.DataFrame:
    """Rows ``group, allocator, density, is_ideal`` with ``group = "workload / codec /
    frontend"`` and ``density = stored_objects / pool_pages``."""
    out = pd.DataFrame({
        "group": [_group_label(w, c, f) for w, c, f in zip(summary["workload"], summary["codec"], summary["frontend"])],
        "allocator": summary["allocator"],
        "density": M.density(summary),
    })
    out["is_ideal"] = out["allocator"] == ideal
    return out


def plot_density(summary: pd.DataFrame, ideal: str = "ideal") -> Figure:
    data = density_data(summary, ideal)
    groups = list(dict.fromkeys(data["group"]))
    allocs = list(dict.fromkeys(data.loc[~data["is_ideal"], "allocator"]))
    style = Styles(allocs)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.2 + len(groups) * (0.5 + 0.35 * len(allocs))) + 2.5, 4.5))
    width = 0.8 / max(1, len(allocs))
    for j, alloc in enumerate(allocs):
        d = data[data["allocator"] == alloc].set_index("group").reindex(groups)
        st = style(alloc)
        ax.bar(np.arange(len(groups)) + (j - (len(allocs) - 1) / 2) * width, d["density"], width,
               label=alloc, color=st["color"], hatch=st["hatch"], edgecolor="black", linewidth=0.6)
    ideal_rows = data[data["is_ideal"]].set_index("group").reindex(groups)
    drawn = [(i, v) for i, v in enumerate(ideal_rows["density"]) if pd.notna(v)]
    for k, (i, value) in enumerate(drawn):
        ax.hlines(value, i - 0.45, i + 0.45, colors="black", linestyles="--", linewidth=1.5,
                  label=f"{ideal} (packing bound)" if k == 0 else None)
    ax.set_xticks(np.arange(len(groups)), groups, rotation=15 if len(groups) > 2 else 0, ha="right" if len(groups) > 2 else "center")
    ax.set_xlabel("workload / codec / frontend")
    ax.set_ylabel("density (stored objects per pool page)")
    ax.set_title("Storage density per allocator")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ timeline
def timeline_data(timeline: pd.DataFrame, phases: pd.DataFrame | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(``timeline`` rows with ``group``, phase spans ``group, phase, start_event,
    end_event``).  Spans come from ``phases`` (each phase ends at its ``n_events`` and
    starts at the previous phase's end), taken from the first run of each group."""
    tl = timeline.copy()
    tl["group"] = [_group_label(w, c, f) for w, c, f in zip(tl["workload"], tl["codec"], tl["frontend"])]
    spans = []
    if phases is not None and not phases.empty:
        for (w, c, f), g in phases.groupby(M.GROUP, sort=False):
            first = g[g["allocator"] == g["allocator"].iloc[0]]
            start = 0
            for phase, end in zip(first["phase"], first["n_events"]):
                spans.append({"group": _group_label(w, c, f), "phase": phase, "start_event": start, "end_event": end})
                start = end
    return tl, pd.DataFrame(spans, columns=["group", "phase", "start_event", "end_event"])


def plot_timeline(timeline: pd.DataFrame, phases: pd.DataFrame | None = None) -> Figure:
    tl, spans = timeline_data(timeline, phases)
    groups = list(dict.fromkeys(tl["group"]))
    style = Styles(tl["allocator"])
    fig, axes = plt.subplots(len(groups), 1, figsize=(10, 3.2 * len(groups)), squeeze=False)
    for ax, group in zip(axes[:, 0], groups):
        g = tl[tl["group"] == group]
        for k, (_, s) in enumerate(spans[spans["group"] == group].iterrows()):
            if len(spans[spans["group"] == group]) > 1:
                ax.axvspan(s["start_event"], s["end_event"], color="0.85" if k % 2 else "0.95", zorder=0)
            ax.axvline(s["end_event"], color="0.4", linewidth=0.8, linestyle=":")
            ax.text((s["start_event"] + s["end_event"]) / 2, 1.0, s["phase"], transform=ax.get_xaxis_transform(),
                    ha="center", va="bottom", fontsize="small")
        for alloc, a in g.groupby("allocator", sort=False):
            st = style(alloc)
            ax.plot(a["n_events"], a["pool_pages"], label=alloc, color=st["color"], linestyle=st["linestyle"],
                    marker=st["marker"], markevery=max(1, len(a) // 10), markersize=4)
        ax.set_xlabel("events replayed")
        ax.set_ylabel("pool pages")
        ax.set_title(f"Pool size over time: {group}", pad=14)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ waste
def waste_data(waste: pd.DataFrame) -> pd.DataFrame:
    """Rows ``group, allocator, kind, mib`` (``group = "workload / codec / frontend"``,
    ``mib = bytes / 2**20``), kinds in ``WASTE_KINDS`` order."""
    rows = [{"group": _group_label(r.workload, r.codec, r.frontend), "allocator": r.allocator, "kind": kind,
             "mib": getattr(r, kind) / MIB}
            for r in waste.itertuples(index=False) for kind in WASTE_KINDS]
    return pd.DataFrame(rows, columns=["group", "allocator", "kind", "mib"])


def plot_waste(waste: pd.DataFrame) -> Figure:
    data = waste_data(waste)
    groups = list(dict.fromkeys(data["group"]))
    ncols = min(2, len(groups))
    nrows = -(-len(groups) // ncols)
    n_allocs = data.groupby("group")["allocator"].nunique().max()
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * max(5.5, 1.5 + 0.8 * n_allocs), 4.2 * nrows),
                             squeeze=False)
    grays = ["0.25", "0.55", "0.75", "0.95", "0.6"]
    for ax, group in zip(axes.flat, groups):
        d = data[data["group"] == group]
        labels = list(dict.fromkeys(d["allocator"]))
        bottom = np.zeros(len(labels))
        for k, kind in enumerate(WASTE_KINDS):
            values = d[d["kind"] == kind].set_index("allocator").reindex(labels)["mib"].to_numpy()
            ax.bar(np.arange(len(labels)), values, 0.7, bottom=bottom, label=WASTE_LABELS[kind], color=grays[k],
                   hatch=HATCHES[k], edgecolor="black", linewidth=0.6)
            bottom += values
        ax.set_xticks(np.arange(len(labels)), labels, rotation=25, ha="right", fontsize="small")
        ax.set_xlabel("allocator")
        ax.set_ylabel("pool size (MiB)")
        ax.set_title(f"Where the pool's bytes go: {group}")
        ax.grid(axis="y", alpha=0.3)
    for ax in list(axes.flat)[len(groups):]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize="small")
    fig.tight_layout(rect=(0, 0.1 / nrows, 1, 1))
    return fig


# ------------------------------------------------------------------ sizes
def size_marks(config: dict[str, Any], classes: pd.DataFrame | None) -> pd.DataFrame:
    """Vertical marks for the size plot: ``size_bytes, label, kind`` with the frontends'
    huge thresholds (``kind = threshold``), allocators' largest accepted sizes below the
    page size (``limit``) and the class sizes of ``zsmalloc`` (``class``; slot sizes,
    handle included)."""
    rows = []
    for r in config.get("runs", []):
        page_size = config.get("page_size", 4096)
        if r.get("huge_threshold"):
            rows.append({"size_bytes": r["huge_threshold"],
                         "label": f"{r['frontend']} huge threshold ({r['huge_threshold']} B)", "kind": "threshold"})
        if r.get("max_alloc_bytes") and r["max_alloc_bytes"] < page_size:
            rows.append({"size_bytes": r["max_alloc_bytes"],
                         "label": f"{r['allocator']} max size ({r['max_alloc_bytes']} B)", "kind": "limit"})
    if classes is not None and not classes.empty:
        zs = classes[classes["allocator"] == CLASS_ALLOCATOR]  # the default-parameter classes
        for size in sorted(set(zs["size"])):
            rows.append({"size_bytes": int(size), "label": f"{CLASS_ALLOCATOR} class sizes", "kind": "class"})
    return pd.DataFrame(rows, columns=["size_bytes", "label", "kind"]).drop_duplicates()


def plot_sizes(sizes: pd.DataFrame, marks: pd.DataFrame | None = None, bin_bytes: int = 64) -> Figure:
    cdf = M.size_cdf(sizes)
    data = sizes[sizes["kind"] == "data"]
    pairs = list(dict.fromkeys(zip(data["workload"], data["codec"])))
    fig, axes = plt.subplots(len(pairs), 2, figsize=(11, 3.6 * max(1, len(pairs))), squeeze=False)
    marks = marks if marks is not None else pd.DataFrame(columns=["size_bytes", "label", "kind"])
    for (hist_ax, cdf_ax), (w, c) in zip(axes, pairs):
        d = cdf[(cdf["workload"] == w) & (cdf["codec"] == c)]
        top = int(d["size_bytes"].max()) + bin_bytes
        bins = np.arange(0, top + bin_bytes, bin_bytes)
        hist_ax.hist(d["size_bytes"], bins=bins, weights=d["n_stores"], color="0.6", edgecolor="black",
                     linewidth=0.4, hatch="//", label="compressed pages")
        cdf_ax.step(d["size_bytes"], d["cdf"], where="post", color="black", label="CDF")
        for ax in (hist_ax, cdf_ax):
            _draw_marks(ax, marks)
            ax.set_xlabel("compressed size (bytes)")
            ax.grid(alpha=0.3)
        hist_ax.set_ylabel(f"pages per {bin_bytes}-byte bin")
        hist_ax.set_title(f"Compressed sizes: {w} / {c}", pad=10)
        cdf_ax.set_ylabel("fraction of pages <= size")
        cdf_ax.set_ylim(0, 1.02)
        cdf_ax.set_title(f"Cumulative distribution: {w} / {c}", pad=10)
        hist_ax.legend(fontsize="x-small")
        cdf_ax.legend(fontsize="x-small", loc="lower right")
    fig.tight_layout()
    return fig


def _draw_marks(ax, marks: pd.DataFrame) -> None:
    """Thresholds and limits as full-height lines (one line style each); class sizes as
    ticks along the top edge."""
    k = 0
    for (kind, label), g in marks.groupby(["kind", "label"], sort=False):
        if kind == "class":
            ax.plot(g["size_bytes"], np.ones(len(g)), "|", color="0.35", markersize=8, clip_on=False,
                    transform=ax.get_xaxis_transform(), label=label)
            continue
        style = LINESTYLES[(k + 1) % len(LINESTYLES)] if kind == "limit" else "--"
        k += kind == "limit"
        ax.axvline(g["size_bytes"].iloc[0], color="black" if kind == "threshold" else "0.35", linestyle=style,
                   linewidth=1.2, label=label)


# ------------------------------------------------------------------ classes
def class_data(classes: pd.DataFrame, allocator: str = CLASS_ALLOCATOR) -> pd.DataFrame:
    """The rows of every ``allocator`` spec (any parameters: ``zsmalloc:chain_size=4``
    too) at the last phase of each run, classes holding pages only, with ``group =
    "spec: workload / codec / frontend"`` and ``occupancy = obj_used / obj_allocated``."""
    c = classes[classes["allocator"].astype(str).str.split(":").str[0] == allocator]
    if c.empty:
        return c.assign(group=[], occupancy=[])
    last = c.groupby(KEYS, sort=False)["phase"].transform("last")
    out = M.class_occupancy(c[c["phase"] == last])
    out["group"] = [f"{a}: {_group_label(w, k, f)}"
                    for a, w, k, f in zip(out["allocator"], out["workload"], out["codec"], out["frontend"])]
    return out


def plot_classes(classes: pd.DataFrame, allocator: str = CLASS_ALLOCATOR) -> Figure:
    data = class_data(classes, allocator)
    groups = list(dict.fromkeys(data["group"]))
    fig, axes = plt.subplots(len(groups), 2, figsize=(11, 3.6 * max(1, len(groups))), squeeze=False)
    for (obj_ax, page_ax), group in zip(axes, groups):
        d = data[data["group"] == group]
        width = 12.0
        obj_ax.bar(d["size"], d["obj_allocated"], width, color="0.85", edgecolor="black", linewidth=0.4,
                   hatch="..", label="obj_allocated (slots)")
        obj_ax.bar(d["size"], d["obj_used"], width * 0.6, color="0.3", label="obj_used (live objects)")
        page_ax.bar(d["size"], d["pages_used"], width, color="0.5", edgecolor="black", linewidth=0.4,
                    hatch="//", label="pages_used")
        obj_ax.set_ylabel("objects")
        page_ax.set_ylabel("pages")
        obj_ax.set_title(f"Objects per class, {group}", fontsize="medium")
        page_ax.set_title(f"Pages per class, {group}", fontsize="medium")
        for ax in (obj_ax, page_ax):
            ax.set_xlabel("class size (bytes, handle included)")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------ writing
def build_plots(run: dict[str, Any]) -> dict[str, Callable[[], Figure]]:
    """The plots a loaded run (``load_run``) has data for, by name, as functions that
    draw them."""
    plots: dict[str, Callable[[], Figure]] = {"density": lambda: plot_density(run["summary"])}
    if _has(run, "timeline"):
        plots["timeline"] = lambda: plot_timeline(run["timeline"], run.get("phases"))
    if _has(run, "waste"):
        plots["waste"] = lambda: plot_waste(run["waste"])
    if _has(run, "sizes") and (run["sizes"]["kind"] == "data").any():
        plots["sizes"] = lambda: plot_sizes(run["sizes"], size_marks(run.get("config", {}), run.get("classes")))
    if _has(run, "classes") and not class_data(run["classes"]).empty:
        plots["classes"] = lambda: plot_classes(run["classes"])
    return plots


def _has(run: dict[str, Any], name: str) -> bool:
    df = run.get(name)
    return df is not None and not df.empty


def save_figure(fig: Figure, path: str | Path, fmt: str = "png") -> Path:
    """Write ``fig`` to ``path`` atomically in ``fmt`` and close it."""
    if fmt not in FORMATS:
        raise InputError(f"unknown plot format {fmt!r}; known: {', '.join(FORMATS)}")
    path = Path(path)
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=fmt, dpi=120)
    plt.close(fig)
    return path


def write_plots(run: dict[str, Any], out_dir: str | Path, fmt: str = "png") -> list[Path]:
    """Draw every plot of ``build_plots(run)`` into ``out_dir/NAME.fmt``; return the paths."""
    out = Path(out_dir)
    return [save_figure(draw(), out / f"{name}.{fmt}", fmt) for name, draw in build_plots(run).items()]
