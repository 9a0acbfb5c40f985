"""``zdensity plot RUN_DIR``: the standard figures of a results directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis.experiment import load_run
from analysis.plots import FORMATS, write_plots

DESCRIPTION = """\
Draw the standard figures of a results directory (written by 'zdensity run'):

  density.png   density (stored objects / pool pages) per allocator, grouped by
                workload, codec and frontend; the ideal packer as a dashed line
  timeline.png  pool pages against events replayed, one line per allocator, phases
                (fill, churn, compaction) shaded and named
  waste.png     where the pool's bytes go: payload, headers/handles, slot rounding,
                free slots/blocks, metadata (MiB, stacked)
  sizes.png     compressed-size histogram and CDF per workload and codec, with the
                huge threshold, allocator limits and zsmalloc class sizes marked
  classes.png   zsmalloc objects and pages per size class

A figure is skipped when the run has no data for it (e.g. no zsmalloc run).
"""


def add_parser(sub) -> None:
    p = sub.add_parser("plot", help="draw a run's figures (density, timeline, waste, sizes, classes)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a results directory (with summary.csv)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: RUN_DIR/plots)")
    p.add_argument("--format", choices=FORMATS, default="png", help="image format (default: png)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    out = Path(args.out) if args.out else Path(args.run_dir) / "plots"
    for path in write_plots(run, out, args.format):
        print(path)
    return 0
