"""``zdensity classes``: zsmalloc's distinct size classes for a page size, chain size and
chain rule (allocators.zsmalloc_classes)."""

from __future__ import annotations

import argparse
import csv
import sys

from allocators.spec import SpecError
from allocators.zsmalloc_classes import CHAIN_RULES, ClassTable
from zdensity.commands.common import page_size_arg

DESCRIPTION = """\
Print zsmalloc's distinct size classes as zs_create_pool builds them: class index, slot
size (bytes), pages per zspage, objects per zspage, and the bytes wasted at the end of each
zspage (pages*page_size - objects*size).  The last line gives the number of classes, the
huge-class watermark (largest non-huge class) and huge_class_size (smallest payload that
ends in the huge class; zram stores pages compressing to at least this whole).

--chain-rule min-waste is the v6.3+ chooser (119 classes at chain 8, 69 at 4, 192 at 16 on
4 KiB pages); used-percent is the pre-6.3 chooser, which reproduces the table of the
kernel's Documentation/mm/zsmalloc.rst (123 classes at chain 8, 191 at 16).
"""

COLUMNS = ("class", "size", "pages_per_zspage", "objs_per_zspage", "waste_bytes")


def add_parser(sub) -> None:
    p = sub.add_parser("classes", help="print zsmalloc's size-class table",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--page-size", type=page_size_arg, default=4096, metavar="BYTES",
                   help="page size in bytes (default: 4096)")
    p.add_argument("--chain-size", type=int, default=8, metavar="N",
                   help="CONFIG_ZSMALLOC_CHAIN_SIZE, max pages per zspage, 4..16 (default: 8)")
    p.add_argument("--chain-rule", choices=CHAIN_RULES, default="min-waste",
                   help="pages-per-zspage chooser (default: min-waste, the v6.3+ rule)")
    p.add_argument("--csv", action="store_true", help="CSV output (the summary line goes to stderr)")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    if not 4 <= args.chain_size <= 16:
        raise SpecError(f"--chain-size must be 4..16 (the kernel's range), got {args.chain_size}")
    try:
        table = ClassTable(args.page_size, args.chain_size, 0, args.chain_rule)
    except ValueError as exc:
        raise SpecError(str(exc)) from None
    rows = [(c.index, c.size, c.pages_per_zspage, c.objs_per_zspage, table.waste_bytes(c))
            for c in table.classes]
    summary = (f"{len(rows)} classes (page size {args.page_size}, chain {args.chain_size}, "
               f"{args.chain_rule}); huge watermark {table.huge_watermark}; "
               f"huge_class_size {table.huge_class_size}")
    if args.csv:
        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows)
        print(summary, file=sys.stderr)
        return 0
    print(f"{'class':>5} {'size':>6} {'pages_per_zspage':>16} {'objs_per_zspage':>15} {'waste_bytes':>11}")
    for r in rows:
        print(f"{r[0]:>5} {r[1]:>6} {r[2]:>16} {r[3]:>15} {r[4]:>11}")
    print(summary)
    return 0
