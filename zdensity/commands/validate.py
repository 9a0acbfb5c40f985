"""``zdensity validate``: the zram + zsmalloc model against the running kernel's zram."""

from __future__ import annotations

import argparse
import os
import platform
from dataclasses import dataclass

import numpy as np

import allocators
from allocators.frontends import FRONTENDS, PageKind, create_frontend
from allocators.presets import preset_params
from allocators.spec import SpecError, split_spec
from workloads.dumps import BUNDLED_SAMPLE, DumpSource
from workloads.errors import InputError
from workloads.kernel_zram import ZramDevice, ZramUnavailable, kernel_chain_size, measure_into, unavailable_reason

DESCRIPTION = """\
Check the zram + zsmalloc model against the running kernel (root and zram needed).

A fresh zram device is created (/sys/class/zram-control/hot_add), the dump is written page
by page with O_DIRECT and mm_stat is read after every page, so each page's compressed size
is the kernel's own (its compr_data_size delta; same-filled pages 0, huge pages 4096).
Optional phases: --churn SEED:FRACTION overwrites a seeded random FRACTION of the pages
with zeros (numpy default_rng(SEED).choice, in that order); --compact writes to
/sys/block/zramN/compact.  mm_stat is read after each phase, the device is removed (always),
and the same per-page sizes are replayed through the model (zram frontend over zsmalloc).
--rounds N then repeats N times: rewrite 20 % of the slots with randomly drawn dump pages
(seed 1000+r; the kernel re-compresses them, the model reuses the write phase's sizes),
compact.  Prints kernel vs model for orig_data_size, compr_data_size, mem_used_total, mem_used_max,
same_pages, huge_pages, pages_compacted per phase; exit status 1 on any difference.

Model parameters: the preset of the running kernel's release (--kernel overrides it), with
the chain size read from the kernel config (/proc/config.gz or /boot/config-*; the default
8 is assumed and said when none is found and no --kernel is given); --allocator /
--frontend add explicit NAME:key=value overrides.  Without root or zram: one line,
"skipped", exit 0.
"""

COMPARED = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_used_max", "same_pages",
            "huge_pages", "pages_compacted")


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="compare the zram/zsmalloc model with the running kernel",
                       description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dump", default=None, metavar="FILE",
                   help="raw page dump or .zst (default: the bundled sample)")
    p.add_argument("--codec", default="lzo-rle", metavar="ALG",
                   help="zram comp_algorithm: lzo, lzo-rle, lz4, zstd, ... (default: lzo-rle)")
    p.add_argument("--churn", default=None, metavar="SEED:FRACTION",
                   help="after the write phase, overwrite this fraction of pages with zeros")
    p.add_argument("--compact", action="store_true", help="then trigger compaction (phase compact)")
    p.add_argument("--rounds", type=int, default=0, metavar="N",
                   help="then N rounds of: rewrite 20%% of the slots with other dump pages, compact")
    p.add_argument("--kernel", default=None, metavar="RELEASE",
                   help="model this kernel release's rules (default: the running kernel's, or the --oracle JSON's)")
    p.add_argument("--allocator", default="zsmalloc", metavar="SPEC",
                   help="zsmalloc[:key=value...] overrides on top of the preset (default: zsmalloc)")
    p.add_argument("--frontend", default="zram", metavar="SPEC",
                   help="zram[:key=value...] overrides on top of the preset (default: zram)")
    p.add_argument("--oracle", default=None, metavar="JSON",
                   help="instead of the live kernel: replay the trace of a zram-oracle-mixed JSON "
                   "(shared/kernel-oracle) through the model of that JSON's kernel and compare "
                   "mm_stat and the zsmalloc class table at every checkpoint (no root needed)")
    p.add_argument("--max-pages", type=int, default=0, metavar="N", help="use only the first N pages")
    p.set_defaults(func=main)


@dataclass(frozen=True)
class Churn:
    seed: int
    fraction: float

    @classmethod
    def parse(cls, text: str) -> "Churn":
        seed, sep, frac = text.partition(":")
        try:
            value = cls(int(seed), float(frac))
        except ValueError:
            raise InputError(f"--churn {text!r}: expected SEED:FRACTION, e.g. 7:0.3") from None
        if not sep or not 0 < value.fraction <= 1:
            raise InputError(f"--churn {text!r}: FRACTION must be in (0, 1]")
        return value

    def pages(self, n_pages: int) -> np.ndarray:
        k = int(round(self.fraction * n_pages))
        return np.random.default_rng(self.seed).choice(n_pages, size=k, replace=False)


def plan(n_pages: int, churn: Churn | None, compact: bool, rounds: int) -> list[tuple[str, int, int]]:
    """The operations after the write phase, as ``(op, page, source)``: ``("store", page,
    source)`` writes dump page ``source`` (-1 = a zero page) into slot ``page``;
    ``("compact", -1, -1)``; and ``("check:PHASE", -1, -1)`` reads mm_stat.  Round r (seed
    1000 + r) rewrites 20 % of the slots with randomly drawn dump pages, then compacts."""
    ops: list[tuple[str, int, int]] = []
    if churn:
        ops += [("store", int(p), -1) for p in churn.pages(n_pages)]
        ops.append(("check:churn", -1, -1))
    if compact:
        ops += [("compact", -1, -1), ("check:compact", -1, -1)]
    for r in range(1, rounds + 1):
        rng = np.random.default_rng(1000 + r)
        slots = rng.choice(n_pages, size=max(1, n_pages // 5), replace=False)
        sources = rng.integers(0, n_pages, len(slots))
        ops += [("store", int(p), int(q)) for p, q in zip(slots, sources)]
        ops += [(f"check:round{r}", -1, -1), ("compact", -1, -1), (f"check:round{r}+compact", -1, -1)]
    return ops


def model_params(kernel: str | None, page_size: int) -> tuple[object, object, str]:
    """(zsmalloc params, zram params, note) for the run: the preset of ``kernel`` (or of the
    running release, with the chain size from its config)."""
    zs_cls = allocators.REGISTRY["zsmalloc"].Params
    zram_cls = FRONTENDS["zram"].Params
    release = kernel or platform.release()
    zs = preset_params(release, "zsmalloc", zs_cls, page_size) or zs_cls(page_size=page_size)
    zram = preset_params(release, "zram", zram_cls, page_size)
    note = f"model: kernel {release} preset"
    if kernel is None:
        chain, where = kernel_chain_size()
        if chain is None:
            note += f"; {where}: chain size 8 assumed"
            chain = 8
        else:
            note += f"; chain size {chain} from {where}"
        zs = type(zs)(**{**zs.to_config(), "chain_size": chain})
    return zs, zram, note


def main(args: argparse.Namespace) -> int:
    if args.oracle:
        return oracle_main(args)
    reason = unavailable_reason()
    if reason:
        print(f"validate: skipped ({reason})")
        return 0
    page_size = os.sysconf("SC_PAGE_SIZE")
    churn = Churn.parse(args.churn) if args.churn else None
    if args.rounds < 0:
        raise InputError("--rounds must be >= 0")
    for spec, name in ((args.allocator, "zsmalloc"), (args.frontend, "zram")):
        if split_spec(spec)[0] != name:
            raise SpecError(f"validate models zram over zsmalloc; got {spec!r}")
    src = DumpSource(args.dump or BUNDLED_SAMPLE, page_size)
    pages = np.concatenate(list(src.chunks()))
    if args.max_pages > 0:
        pages = pages[: args.max_pages]
    n = len(pages)
    zs_params, zram_params, note = model_params(args.kernel, page_size)

    ops = plan(n, churn, args.compact, args.rounds)

    # ---------------------------------------------------------------- kernel
    kernel: dict[str, dict[str, int]] = {}
    try:
        with ZramDevice(n, args.codec, page_size) as dev:
            measured = list(measure_into(dev, pages))
            kernel["write"] = dev.mm_stat().as_dict()
            zero = np.zeros(page_size, dtype=np.uint8)
            for op, page, source in ops:
                if op == "store":
                    dev.write_page(page, zero if source < 0 else pages[source])
                elif op == "compact":
                    dev.compact()
                else:
                    kernel[op[6:]] = dev.mm_stat().as_dict()
    except ZramUnavailable as exc:
        print(f"validate: skipped ({exc})")
        return 0

    # ----------------------------------------------------------------- model
    zs = allocators.create(args.allocator, zs_params)
    fe = create_frontend(args.frontend, zs, zram_params)
    model: dict[str, dict[str, int]] = {}
    for i, (size, kind, _huge) in enumerate(measured):
        fe.store(i, size, PageKind(kind))
    model["write"] = fe.counters()
    for op, page, source in ops:
        if op == "store":
            size, kind = (0, PageKind.ZERO) if source < 0 else measured[source][:2]
            fe.store(page, size, PageKind(kind))
        elif op == "compact":
            fe.compact()
        else:
            model[op[6:]] = fe.counters()

    # ---------------------------------------------------------------- report
    n_huge = sum(1 for m in measured if m[2])
    n_same = sum(1 for m in measured if m[1] != PageKind.DATA)
    print(f"dump {src.path.name}: {n} pages ({n_same} same-filled, {n_huge} huge), codec {args.codec}, "
          f"kernel {platform.release()}")
    print(f"{note}; {zs.spec()} (huge_class_size {zs.huge_class_size}), {fe.spec()}")
    print(f"{'phase':<15} {'field':<16} {'kernel':>12} {'model':>12} {'diff':>8}")
    n_diff = 0
    for phase, kern in kernel.items():
        for field in COMPARED:
            k, m = kern[field], model[phase][field]
            n_diff += k != m
            print(f"{phase:<15} {field:<16} {k:>12} {m:>12} {m - k:>8}")
    if kernel["write"]["pages_compacted"] or kernel.get("churn", {}).get("pages_compacted"):
        print("note: the kernel compacted before the compact phase (zsmalloc shrinker under memory "
              "pressure); the model does not do that: rerun on a less loaded machine")
    print("validate: OK, model equals kernel" if not n_diff else f"validate: {n_diff} difference(s)")
    return 0 if not n_diff else 1


def model_class_rows(zs) -> dict[int, dict[str, int]]:
    """The model's debugfs ``classes`` table keyed by class index, with the kernel's columns."""
    rows = {}
    for c in zs.class_stats():
        rows[c.class_index] = {"class": c.class_index, "size": c.size, "obj_allocated": c.obj_allocated,
                               "obj_used": c.obj_used, "pages_used": c.pages_used, **c.extra}
    return rows


def load_oracle(path: str) -> dict:
    """A ``zram-oracle-mixed`` JSON (optionally gzip-compressed, ``.gz``)."""
    import gzip
    import json

    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rt") as fh:
            data = json.load(fh)
        data["trace"], data["checkpoints"], data["kernel"]
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"{path}: not a zram-oracle-mixed JSON ({exc})") from None
    return data


def compare_oracle(data: dict, allocator: str = "zsmalloc", frontend: str = "zram",
                   kernel: str | None = None) -> tuple[object, list[dict[str, object]]]:
    """Replay the oracle's trace through the model of its kernel (or ``kernel``'s preset)
    and compare every checkpoint.  Returns (frontend, one dict per checkpoint: name,
    events, kernel and model ``mem_used_total``, ``mm_stat_diffs`` (fields that differ,
    ``mem_limit`` excluded), ``cells`` and ``cells_differ`` of the class table)."""
    release = kernel or data["kernel"]
    page_size = 4096
    zs = allocators.create(allocator, preset_params(release, "zsmalloc", allocators.REGISTRY["zsmalloc"].Params, page_size))
    fe = create_frontend(frontend, zs, preset_params(release, "zram", FRONTENDS["zram"].Params, page_size))
    trace = data["trace"]
    results = []
    done = 0
    for cp in data["checkpoints"]:
        for op, page, *rest in trace[done:cp["events"]]:
            if op == "store":
                fe.store(page, rest[0], PageKind.DATA if rest[0] else PageKind.ZERO)
            elif op == "free":
                fe.free(page)
            elif op == "compact":
                fe.compact()
            else:
                raise InputError(f"oracle trace: unknown op {op!r}")
        done = cp["events"]
        model, kern = fe.counters(), cp["mm_stat"]
        mrows = model_class_rows(zs)
        cells = differ = 0
        for row in (cp.get("zsmalloc_classes") or {}).get("rows", []):
            mrow = mrows.get(row["class"], {})
            for key, value in row.items():
                cells += 1
                differ += mrow.get(key) != value
        results.append({
            "name": cp["name"], "events": done, "kernel_mem_used_total": kern["mem_used_total"],
            "model_mem_used_total": model["mem_used_total"],
            "mm_stat_diffs": sum(model[f] != kern[f] for f in kern if f in model and f != "mem_limit"),
            "cells": cells, "cells_differ": differ,
        })
    return fe, results


def oracle_main(args: argparse.Namespace) -> int:
    data = load_oracle(args.oracle)
    fe, results = compare_oracle(data, args.allocator, args.frontend, args.kernel)
    zs = fe.allocator
    print(f"oracle {args.oracle}: kernel {data['kernel']}, {data.get('alg')}, {data['input']['pages']} pages, "
          f"{len(data['trace'])} events; model: {args.kernel or data['kernel']} preset, {zs.spec()} "
          f"(huge_class_size {zs.huge_class_size}), {fe.spec()}")
    print(f"{'checkpoint':<12} {'events':>7} {'mem_used_total':>15} {'model':>10} {'mm_stat diffs':>13} "
          f"{'class cells':>11} {'differ':>6}")
    n_diff = 0
    for r in results:
        n_diff += r["mm_stat_diffs"] + r["cells_differ"]
        print(f"{r['name']:<12} {r['events']:>7} {r['kernel_mem_used_total']:>15} {r['model_mem_used_total']:>10} "
              f"{r['mm_stat_diffs']:>13} {r['cells']:>11} {r['cells_differ']:>6}")
    print("validate: OK, model equals the oracle's kernel" if not n_diff else f"validate: {n_diff} difference(s)")
    return 0 if not n_diff else 1
