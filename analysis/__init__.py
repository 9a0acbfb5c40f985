"""Analysis: the run loop, recorders, metrics, tables, plots and reports.

The Python API mirrors the CLI:

    from analysis import run_experiment, write_results, load_run
    exp = run_experiment(codecs="lzo", allocators=["zsmalloc", "zbud", "ideal"])
    write_results(exp, "results/demo")          # zdensity run --out results/demo
    run = load_run("results/demo")              # {"summary": DataFrame, "timeline": ..., "config": {...}}
"""

from analysis.experiment import Experiment, load_run, load_workloads, run_experiment, run_id, write_results
from analysis.run import Recorder, RunResult, replay

__all__ = ["Experiment", "Recorder", "RunResult", "load_run", "load_workloads", "replay", "run_experiment",
           "run_id", "write_results"]
