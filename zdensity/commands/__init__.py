"""One module per subcommand; each defines ``add_parser(subparsers)`` that registers the
subcommand and sets ``func(args) -> int``.  ``COMMANDS`` lists them in help order."""

COMMANDS = [
    "run",
    "trace",
    "capture",
    "report",
    "plot",
    "sweep",
    "classes",
    "validate",
]
