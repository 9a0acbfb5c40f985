"""``zdensity trace``: one dump or generator, one codec, one policy -> a trace file."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from workloads.errors import InputError
from workloads.resolve import load_workloads
from workloads.trace import sidecar_path, write_trace
from zdensity.commands.common import add_input_options, add_workload_options, cache_from_args, progress_from_args

DESCRIPTION = """\
Turn a dump (raw, .zst, ELF core file) or a synthetic workload (--workload) into a trace:
every page is classified and compressed with the codec, then the policy (--policy,
default fill) turns the pages into store/free/compact events.

The trace is CSV with columns op,page,size,kind (Parquet when FILE ends in .parquet and
pyarrow is installed), plus a sidecar FILE.json with codec, library version, level, page
size, source hash, generator config, seed, policy and phases.  Replay it with
'zdensity run --trace FILE'.
"""


def add_parser(sub) -> None:
    p = sub.add_parser("trace", help="write the event trace of a dump or generator",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dump", nargs="?", default=None, metavar="DUMP",
                   help="a memory dump (raw, .zst or ELF core file); or use --workload")
    add_workload_options(p)
    p.add_argument("--out", required=True, metavar="FILE", help="trace file to write (.csv or .parquet)")
    add_input_options(p, "lzo")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if (args.dump is None) == (not args.workload) or len(args.workload) > 1:
        raise InputError("trace needs exactly one input: a DUMP or one --workload SPEC")
    if "," in args.codec:
        raise InputError(f"trace writes one codec's sizes; got --codec {args.codec}")
    if args.kernel:
        raise InputError("--kernel does not apply to traces (they hold sizes, not allocator rules)")
    if args.out.endswith(".parquet"):
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputError(f"{args.out}: writing Parquet needs pyarrow (pip install pyarrow), or write .csv") from None
    traces = load_workloads(
        dumps=[args.dump] if args.dump else [],
        codecs=[args.codec],
        page_size=args.page_size,
        jobs=args.jobs,
        cache=cache_from_args(args),
        progress=progress_from_args(args),
        workloads=args.workload,
        policy=args.policy,
    )
    if len(traces) != 1:
        raise InputError(f"{args.dump}: holds {len(traces)} workloads; trace writes one (name one file)")
    (trace,) = traces.values()
    trace.meta.pop("cached", None)
    trace.meta["command"] = command_line(args)
    write_trace(trace, args.out)
    print(f"{len(trace)} events ({trace.meta['n_pages']} pages, policy {trace.meta['policy']}): "
          f"{args.out}, {sidecar_path(Path(args.out))}")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The ``zdensity trace`` command that writes this trace again."""
    argv = ["zdensity", "trace", *([args.dump] if args.dump else [])]
    for spec in args.workload:
        argv += ["--workload", spec]
    argv += ["--policy", args.policy or "fill", "--codec", args.codec, "--page-size", str(args.page_size),
             "--out", args.out]
    return shlex.join(argv)
