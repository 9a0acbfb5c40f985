"""``zdensity report RUN_DIR``: a results directory as a table that fits an email."""

from __future__ import annotations

import argparse
import sys

from analysis.experiment import load_run
from analysis.report import FORMATS, format_report
from workloads.atomic import atomic_open

DESCRIPTION = """\
Print a results directory (written by 'zdensity run') as a report for a mailing list:
a header with the command that reproduces the run, the page size and the kernel code
each frontend and allocator models, then for each workload, codec and frontend the input
(pages, zero/same-filled, huge, compressed sizes) and one line per allocator:

  density   stored objects / pool pages (zpages per pageframe)
  pool MiB  pool bytes / 2^20
  frag      1 - compressed bytes / pool bytes
  vs BASE   pool pages / the baseline allocator's pool pages - 1
  rejected  stores the frontend or allocator refused

'text' is plain ASCII, at most 72 columns wide.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="print a run's results as an email-sized table",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir", metavar="RUN_DIR", help="a results directory (with summary.csv)")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default: text)")
    p.add_argument("--baseline", default=None, metavar="ALLOCATOR",
                   help="allocator spec the others are compared with (default: zsmalloc if present, "
                   "else the first)")
    p.add_argument("--out", default=None, metavar="FILE", help="write to FILE (atomically) instead of stdout")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    text = format_report(load_run(args.run_dir), args.format, args.baseline)
    if args.out:
        with atomic_open(args.out, "w") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
