"""Recorders and the result tables on small hand-checked runs."""

from __future__ import annotations


import pandas as pd
import pytest

import allocators as A
from allocators.base import WASTE_KINDS
from analysis import load_run, run_experiment, write_results
from analysis.recorders import KEYS, TimelineRecorder, auto_every, size_histogram
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace

# fill: 3 stores (1000, 2000, 3000 B) + a zero page; churn: free page 1, store page 3 again
# with 500 B; compact.  page_size 4096.
OPS = [OP_STORE, OP_STORE, OP_STORE, OP_STORE, OP_FREE, OP_STORE, OP_COMPACT]
PAGES = [0, 1, 2, 3, 1, 3, -1]
SIZES = [1000, 2000, 3000, 0, 0, 500, 0]
KINDS = [0, 0, 0, 1, 0, 0, 0]


def small_trace() -> Trace:
    meta = {"workload": "tiny", "page_size": 4096, "phases": [["fill", 0], ["churn", 4], ["compact", 6]]}
    return Trace.from_columns(OPS, PAGES, SIZES, KINDS, meta)


def run_tiny(**kw):
    return run_experiment(traces={("tiny", "hand"): small_trace()}, frontends="none", allocators="ideal", **kw)


def test_phases_timeline_by_hand():
    exp = run_tiny(timeline_every=2)
    ph = exp.extra_tables["phases"]
    assert list(ph["phase"]) == ["fill", "churn", "compact"]
    assert list(ph["n_events"]) == [4, 6, 7]
    # none frontend: the zero page is a size-0 store: nothing stored, slot released
    assert list(ph["stored_objects"]) == [3, 3, 3]
    assert list(ph["compressed_bytes"]) == [6000, 4500, 4500]
    assert list(ph["pool_pages"]) == [2, 2, 2]  # ceil(6000/4096), ceil(4500/4096)
    assert list(ph["density"]) == [1.5, 1.5, 1.5]
    assert list(ph["payload_bytes"]) == [6000, 4500, 4500]
    assert list(ph["external_frag_bytes"]) == [8192 - 6000, 8192 - 4500, 8192 - 4500]
    tl = exp.extra_tables["timeline"]
    # every 2 events, plus each phase end (4 is both: recorded once, as a phase end)
    assert list(tl["n_events"]) == [2, 4, 6, 7]
    assert list(tl["pool_pages"]) == [1, 2, 2, 2]  # 3000 B after two stores
    assert list(tl["phase"]) == ["fill", "fill", "churn", "compact"]
    assert list(tl.columns[:4]) == KEYS


def test_waste_and_sizes_tables():
    exp = run_tiny()
    w = exp.extra_tables["waste"]
    assert len(w) == 1 and w.loc[0, "phase"] == "compact"
    assert (w[list(WASTE_KINDS)].sum(axis=1) == w["pool_bytes"]).all()
    sz = exp.extra_tables["sizes"]
    assert list(sz.columns) == ["workload", "codec", "kind", "size_bytes", "n_stores"]
    assert sz[["kind", "size_bytes", "n_stores"]].values.tolist() == [
        ["data", 500, 1], ["data", 1000, 1], ["data", 2000, 1], ["data", 3000, 1], ["zero", 0, 1]]


def test_classes_table_for_class_allocators():
    name = "zsmalloc" if "zsmalloc" in A.REGISTRY else "zsmalloc-2012"
    exp = run_experiment(traces={("tiny", "hand"): small_trace()}, frontends="none", allocators=name)
    cl = exp.extra_tables["classes"]
    last = cl[cl["phase"] == "compact"]
    alloc = A.create(name)
    assert len(last) == len(alloc.class_stats())
    assert last["obj_used"].sum() == 3
    # pages_used summed over classes is the pool
    assert last["pages_used"].sum() == exp.summary.loc[0, "pool_pages"]
    for col in ["class", "size", "obj_allocated", "obj_used", "pages_used", "pages_per_unit", "objs_per_unit"]:
        assert col in cl


def test_timeline_auto_and_off():
    assert auto_every(10) == 1 and auto_every(401) == 3 and auto_every(0) == 1
    assert run_tiny(timeline_every=0).extra_tables["timeline"].empty
    assert len(run_tiny().extra_tables["timeline"]) == 7  # auto: every event for 7 events
    with pytest.raises(ValueError):
        TimelineRecorder(0)


def test_size_histogram_counts_every_store():
    tr = small_trace()
    h = size_histogram(tr, "tiny", "hand")
    assert h["n_stores"].sum() == int((tr.ops == OP_STORE).sum())


def test_write_and_load_round_trip(tmp_path):
    exp = run_tiny(timeline_every=3)
    write_results(exp, tmp_path)
    run = load_run(tmp_path)
    for name in ("summary", "timeline", "phases", "classes", "waste", "sizes"):
        assert isinstance(run[name], pd.DataFrame), name
    pd.testing.assert_frame_equal(run["phases"], exp.extra_tables["phases"], check_dtype=False)
    assert run["config"]["runs"][0]["max_alloc_bytes"] == 4096
    assert run["config"]["runs"][0]["allocator_models"]


def test_waste_sums_on_real_sample_for_every_allocator():
    exp = run_experiment(codecs="lz4", allocators=sorted(A.REGISTRY), progress=False, jobs=1, cache=None)
    w = exp.extra_tables["waste"]
    assert set(w["allocator"]) == set(A.REGISTRY)
    assert (w[list(WASTE_KINDS)].sum(axis=1) == w["pool_bytes"]).all()
    assert (w[list(WASTE_KINDS)] >= 0).all().all()
    merged = w.merge(exp.summary, on=KEYS, suffixes=("", "_summary"))
    assert (merged["pool_bytes"] == merged["pool_bytes_summary"]).all()


def test_cli_run_writes_tables_and_command(tmp_path):
    from workloads.trace import write_trace
    from zdensity.cli import main as cli_main

    trace = tmp_path / "t.csv"
    write_trace(small_trace(), trace)
    out = tmp_path / "out"
    argv = ["run", "--trace", str(trace), "--frontend", "none", "--allocators", "ideal", "--timeline-every", "2",
            "--out", str(out)]
    assert cli_main(argv) == 0
    run = load_run(out)
    assert run["config"]["command"] == (f"zdensity run --trace {trace} --codec lzo,lz4 --frontend none "
                                        "--allocators ideal --page-size 4096 --timeline-every 2")
    assert run["timeline"]["n_events"].tolist() == [2, 4, 6, 7]
    for name in ("phases", "classes", "waste", "sizes"):
        assert (out / f"{name}.csv").exists()


@pytest.mark.skipif("zram-legacy" not in __import__("allocators.frontends", fromlist=["FRONTENDS"]).FRONTENDS,
                    reason="zram-legacy not registered")
def test_waste_counts_raw_pages_outside_the_pool():
    # zram-legacy keeps pages compressing to > 3072 B as raw pages beside the pool
    sizes = [1000, 3500, 4000, 500]
    tr = Trace.from_columns([OP_STORE] * 4, range(4), sizes, [0] * 4, {"workload": "raw", "page_size": 4096})
    exp = run_experiment(traces={("raw", "hand"): tr}, frontends="zram-legacy", allocators="ideal")
    w = exp.extra_tables["waste"].iloc[0]
    assert w["pool_pages"] == 1 + 2  # ceil(1500/4096) + two raw pages
    assert w["payload_bytes"] == 1500 + 2 * 4096
    assert sum(w[k] for k in WASTE_KINDS) == w["pool_bytes"]


def test_api_mirrors_the_cli():
    import analysis

    for name in ("run_experiment", "load_run", "write_results", "format_report", "write_plots", "run_sweep"):
        assert callable(getattr(analysis, name)), name
    with pytest.raises(AttributeError):
        analysis.nosuch


# ---------------------------------------------------------------- property: tables agree
from hypothesis import given, settings, strategies as st  # noqa: E402

from allocators.frontends import FRONTENDS  # noqa: E402

EVENT = st.one_of(
    st.tuples(st.just(OP_STORE), st.integers(0, 40), st.integers(0, 4200)),
    st.tuples(st.just(OP_FREE), st.integers(0, 40), st.just(0)),
    st.tuples(st.just(OP_COMPACT), st.just(-1), st.just(0)),
)


@settings(max_examples=15, deadline=None, derandomize=True)
@given(events=st.lists(EVENT, min_size=1, max_size=120), cut=st.floats(0.1, 0.9), every=st.integers(1, 30),
       frontend=st.sampled_from(sorted(FRONTENDS)))
def test_tables_agree_with_each_other(events, cut, every, frontend):
    """On random traces through every frontend and allocator: the last timeline row and
    the last phase row equal the summary; waste adds up to pool bytes; a class
    allocator's pages_used add up to its pool (the frontend's own pages aside)."""
    ops, pages, sizes = zip(*events)
    kinds = [1 if (op == OP_STORE and s == 0) else 0 for op, s in zip(ops, sizes)]
    sizes = [min(s, 4096) for s in sizes]
    mid = max(1, int(len(events) * cut)) if len(events) > 1 else 0
    phases = [["fill", 0], ["churn", mid]] if 0 < mid < len(events) else [["fill", 0]]
    tr = Trace.from_columns(ops, pages, sizes, kinds, {"workload": "prop", "page_size": 4096, "phases": phases})
    exp = run_experiment(traces={("prop", "x"): tr}, frontends=frontend, allocators=sorted(A.REGISTRY),
                         timeline_every=every)
    t = exp.extra_tables
    s = exp.summary.set_index("allocator")
    last_tl = t["timeline"].groupby("allocator").tail(1).set_index("allocator")
    last_ph = t["phases"].groupby("allocator").tail(1).set_index("allocator")
    for col in ("stored_objects", "compressed_bytes", "pool_pages", "pool_bytes"):
        assert (last_tl[col] == s.loc[last_tl.index, col]).all(), col
        assert (last_ph[col] == s.loc[last_ph.index, col]).all(), col
    assert (t["phases"].groupby("allocator").size() == len(phases)).all()
    w = t["waste"]
    assert (w[list(WASTE_KINDS)].sum(axis=1) == w["pool_bytes"]).all()
    assert (w[list(WASTE_KINDS)] >= 0).all().all()
    for (alloc,), g in t["classes"].groupby(["allocator"]):
        last = g[g["phase"] == phases[-1][0]]
        if alloc.startswith("zsmalloc") and frontend != "zram-legacy":
            assert last["pages_used"].sum() == s.loc[alloc, "pool_pages"]
