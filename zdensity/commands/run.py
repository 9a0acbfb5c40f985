"""``zdensity run``: workloads x codecs x frontends x allocators -> results/<run_id>/."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from analysis.experiment import run_experiment, run_id, write_results
from analysis.tables import format_summary
from zdensity.commands.common import add_input_options, add_workload_options, cache_from_args, progress_from_args

DESCRIPTION = """\
Replay workloads through frontends and allocators and write a density comparison.

Each dump is split into pages; every page is classified (zero, same-filled, data) and
compressed with each codec; the pages are stored once each ('fill'), through each
frontend (zram, zram-legacy, zswap, zswap-legacy, none) into each allocator.  The run is
the cross product.  Results go to DIR/summary.csv (one row per workload, codec, frontend,
allocator) and DIR/config.json (every parameter, library versions, input hashes, the
command), with timeline.csv, phases.csv, classes.csv, waste.csv and sizes.csv beside
them (see analysis/recorders.py).

summary.csv columns: density = stored_objects / pool_pages (zpages per pageframe);
effective_ratio = live pages (incl. zero/same-filled) / pool_pages; fragmentation =
1 - compressed_bytes / pool_bytes.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run allocators on workloads and write summary.csv",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump", nargs="+", default=[], metavar="FILE",
                   help="memory dump(s): raw page files, .zst, ELF core files or directories of them "
                   "(default: the bundled sample unless --workload or --trace is given)")
    p.add_argument("--trace", default=None, metavar="FILE",
                   help="a trace (CSV op,page,size[,kind] or .parquet) to replay instead of dumps")
    add_workload_options(p)
    p.add_argument("--frontend", default="zram", metavar="LIST",
                   help="comma-separated frontends: zram, zram-legacy, zswap, zswap-legacy, none "
                   "(each NAME[:key=value...]; default: zram)")
    p.add_argument("--allocators", default=None, metavar="LIST",
                   help="comma-separated allocator specs NAME[:key=value...], e.g. zsmalloc:chain_size=4; "
                   "FRONTEND/NAME[:...] runs that allocator behind that frontend only "
                   "(default: every registered allocator behind every frontend)")
    p.add_argument("--out", default=None, metavar="DIR", help="output directory (default: results/<run_id>/)")
    p.add_argument("--timeline-every", type=int, default=None, metavar="N",
                   help="write a timeline.csv row every N events (default: about 200 rows per run; 0: none)")
    add_input_options(p, "lzo,lz4")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    exp = run_experiment(
        dumps=args.dump,
        trace=args.trace,
        codecs=args.codec,
        frontends=args.frontend,
        allocators=args.allocators,
        page_size=args.page_size,
        jobs=args.jobs,
        cache=cache_from_args(args),
        kernel=args.kernel,
        progress=progress_from_args(args),
        timeline_every=args.timeline_every,
        workloads=args.workload,
        policy=args.policy,
    )
    exp.config["command"] = command_line(args)
    out = Path(args.out) if args.out else Path("results") / run_id(exp.config)
    write_results(exp, out)
    print(format_summary(exp.summary))
    tables = ", ".join(f"{name}.csv" for name in exp.extra_tables)
    print(f"\nresults: {out}/summary.csv, {out}/config.json (and {tables})")
    print(f"next: zdensity report {out}; zdensity plot {out}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The ``zdensity run`` command that repeats this run (every option that changes the
    results, explicitly; the output directory, caching and progress options left out)."""
    argv = ["zdensity", "run"]
    if args.dump:
        argv += ["--dump", *args.dump]
    if args.trace:
        argv += ["--trace", args.trace]
    for spec in args.workload:
        argv += ["--workload", spec]
    if args.policy:
        argv += ["--policy", args.policy]
    argv += ["--codec", args.codec, "--frontend", args.frontend]
    if args.allocators:
        argv += ["--allocators", args.allocators]
    argv += ["--page-size", str(args.page_size)]
    if args.kernel:
        argv += ["--kernel", args.kernel]
    if args.timeline_every is not None:
        argv += ["--timeline-every", str(args.timeline_every)]
    return shlex.join(argv)
