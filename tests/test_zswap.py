"""zswap (current) and zswap-legacy frontends: reference/zswap.md §1–§5 goldens."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocators as A
from allocators.frontends import FRONTENDS, PageKind, create_frontend

DATA, ZERO, SAME = PageKind.DATA, PageKind.ZERO, PageKind.SAME


def fe(frontend: str, allocator: str = "zbud", **params):
    spec = ":".join([frontend] + [f"{k}={v}" for k, v in params.items()])
    return create_frontend(spec, A.create(allocator))


def test_registered_once():
    assert FRONTENDS["zswap"].name == "zswap" and FRONTENDS["zswap-legacy"].name == "zswap-legacy"


def test_legacy_zbud_gets_length_plus_8():
    f = fe("zswap-legacy")
    f.store(0, 3000, DATA)
    h = f.slots[0][1]
    assert f.allocator.locate(h)[2] == 3008  # 47 chunks
    assert f.allocator._chunks[h] == 47
    f.store(1, 3960, DATA)  # 3968 = 62 chunks: accepted
    f.store(2, 3961, DATA)  # 3969: -ENOSPC
    c = f.counters()
    assert c["reject_compress_poor"] == 1 and c["stored_pages"] == 2
    assert f.summary().rejected_pages == 1


def test_legacy_same_filled_costs_nothing():
    f = fe("zswap-legacy")
    f.store(0, 44, SAME)
    f.store(1, 0, ZERO)
    c = f.counters()
    assert c["stored_pages"] == 2 and c["same_filled_pages"] == 2 and c["pool_total_size"] == 0
    assert f.allocator.n_objects == 0


def test_legacy_compress_failure_has_no_counter():
    f = fe("zswap-legacy")
    f.store(0, 4097, DATA)
    c = f.counters()
    assert c["reject_compress_poor"] == 0 and c["reject_alloc_fail"] == 0 and c["stored_pages"] == 0
    assert c["compress_fail_uncounted"] == 1 and f.summary().rejected_pages == 1
    f.store(1, 4096, DATA)  # compressor accepts exactly a page; zbud refuses 4104
    assert f.counters()["reject_compress_poor"] == 1


def test_legacy_bare_length_for_non_evictable_allocators():
    f = fe("zswap-legacy", "ideal")
    f.store(0, 3000, DATA)
    f.store(1, 4096, DATA)
    assert f.allocator.stored_bytes == 7096 and f.counters()["stored_pages"] == 2


def test_legacy_frontswap_invalidates_before_the_store():
    f = fe("zswap-legacy")
    f.store(0, 1000, DATA)  # P1 FIRST
    f.store(0, 1000, DATA)  # old freed first (P1 freed), the new object is FIRST of a new page
    assert f.allocator.locate(f.slots[0][1])[1] == 64 and f.pool_pages() == 1
    assert f.counters()["duplicate_entry"] == 0 and f.allocator.n_objects == 1
    f.store(0, 3990, DATA)  # refused: the old entry is already gone
    assert 0 not in f.slots and f.pool_pages() == 0


def test_current_zbud_exact_length_and_rejects():
    f = fe("zswap")
    f.store(0, 3968, DATA)  # exactly dlen: 62 chunks, accepted
    f.store(1, 4096, DATA)  # zbud refuses 4096 > 3968: compress_poor
    f.store(2, 4097, DATA)  # bounded compressor fails
    c = f.counters()
    assert (c["stored_pages"], c["reject_compress_poor"], c["reject_compress_fail"]) == (1, 1, 1)
    assert f.allocator.stored_bytes == 3968
    assert f.summary().rejected_pages == 2


def test_current_unbounded_compressor_goes_to_the_allocator():
    f = fe("zswap", "ideal", compress_bound_pages=2)
    f.store(0, 4100, DATA)  # ideal accepts <= 4096 -> -ENOSPC
    assert f.counters()["reject_compress_poor"] == 1


def test_current_zero_pages_never_reach_zswap_same_filled_are_compressed():
    f = fe("zswap")
    f.store(0, 1000, DATA)
    f.store(0, 0, ZERO)  # the old entry goes, the zero page costs nothing
    f.store(1, 44, SAME)
    c = f.counters()
    assert c["stored_pages"] == 1 and "same_filled_pages" not in c
    assert f.allocator.n_objects == 1 and f.allocator.stored_bytes == 44
    s = f.summary()
    assert s.zero_pages == 1 and s.same_pages == 0 and s.pool_pages == 1


def test_current_same_filled_page_without_a_size_is_an_input_error():
    with pytest.raises(A.SpecError, match="no compressed size"):
        fe("zswap").store(0, 0, SAME)


def test_current_rejected_overwrite_leaves_page_absent():
    f = fe("zswap")
    f.store(0, 1000, DATA)
    f.store(0, 4000, DATA)
    assert 0 not in f.slots and f.allocator.n_objects == 0 and f.pool_pages() == 0


def test_new_entry_allocated_before_old_is_freed():
    f = fe("zswap")
    f.store(0, 1000, DATA)  # page P1 FIRST (16 chunks)
    f.store(0, 1000, DATA)  # new object goes to P1 LAST while the old one is alive
    h = f.slots[0][1]
    _, offset, _ = f.allocator.locate(h)
    assert offset == 4096 - 16 * 64 and f.pool_pages() == 1


def test_invalidate_frees():
    f = fe("zswap-legacy", "zbud")
    f.store(5, 2000, DATA)
    f.free(5)
    f.free(6)  # nothing there
    assert f.pool_pages() == 0 and f.counters()["stored_pages"] == 0


@pytest.mark.parametrize("frontend", ["zswap", "zswap-legacy"])
def test_pool_limit(frontend):
    # RAM 100 pages, max 20 % = 20 pages; accept again at <= 18 (current) / < 18 (6.1)
    f = fe(frontend, "ideal", total_ram_pages=100)
    for page in range(25):
        f.store(page, 4096, DATA)
    legacy = frontend == "zswap-legacy"
    # current refuses once pool >= 20 (20 stored); 6.1 once pool > 20 (21 stored)
    stored = 21 if legacy else 20
    assert f.pool_pages() == stored and f.counters()["pool_limit_hit"] == 25 - stored
    for page in range(stored - 3, stored):
        f.free(page)  # down to stored - 3
    f.store(100, 4096, DATA)
    if legacy:  # 6.1: full while max < cur; 18 pages: accept needs 18 > cur
        assert 100 not in f.slots and f.counters()["pool_limit_hit"] == 25 - stored
        f.free(0)
        f.store(100, 4096, DATA)
        assert 100 in f.slots
    else:  # cur 17 <= 18: accepted
        assert 100 in f.slots


def test_pool_limit_example_from_reference():
    """zswap.md §5: RAM 1,000,000 pages -> max 200,000, accept again at <= 180,000."""
    f = fe("zswap", "ideal", total_ram_pages=1_000_000)
    f.allocator.pool_pages = lambda: 200_000  # seen at the store
    f.store(0, 100, DATA)
    assert f.counters()["pool_limit_hit"] == 1 and 0 not in f.slots
    f.allocator.pool_pages = lambda: 180_001
    f.store(1, 100, DATA)
    assert 1 not in f.slots
    f.allocator.pool_pages = lambda: 180_000
    f.store(2, 100, DATA)
    assert 2 in f.slots


@settings(max_examples=40, deadline=None)
@given(
    frontend=st.sampled_from(["zswap", "zswap-legacy"]),
    allocator=st.sampled_from(["zbud", "zbud-zcache", "ideal"]),
    events=st.lists(
        st.tuples(st.integers(0, 15), st.integers(0, 4200), st.sampled_from([DATA, DATA, DATA, ZERO, SAME]),
                  st.booleans()),
        max_size=80,
    ),
)
def test_counters_stay_consistent(frontend, allocator, events):
    f = fe(frontend, allocator)
    for page, size, kind, is_free in events:
        if is_free:
            f.free(page)
        else:
            f.store(page, max(size, 1) if kind != ZERO else 0, kind)
        f.allocator.check_invariants()
    s = f.summary()
    objects = sum(1 for slot, h, _ in f.slots.values() if h >= 0)
    assert objects == s.stored_objects == f.allocator.n_objects
    assert s.compressed_bytes == sum(n for _, _, n in f.slots.values())
    assert f.counters()["pool_total_size"] == f.allocator.pool_pages() * 4096 == s.pool_pages * 4096
    for _, h, n in f.slots.values():
        if h >= 0:
            assert n <= 4096


def test_presets_for_zswap_zbud_z3fold():
    from allocators.frontends.zswap import ZswapLegacyParams, ZswapParams
    from allocators.presets import preset_params
    from allocators.z3fold import Z3foldParams

    legacy = preset_params("6.1", "zswap-legacy", ZswapLegacyParams)
    assert (legacy.compress_bound_pages, legacy.zswap_header_bytes) == (1, 8)
    assert preset_params("5.10", "zswap-legacy", ZswapLegacyParams).compress_bound_pages == 2
    assert preset_params("6.6", "zswap", ZswapParams).compress_bound_pages == 2
    assert preset_params("6.12", "zswap", ZswapParams).compress_bound_pages == 1
    assert preset_params("6.1", "z3fold", Z3foldParams).header_struct_bytes == 88
    assert preset_params("4.9", "z3fold", Z3foldParams).header_struct_bytes == 64
