"""Kernel presets: the parameters of every frontend and allocator as a given kernel release
has them, from ONE table (``TABLE``), so ``--kernel 6.1`` means "as my 6.1 kernel would".

Each row says: from release ``since`` on, component ``name`` (a registry name: allocator or
frontend) has these parameter values, because of ``change`` (the kernel commit or series);
``certain`` is False where the release placement was not checked against a tagged tree.
Rows apply cumulatively in release order: the preset of release R for a component is its
defaults overridden by every row with ``since <= R``.  Explicit ``NAME:key=value`` values
override the preset (``allocators.create(spec, base_params)``).

zsmalloc / zram boundaries (zsmalloc.md §9, zram.md §6):

======== ============================================================================
release  rule
======== ============================================================================
4.1      zsmalloc: +8-byte handle, class merging, compaction; 2 lists split at 3N/4,
         chain 4, used-percent chooser (``era=v4``).  The v4.1–4.7 insertion rule
         (tail, head iff inuse >= head's) is modelled by the v4.8 rule (uncertain).
         zram: ``comp_len > PAGE_SIZE/4*3`` (3072) stored whole.
4.17     zram: huge threshold = zsmalloc's ``huge_class_size`` (3257 at chain 4).
6.14     zram: old slot contents freed before the new page is allocated (uncertain).
6.17     zram: allocate first again (race fix; uncertain; measured on 6.18).
6.3      zsmalloc: min-waste chooser, CONFIG_ZSMALLOC_CHAIN_SIZE default 8; still the
         two old lists and src-first compaction (uncertain: series placement).
6.4      zsmalloc: 12 fullness groups, head insertion, dst-first compaction
         (``era=current``) (uncertain: series placement).
======== ============================================================================

E.g. 6.1 → ``zsmalloc:chain_size=4:chain_rule=used-percent:era=v4``, zram huge threshold
3257; 6.12 / 6.18 → zsmalloc defaults (chain 8, min-waste, current), threshold 3625.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, Mapping

from allocators.spec import SpecError

Release = tuple[int, int]
Value = Any  # a parameter value, or a callable page_size -> value


@dataclass(frozen=True)
class Row:
    """From release ``since`` on, component ``name`` has parameter ``values`` (each a
    value or a function of the page size)."""

    since: Release
    name: str
    values: Mapping[str, Value]
    change: str
    certain: bool


TABLE: tuple[Row, ...] = (
    # ---------------------------------------------------------------- zsmalloc
    Row((4, 1), "zsmalloc", {"era": "v4", "chain_size": 4, "chain_rule": "used-percent"},
        "v4.1 zsmalloc: handle in object, class merging, zs_compact; get_pages_per_zspage "
        "(max used%), ZS_MAX_ZSPAGE_ORDER 2; v4.8 'zsmalloc: introduce zspage structure' "
        "insert rule (Minchan Kim, 2016) used for 4.1-4.7 too", False),
    Row((6, 3), "zsmalloc", {"chain_rule": "min-waste", "chain_size": 8},
        "'zsmalloc: rework zspage chain size selection' + CONFIG_ZSMALLOC_CHAIN_SIZE "
        "(Sergey Senozhatsky, Jan 2023)", False),
    Row((6, 4), "zsmalloc", {"era": "current"},
        "'zsmalloc: fine-grained fullness and new compaction algorithm' (PATCHv4, Mar 2023) and "
        "'zsmalloc: remove insert_zspage() ->inuse optimization' (2023-02-06)", False),
    # -------------------------------------------------------------------- zram
    Row((4, 1), "zram", {"huge_threshold": lambda page_size: page_size // 4 * 3 + 1},
        "zram_drv.h max_zpage_size = PAGE_SIZE / 4 * 3; zram_bvec_write: comp_len > "
        "max_zpage_size -> stored whole via zs_malloc(PAGE_SIZE)", True),
    Row((4, 17), "zram", {"huge_threshold": 0},
        "'zram: drop max_zpage_size and use zs_huge_class_size()' (v4.17): comp_len >= "
        "huge_class_size", True),
    Row((6, 14), "zram", {"free_first": True},
        "'zram: free slot memory early during write' (commit 71268035f5d73, Sergey Senozhatsky, "
        "Nov 2024): old contents freed before compression", False),
    Row((6, 17), "zram", {"free_first": False},
        "'zram: fix slot write race condition' (Sep 2025, Fixes: 71268035f5d73, Cc stable): "
        "free again after the allocation; stable 6.14-6.16 point releases may have it too", False),
    # ------------------------------------------------------- zswap, zbud, z3fold
    Row((4, 1), "zbud", {"pre_fix_max_size": False},
        "mm/zbud.c: size > PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE -> -ENOSPC (3968 B; "
        "Heesub Shin's 2013 fix), unchanged through Debian 6.1.192 and 6.12.117", True),
    Row((4, 1), "z3fold", {"header_struct_bytes": 64},
        "4.8 z3fold: ZHDR_SIZE_ALIGNED = CHUNK_SIZE (one header chunk, NCHUNKS 63)", False),
    Row((4, 14), "z3fold", {"header_struct_bytes": 88},
        "z3fold_header grows (work_struct, kref, per-cpu lists, later slots/foreign_handles): "
        "88 B on x86_64 -> 2 chunks, NCHUNKS 62; the 6.1 value is from the BTF of Debian "
        "6.1.192 z3fold.ko and reproduces that kernel's pool sizes", False),
    Row((4, 1), "zswap-legacy", {"compress_bound_pages": 2, "zswap_header_bytes": 8},
        "zswap_frontswap_store: zpool_malloc(hlen + dlen), hlen = sizeof(zswap_header) for "
        "evictable pools; crypto lzo (lzo1x_1_compress) ignores the output bound, so lzo "
        "outputs > PAGE_SIZE reach the allocator (dstmem is 2 pages)", False),
    Row((6, 1), "zswap-legacy", {"compress_bound_pages": 1},
        "crypto/lzo.c uses lzo1x_1_compress_safe (stable backport, Debian 6.1.192): output > "
        "PAGE_SIZE fails compression, the page is refused with no counter", True),
    Row((6, 5), "zswap", {"compress_bound_pages": 2},
        "zswap_store (no frontswap, no zswap_header): 2 * PAGE_SIZE dst buffer, unbounded lzo "
        "output reaches zpool_malloc -> reject_compress_poor", False),
    Row((6, 12), "zswap", {"compress_bound_pages": 1},
        "lzo1x_1_compress_safe backported to stable 6.12.31: lzo output > PAGE_SIZE -> "
        "reject_compress_fail (checked on Debian 6.12.117)", True),
)

KNOWN_RELEASES: tuple[str, ...] = ("4.1", "4.4", "4.9", "4.14", "4.17", "4.19", "5.4", "5.10", "5.15",
                                   "6.1", "6.3", "6.4", "6.6", "6.12", "6.18")
_MAX_MAJOR = 6


def parse_release(release: str) -> Release:
    """``"6.1"``, ``"6.1.0-56-amd64"``, ``"6.18.44-fc"`` -> (major, minor).  Releases
    before the table's first row or after major 6 raise ``SpecError``."""
    m = re.match(r"^\s*(\d+)\.(\d+)", str(release))
    first = min(r.since for r in TABLE)
    if m:
        rel = (int(m.group(1)), int(m.group(2)))
        if first <= rel and rel[0] <= _MAX_MAJOR:
            return rel
    raise SpecError(f"unknown kernel release {release!r}; known: {', '.join(KNOWN_RELEASES)} "
                    f"(any {first[0]}.{first[1]} .. {_MAX_MAJOR}.x)")


def preset_values(release: str, name: str, page_size: int = 4096) -> dict[str, Any]:
    """The parameter values the table sets for ``name`` at ``release`` (may be empty)."""
    rel = parse_release(release)
    values: dict[str, Any] = {}
    for row in sorted(TABLE, key=lambda r: r.since):
        if row.name == name and row.since <= rel:
            for key, value in row.values.items():
                values[key] = value(page_size) if callable(value) else value
    return values


def preset_params(release: str, name: str, params_cls: type, page_size: int = 4096) -> Any:
    """A ``params_cls`` instance for ``name`` as release ``release`` has it, or None when
    the table has no row for ``name`` at that release.  ``page_size`` is set when the
    class has that field.  Use as ``base_params`` of ``allocators.create`` /
    ``create_frontend``; explicit spec values then override it."""
    values = preset_values(release, name, page_size)
    if not values:
        return None
    fields = {f.name for f in dataclasses.fields(params_cls)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise SpecError(f"preset table: {name} has no parameter(s) {', '.join(unknown)}")
    if "page_size" in fields:
        values.setdefault("page_size", page_size)
    try:
        return params_cls(**values)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"preset {release} for {name}: {exc}") from None


def describe(release: str) -> list[tuple[str, str, str, bool]]:
    """``(name, since, change, certain)`` of every row in force at ``release``."""
    rel = parse_release(release)
    return [(r.name, f"{r.since[0]}.{r.since[1]}", r.change, r.certain)
            for r in sorted(TABLE, key=lambda r: (r.name, r.since)) if r.since <= rel]


__all__ = ["TABLE", "Row", "KNOWN_RELEASES", "parse_release", "preset_values", "preset_params", "describe"]
