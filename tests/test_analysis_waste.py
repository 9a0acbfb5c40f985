"""waste.csv's breakdown: for every allocator the parts add up to pool_bytes exactly, and
each part equals an independent recount from the test's own record of live objects and
the allocator's public diagnostics (``locate``, ``class_stats``, ``blocks``), not from the
code that computes ``waste_breakdown``."""

from __future__ import annotations

import random

import pytest

import allocators as A
from allocators.base import WASTE_KINDS

PAGE = 4096


def chunks(n: int, chunk: int) -> int:
    return -(-n // chunk) * chunk


def drive(alloc, seed: int, n_ops: int = 1500) -> dict[int, int]:
    """A seeded random malloc/free mix (sizes up to the allocator's limit, more mallocs
    than frees); returns ``{handle: size}`` of the live objects."""
    rng = random.Random(seed)
    top = min(alloc.max_alloc_bytes, PAGE)
    live: dict[int, int] = {}
    for _ in range(n_ops):
        if live and rng.random() < 0.4:
            h = rng.choice(list(live))
            alloc.free(h)
            del live[h]
        else:
            size = rng.choice([rng.randint(1, top), rng.randint(20, 1200), rng.randint(top - 300, top)])
            try:
                live[alloc.malloc(size)] = size
            except A.AllocatorError:
                pass
    return live


def expected_ideal(a, live):
    return {"header_bytes": 0, "internal_frag_bytes": 0, "metadata_bytes": 0}


def expected_zsmalloc(a, live):
    rows = a.class_stats()
    objs_by_size = {r.size: r.objs_per_unit for r in rows}
    headers = rounding = 0
    for h, size in live.items():
        slot = a.locate(h)[2]
        handle = a.params.handle_size if objs_by_size[slot] > 1 else 0
        headers += handle
        rounding += slot - handle - size
    tails = sum(r.pages_used * PAGE - r.obj_allocated * r.size for r in rows)
    free_slots = sum((r.obj_allocated - r.obj_used) * r.size for r in rows)
    return {"header_bytes": headers, "internal_frag_bytes": rounding + tails, "external_frag_bytes": free_slots,
            "metadata_bytes": 0}


def expected_zsmalloc_2012(a, live):
    rows = a.class_stats()
    used_slots = sum(r.obj_used * r.size for r in rows)
    tails = sum(r.pages_used * PAGE - r.obj_allocated * r.size for r in rows)
    return {"header_bytes": 0, "internal_frag_bytes": used_slots - sum(live.values()) + tails,
            "external_frag_bytes": sum((r.obj_allocated - r.obj_used) * r.size for r in rows), "metadata_bytes": 0}


def expected_xvmalloc(a, live):
    pages = {a.locate(h)[0][0] for h in live}
    assert len(pages) == a.pool_pages()  # a page without objects is returned at once
    free = sum(size + 4 for p in pages for _, size, is_free in a.blocks(p) if is_free)
    return {"header_bytes": 4 * len(live), "internal_frag_bytes": sum(chunks(s, 4) - s for s in live.values()),
            "external_frag_bytes": free, "metadata_bytes": 0}


def expected_zbud(a, live):
    pages = {a.locate(h)[0][0] for h in live}
    assert len(pages) == a.pool_pages()
    return {"header_bytes": 0, "internal_frag_bytes": sum(chunks(s, 64) - s for s in live.values()),
            "metadata_bytes": 64 * len(pages)}


def expected_zbud_zcache(a, live):
    return {"header_bytes": 32 * len(live), "internal_frag_bytes": sum(chunks(s + 32, 64) - s - 32 for s in live.values()),
            "metadata_bytes": 0}


def expected_z3fold(a, live):
    headless = {h for h in live if a.locate(h)[1] == 0}
    normal_pages = {a.locate(h)[0][0] for h in live if h not in headless}
    assert len(normal_pages) + len(headless) == a.pool_pages()
    rounding = sum(chunks(s, 64) - s for h, s in live.items() if h not in headless)
    rounding += sum(PAGE - live[h] for h in headless)
    return {"header_bytes": 0, "internal_frag_bytes": rounding, "metadata_bytes": a.zhdr_bytes * len(normal_pages)}


def expected_zblock(a, live):
    rows = a.class_stats()
    rounding = sum(a.slot_sizes[a.block_type(s)] - s for s in live.values())
    blocks = sum(r.extra["blocks"] for r in rows)
    tails = sum(r.pages_used * PAGE - r.extra["blocks"] * a.header_bytes - r.obj_allocated * r.size for r in rows)
    return {"header_bytes": 0, "internal_frag_bytes": rounding + tails,
            "external_frag_bytes": sum((r.obj_allocated - r.obj_used) * r.size for r in rows),
            "metadata_bytes": a.header_bytes * blocks}


EXPECTED = {
    "ideal": expected_ideal, "zsmalloc": expected_zsmalloc, "zsmalloc-2012": expected_zsmalloc_2012,
    "xvmalloc": expected_xvmalloc, "zbud": expected_zbud, "zbud-zcache": expected_zbud_zcache,
    "z3fold": expected_z3fold, "zblock": expected_zblock,
}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("name", sorted(A.REGISTRY))
def test_waste_parts_sum_and_match_recount(name, seed):
    a = A.create(name)
    live = drive(a, seed)
    w = a.waste_breakdown()
    assert list(w) == list(WASTE_KINDS)
    assert sum(w.values()) == a.pool_pages() * PAGE
    assert min(w.values()) >= 0
    assert w["payload_bytes"] == sum(live.values())
    expected = EXPECTED[name](a, live) if name in EXPECTED else {}  # a new allocator: add its recount above
    for kind, value in expected.items():
        assert w[kind] == value, f"{name} {kind}: {w[kind]} != recount {value}"
    for h in list(live):
        a.free(h)
    assert a.waste_breakdown() == dict.fromkeys(WASTE_KINDS, 0)


@pytest.mark.skipif("zblock" not in A.REGISTRY, reason="zblock not registered")
@pytest.mark.parametrize("variant", ["A", "B", "C"])
def test_zblock_variants_recount(variant):
    a = A.create(f"zblock:variant={variant}")
    live = drive(a, 7)
    w = a.waste_breakdown()
    assert sum(w.values()) == a.pool_pages() * PAGE
    for kind, value in expected_zblock(a, live).items():
        assert w[kind] == value, kind
