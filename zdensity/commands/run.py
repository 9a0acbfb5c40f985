"""``zdensity run``: placeholder until the pipeline lands."""


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="run allocators on a workload and write summary.csv")
    p.set_defaults(func=lambda args: 0)
