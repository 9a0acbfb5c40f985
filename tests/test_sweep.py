"""Sweeps: parameter parsing, the run plan, results, the plot, and the Dask executor."""

from __future__ import annotations

import pandas as pd
import pytest

import allocators as A
from allocators.spec import SpecError
from analysis.summary import SUMMARY_COLUMNS
from analysis.sweep import (SweepParam, density_vs_param_data, parse_param, plan, plot_density_vs_params,
                            run_sweep)
from workloads.errors import InputError
from zdensity.cli import main as cli_main

pytestmark = pytest.mark.skipif("zsmalloc" not in A.REGISTRY, reason="zsmalloc not registered")
WORKLOAD = ["lognormal:pages=300:mean=1200:sd=600"]


def test_parse_param():
    assert parse_param("zsmalloc.chain_size=4,8, 16") == SweepParam("zsmalloc", "chain_size", (4, 8, 16))
    assert parse_param("page_size=4096,16384") == SweepParam("page_size", "page_size", (4096, 16384))
    assert parse_param("zram.huge_threshold=3072").column == "zram.huge_threshold"
    for bad, match in [("nosuch.x=1", "unknown allocator or frontend"), ("zsmalloc.nope=1", "no parameter"),
                       ("zsmalloc.chain_size=abc", "bad value"), ("zsmalloc.chain_size", "expected"),
                       ("chain_size=4", "expected")]:
        with pytest.raises(SpecError, match=match):
            parse_param(bad)


def test_plan_multiplies_only_matching_runs():
    runs = plan([parse_param("zsmalloc.chain_size=4,8"), parse_param("page_size=4096,8192")],
                ["zsmalloc", "ideal"], ["zram"], [4096, 8192])
    assert [(ps, a, cols) for ps, f, a, cols in runs] == [
        (4096, "zsmalloc:chain_size=4", {"zsmalloc.chain_size": 4}),
        (4096, "zsmalloc:chain_size=8", {"zsmalloc.chain_size": 8}),
        (4096, "ideal", {}),
        (8192, "zsmalloc:chain_size=4", {"zsmalloc.chain_size": 4}),
        (8192, "zsmalloc:chain_size=8", {"zsmalloc.chain_size": 8}),
        (8192, "ideal", {}),
    ]
    with pytest.raises(SpecError, match="not among"):
        plan([parse_param("zsmalloc.chain_size=4")], ["ideal"], ["zram"], [4096])


def test_sweep_equals_separate_runs():
    from analysis import run_experiment

    res = run_sweep(["zsmalloc.chain_size=4,8"], workloads=WORKLOAD, allocators="zsmalloc,ideal")
    s = res.summary
    assert list(s.columns) == ["zsmalloc.chain_size"] + SUMMARY_COLUMNS
    assert s["allocator"].tolist() == ["zsmalloc:chain_size=4", "zsmalloc", "ideal"]
    assert s["zsmalloc.chain_size"].tolist()[:2] == [4, 8] and pd.isna(s["zsmalloc.chain_size"].iloc[2])
    direct = run_experiment(workloads=WORKLOAD, allocators=["zsmalloc:chain_size=4", "zsmalloc", "ideal"],
                            frontends="zram", progress=False).summary
    pd.testing.assert_frame_equal(s[SUMMARY_COLUMNS].reset_index(drop=True), direct.reset_index(drop=True))


def test_sweep_page_size_and_process_pool_equal_serial():
    args = dict(workloads=WORKLOAD, allocators="zsmalloc,ideal")
    params = ["zsmalloc.chain_size=4,16", "page_size=4096,16384"]
    serial = run_sweep(params, jobs=1, **args).summary
    pooled = run_sweep(params, jobs=2, **args).summary
    pd.testing.assert_frame_equal(serial, pooled)
    assert sorted(set(serial["page_size"])) == [4096, 16384]
    assert len(serial) == 2 * (2 + 1)


def test_density_vs_param_plot():
    res = run_sweep(["zsmalloc.chain_size=4,8", "page_size=4096,8192"], workloads=WORKLOAD, allocators="zsmalloc,ideal")
    d = density_vs_param_data(res.summary, "zsmalloc.chain_size", ["zsmalloc.chain_size", "page_size"])
    assert d["line"].nunique() == 2 and "page_size=4096" in d["line"].iloc[0]
    fig = plot_density_vs_params(res)
    assert [ax.get_xlabel() for ax in fig.axes] == ["zsmalloc.chain_size", "page_size (bytes)"]
    assert all(ax.get_ylabel() == "density (stored objects per pool page)" for ax in fig.axes)
    assert len(fig.axes[0].get_lines()) == 2 and len(fig.axes[1].get_lines()) == 3


def test_sweep_input_errors():
    with pytest.raises(InputError, match="needs --scheduler"):
        run_sweep(["zsmalloc.chain_size=4"], workloads=WORKLOAD, executor="dask")
    with pytest.raises(InputError, match="unknown executor"):
        run_sweep(["zsmalloc.chain_size=4"], workloads=WORKLOAD, executor="slurm")
    with pytest.raises(InputError, match="swept twice"):
        run_sweep(["zsmalloc.chain_size=4", "zsmalloc.chain_size=8"], workloads=WORKLOAD)


def test_sweep_command(tmp_path, capsys):
    out = tmp_path / "sweep"
    argv = ["sweep", "--param", "zsmalloc.chain_size=4,8", "--workload", WORKLOAD[0], "--allocators",
            "zsmalloc,ideal", "--out", str(out), "--no-cache", "--no-progress"]
    assert cli_main(argv) == 0
    s = pd.read_csv(out / "summary.csv")
    assert s.columns[0] == "zsmalloc.chain_size" and len(s) == 3
    png = (out / "density_vs_params.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert cli_main(["sweep", "--param", "nosuch.x=1", "--workload", WORKLOAD[0], "--out", str(out)]) == 2


def test_dask_executor_equals_local():
    distributed = pytest.importorskip("distributed")
    params = ["zsmalloc.chain_size=4,8"]
    local = run_sweep(params, workloads=WORKLOAD, allocators="zsmalloc,ideal").summary
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        remote = run_sweep(params, workloads=WORKLOAD, allocators="zsmalloc,ideal", executor="dask",
                           scheduler=cluster.scheduler_address).summary
    pd.testing.assert_frame_equal(local, remote)
