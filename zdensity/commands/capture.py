"""``zdensity capture``: the private anonymous memory of a live process -> a dump."""

from __future__ import annotations

import argparse

from workloads.capture import capture, run_and_capture
from workloads.errors import InputError

DESCRIPTION = """\
Write the touched private anonymous pages (heap, stack, anonymous mmaps) of a live
process to FILE (zstd-compressed when FILE ends in .zst, raw otherwise) plus FILE.json
(process name, mappings with sizes and page counts, page count, capture time, kernel
release; never the environment or command-line arguments).  Needs root.

  zdensity capture PID --out FILE.zst [--max-mib N]
  zdensity capture --run [--after SECONDS] [--keep-env] --out FILE.zst -- CMD ARGS...

With --run, CMD is started with PATH as its only environment variable (unless
--keep-env), left to run for --after seconds, stopped (SIGSTOP), captured and killed.
"""


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("capture", help="dump the private anonymous memory of a process (root)",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("target", nargs="*", metavar="PID | CMD ARGS", help="a PID, or with --run the command after --")
    p.add_argument("--out", required=True, metavar="FILE", help="dump to write (.zst: zstd-compressed)")
    p.add_argument("--max-mib", type=positive_int, default=None, metavar="N", help="stop after N MiB of pages")
    p.add_argument("--run", action="store_true", help="start the command given after -- and capture it")
    p.add_argument("--after", type=positive_float, default=2.0, metavar="SECONDS",
                   help="with --run: seconds to let the command run before the capture (default: 2)")
    p.add_argument("--keep-env", action="store_true", help="with --run: pass this environment (default: PATH only)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if args.run:
        meta = run_and_capture(args.target, args.out, args.after, args.keep_env, args.max_mib)
    else:
        if len(args.target) != 1 or not args.target[0].isdigit():
            raise InputError("capture needs one PID (or --run -- CMD ARGS...)")
        meta = capture(int(args.target[0]), args.out, args.max_mib)
    n_maps = sum(1 for m in meta["mappings"] if m["pages_captured"])
    print(f"{meta['n_pages']} pages ({meta['bytes'] / 2**20:.1f} MiB) from {n_maps} mappings of "
          f"{meta['process_name']} [{meta['pid']}]: {args.out}, {args.out}.json")
    return 0
