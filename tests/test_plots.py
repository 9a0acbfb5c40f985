"""Each plot is drawn with its axes, labels and data, and written as a non-empty image."""

from __future__ import annotations

import matplotlib
import pandas as pd
import pytest

import allocators as A
from analysis import load_run, run_experiment, write_results
from analysis import plots as P
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace
from zdensity.cli import main as cli_main

ALLOCS = [a for a in ("ideal", "zsmalloc", "zbud", "xvmalloc") if a in A.REGISTRY]


def churn_trace() -> Trace:
    sizes = [300 + 97 * i % 3500 for i in range(60)]
    ops = [OP_STORE] * 60 + [OP_FREE] * 30 + [OP_COMPACT]
    pages = list(range(60)) + list(range(0, 60, 2)) + [-1]
    meta = {"workload": "synth", "page_size": 4096, "phases": [["fill", 0], ["churn", 60], ["compact", 90]]}
    return Trace.from_columns(ops, pages, sizes + [0] * 31, [0] * 91, meta)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    exp = run_experiment(traces={("synth", "lzo"): churn_trace()}, frontends="zram", allocators=ALLOCS,
                         timeline_every=10)
    out = tmp_path_factory.mktemp("run")
    write_results(exp, out)
    return load_run(out)


def _labels(ax):
    return ax.get_xlabel(), ax.get_ylabel(), ax.get_title()


def test_density_plot(run):
    fig = P.plot_density(run["summary"])
    ax = fig.axes[0]
    assert _labels(ax) == ("workload / codec / frontend", "density (stored objects per pool page)",
                           "Storage density per allocator")
    non_ideal = [a for a in ALLOCS if a != "ideal"]
    assert len(ax.patches) == len(non_ideal)
    heights = sorted(p.get_height() for p in ax.patches)
    s = run["summary"].set_index("allocator")
    assert heights == pytest.approx(sorted(s.loc[non_ideal, "density"]), rel=1e-5)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "ideal (packing bound)" in legend and set(non_ideal) <= set(legend)
    assert isinstance(fig, matplotlib.figure.Figure)


def test_timeline_plot_marks_phases(run):
    fig = P.plot_timeline(run["timeline"], run["phases"])
    ax = fig.axes[0]
    assert ax.get_xlabel() == "events replayed" and ax.get_ylabel() == "pool pages"
    assert ax.get_title().startswith("Pool size over time")
    assert len(ax.get_lines()) >= len(ALLOCS)
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["fill", "churn", "compact"]
    _, spans = P.timeline_data(run["timeline"], run["phases"])
    assert spans[["start_event", "end_event"]].values.tolist() == [[0, 60], [60, 90], [90, 91]]


def test_waste_plot_stacks_to_pool(run):
    fig = P.plot_waste(run["waste"])
    ax = fig.axes[0]
    assert ax.get_ylabel() == "pool size (MiB)" and ax.get_xlabel() == "allocator"
    n = len(run["waste"])
    assert len(ax.patches) == n * 5
    tops = {}
    for p in ax.patches:
        x = round(p.get_x(), 6)
        tops[x] = max(tops.get(x, 0), p.get_y() + p.get_height())
    assert sorted(tops.values()) == pytest.approx(sorted(run["waste"]["pool_bytes"] / 2**20))
    assert [t.get_text() for t in fig.legends[0].get_texts()] == list(P.WASTE_LABELS.values())


def test_sizes_plot_with_marks(run):
    marks = P.size_marks(run["config"], run["classes"])
    assert "threshold" in set(marks["kind"])
    fig = P.plot_sizes(run["sizes"], marks)
    hist_ax, cdf_ax = fig.axes[:2]
    assert hist_ax.get_xlabel() == "compressed size (bytes)" and hist_ax.get_ylabel() == "pages per 64-byte bin"
    assert cdf_ax.get_ylabel() == "fraction of pages <= size"
    assert sum(p.get_height() for p in hist_ax.patches) == 60  # every data store in a bin
    labels = [t.get_text() for t in hist_ax.get_legend().get_texts()]
    assert any("huge threshold (3625 B)" in t for t in labels)
    if "zsmalloc" in ALLOCS:
        assert "zsmalloc class sizes" in labels


@pytest.mark.skipif("zsmalloc" not in A.REGISTRY, reason="zsmalloc not registered")
def test_classes_plot(run):
    data = P.class_data(run["classes"])
    assert set(data["phase"]) == {"compact"}
    fig = P.plot_classes(run["classes"])
    obj_ax, page_ax = fig.axes[:2]
    assert obj_ax.get_ylabel() == "objects" and page_ax.get_ylabel() == "pages"
    assert obj_ax.get_xlabel() == "class size (bytes, handle included)"
    assert sum(p.get_height() for p in page_ax.patches) == data["pages_used"].sum()


@pytest.mark.parametrize("fmt,magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_plot_command_writes_images(run, tmp_path, fmt, magic):
    run_dir = tmp_path / "run"
    write_results_from(run, run_dir)
    out = tmp_path / "plots"
    assert cli_main(["plot", str(run_dir), "--out", str(out), "--format", fmt]) == 0
    expected = {"density", "timeline", "waste", "sizes"} | ({"classes"} if "zsmalloc" in ALLOCS else set())
    written = {p.stem for p in out.glob(f"*.{fmt}")}
    assert written == expected
    for p in out.glob(f"*.{fmt}"):
        data = p.read_bytes()
        assert len(data) > 1000 and data.startswith(magic)
    assert not list(out.glob(".*.tmp"))


def write_results_from(run, out):
    out.mkdir()
    for name, df in run.items():
        if isinstance(df, pd.DataFrame):
            df.to_csv(out / f"{name}.csv", index=False)
    import json

    (out / "config.json").write_text(json.dumps(run["config"]))


def test_plots_skip_missing_data(run):
    only = {"summary": run["summary"], "config": {}}
    assert list(P.build_plots(only)) == ["density"]


@pytest.mark.skipif("zsmalloc" not in A.REGISTRY, reason="zsmalloc not registered")
def test_classes_plot_one_row_per_zsmalloc_spec():
    exp = run_experiment(traces={("synth", "lzo"): churn_trace()}, frontends="zram",
                         allocators=["zsmalloc", "zsmalloc:chain_size=4", "zsmalloc-2012"], timeline_every=0)
    cl = exp.extra_tables["classes"]
    data = P.class_data(cl)
    assert sorted(set(data["allocator"])) == ["zsmalloc", "zsmalloc:chain_size=4"]
    fig = P.plot_classes(cl)
    assert len(fig.axes) == 4
    assert fig.axes[2].get_title() == "Objects per class, zsmalloc:chain_size=4: synth / lzo / zram"
