"""``zdensity`` entry point: dispatch to subcommands; user errors become one line + exit 2."""

from __future__ import annotations

import argparse
import importlib
import sys

from allocators.spec import SpecError
from workloads.errors import InputError
from zdensity import __version__
from zdensity.commands import COMMANDS

USER_ERRORS = (SpecError, InputError, OSError)


class Parser(argparse.ArgumentParser):
    """Usage errors as one line (``zdensity: error: ...``, exit 2); ``--help`` explains."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"zdensity: error: {self.prog.split()[-1]}: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="zdensity",
        description="Measure and compare the storage density of Linux compressed-memory "
        "allocators (zsmalloc, xvmalloc, zbud, z3fold, zblock, ...) on real memory dumps.",
    )
    parser.add_argument("--version", action="version", version=f"zdensity {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"zdensity.commands.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        msg = str(exc) if not isinstance(exc, OSError) or not exc.filename else f"{exc.filename}: {exc.strerror}"
        print(f"zdensity: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("zdensity: interrupted", file=sys.stderr)
        return 130
