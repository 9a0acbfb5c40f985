"""Analysis: the run loop, recorders, metrics, tables, plots and reports.

The Python API mirrors the CLI:

    from analysis import run_experiment, write_results, load_run, format_report, write_plots, run_sweep
    exp = run_experiment(codecs="lzo", allocators=["zsmalloc", "zbud", "ideal"])
    write_results(exp, "results/demo")          # zdensity run --out results/demo
    run = load_run("results/demo")              # {"summary": DataFrame, "timeline": ..., "config": {...}}
    print(format_report(run, "text"))           # zdensity report results/demo
    write_plots(run, "results/demo/plots")      # zdensity plot results/demo
    sweep = run_sweep(["zsmalloc.chain_size=4,8,16"], allocators="zsmalloc")   # zdensity sweep ...

``write_plots`` and ``run_sweep`` are imported on first use (matplotlib is loaded only then).
"""

from typing import Any

from analysis.experiment import Experiment, load_run, load_workloads, run_experiment, run_id, write_results
from analysis.report import format_report
from analysis.run import Recorder, RunResult, replay

_LAZY = {"write_plots": "analysis.plots", "run_sweep": "analysis.sweep"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'analysis' has no attribute {name!r}")


__all__ = ["Experiment", "Recorder", "RunResult", "format_report", "load_run", "load_workloads", "replay",
           "run_experiment", "run_id", "run_sweep", "write_plots", "write_results"]
