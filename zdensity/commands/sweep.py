"""``zdensity sweep``: the cross product of parameter values -> one summary.csv and plots."""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import shlex
import sys
from pathlib import Path

from analysis.plots import FORMATS, save_figure
from analysis.sweep import EXECUTORS, plot_density_vs_params, run_sweep
from workloads.atomic import atomic_open
from zdensity.commands.common import add_input_options, add_workload_options, cache_from_args, progress_from_args

DESCRIPTION = """\
Run the cross product of parameter values over workloads and codecs and write one
summary.csv with the parameters as columns, plus density_vs_params.png (density against
each swept parameter).

  --param zsmalloc.chain_size=4,8,16     an allocator's parameter (NAME.key=V1,V2,...)
  --param zram.huge_threshold=3072,3625  a frontend's parameter
  --param page_size=4096,16384           the page size (traces are measured per size)

A parameter multiplies only the runs it applies to (zsmalloc.chain_size does not repeat
the zbud runs; their chain_size column stays empty).  Compressed sizes come from the size
cache, so a sweep measures each dump once per codec and page size.  Runs execute in a
local process pool (--jobs) or, with --executor dask --scheduler ADDRESS, on an existing
dask.distributed cluster (pip install 'zdensity[dask]').
"""


def add_parser(sub) -> None:
    p = sub.add_parser("sweep", help="run a parameter sweep and plot density against each parameter",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--param", action="append", default=[], required=True, metavar="NAME.key=V1,V2",
                   help="a swept parameter (repeatable; the sweep is the cross product)")
    p.add_argument("--dump", nargs="+", default=[], metavar="FILE",
                   help="memory dump(s) (default: the bundled sample unless --workload or --trace is given)")
    p.add_argument("--trace", default=None, metavar="FILE", help="a trace to replay instead of dumps")
    add_workload_options(p)
    p.add_argument("--frontend", default="zram", metavar="LIST", help="comma-separated frontend specs (default: zram)")
    p.add_argument("--allocators", default=None, metavar="LIST",
                   help="comma-separated allocator specs (default: every registered allocator)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local process pool (default) or an existing Dask cluster")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="Dask scheduler address, e.g. tcp://10.0.0.5:8786 (with --executor dask)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: results/sweep-<id>/)")
    p.add_argument("--format", choices=FORMATS, default="png", help="plot format (default: png)")
    add_input_options(p, "lzo")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    result = run_sweep(
        args.param, dumps=args.dump, workloads=args.workload, policy=args.policy, trace=args.trace,
        codecs=args.codec, frontends=args.frontend, allocators=args.allocators, page_size=args.page_size,
        kernel=args.kernel, jobs=args.jobs, executor=args.executor, scheduler=args.scheduler,
        cache=cache_from_args(args), progress=progress_from_args(args),
    )
    result.config["command"] = shlex.join(["zdensity", "sweep", *sys.argv[2:]]) if sys.argv[1:2] == ["sweep"] else None
    digest = hashlib.sha256(json.dumps(result.config, sort_keys=True, default=str).encode()).hexdigest()[:8]
    out = Path(args.out) if args.out else Path("results") / f"sweep-{_dt.datetime.now():%Y%m%d-%H%M%S}-{digest}"
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "summary.csv", "w", newline="") as fh:
        result.summary.to_csv(fh, index=False, float_format="%.6g")
    with atomic_open(out / "config.json", "w") as fh:
        json.dump(result.config, fh, indent=2, default=str)
        fh.write("\n")
    plot = save_figure(plot_density_vs_params(result), out / f"density_vs_params.{args.format}", args.format)
    cols = [p.column for p in result.params]
    print(result.summary[cols + ["workload", "codec", "frontend", "allocator", "pool_pages", "density"]]
          .to_string(index=False))
    print(f"\nresults: {out}/summary.csv, {plot}")
    return 0
