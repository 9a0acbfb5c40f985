"""Options shared by several subcommands."""

from __future__ import annotations

import argparse

from workloads.errors import InputError
from workloads.measure import SizeCache


def page_size_arg(text: str) -> int:
    try:
        value = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 512 or value & (value - 1):
        raise argparse.ArgumentTypeError(f"page size {value} is not a power of two >= 512")
    return value


def jobs_arg(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("jobs must be >= 1")
    return value


def add_input_options(p: argparse.ArgumentParser, codec_default: str) -> None:
    """--page-size, --jobs, --cache-dir, --no-cache, --codec, --kernel, --progress."""
    p.add_argument("--codec", default=codec_default, metavar="LIST",
                   help=f"comma-separated codecs: lzo, lz4, zstd[:level=N], deflate[:level=N] (default: {codec_default})")
    p.add_argument("--page-size", type=page_size_arg, default=4096, metavar="BYTES",
                   help="page size in bytes, a power of two (default: 4096)")
    p.add_argument("--jobs", type=jobs_arg, default=None, metavar="N",
                   help="worker processes for compression (default: all cores)")
    p.add_argument("--cache-dir", default=None, metavar="DIR",
                   help="where compressed sizes are cached (default: $XDG_CACHE_HOME/zdensity)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the size cache")
    p.add_argument("--kernel", default=None, metavar="RELEASE",
                   help="model the rules of this kernel release for every frontend and allocator "
                   "(e.g. 6.1, 6.12); explicit NAME:key=value parameters override it")
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown on a terminal)")


def add_workload_options(p: argparse.ArgumentParser) -> None:
    """--workload (repeatable) and --policy."""
    from workloads.policies import POLICIES
    from workloads.synthetic import GENERATORS

    p.add_argument("--workload", action="append", default=[], metavar="SPEC",
                   help="a synthetic workload NAME[:key=value,...] (repeatable), one of: "
                   f"{', '.join(GENERATORS)}; e.g. kernbench-2013, uniform:lo=100,hi=3000, pages:random")
    p.add_argument("--policy", default=None, metavar="SPEC",
                   help=f"what happens over time, one spec NAME[:key=value,...]: {', '.join(POLICIES)} "
                   "(default: fill; e.g. churn:free=0.3,rewrite=0.2,seed=1)")


def cache_from_args(args: argparse.Namespace) -> SizeCache | None:
    return None if args.no_cache else SizeCache(args.cache_dir)


def progress_from_args(args: argparse.Namespace) -> bool | None:
    return False if args.no_progress else None


def require(condition: bool, message: str) -> None:
    if not condition:
        raise InputError(message)
