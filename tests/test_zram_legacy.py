"""zram-legacy: the zram.md §7 worked examples for the xvmalloc-era and the staging-zsmalloc
zram, the 3.4 zsmalloc zram, overwrite order, failures and other allocators behind it."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocators as A
from allocators.frontends import FRONTENDS, PageKind, Slot, create_frontend
from allocators.frontends.zram_legacy import ZramLegacy, ZramLegacyParams

DATA, ZERO, SAME = PageKind.DATA, PageKind.ZERO, PageKind.SAME


def zram(allocator: str, **params) -> ZramLegacy:
    return ZramLegacy(A.create(allocator), ZramLegacyParams(**params))


def test_registered_and_spec():
    assert FRONTENDS["zram-legacy"] is ZramLegacy
    fe = create_frontend("zram-legacy:era=3.10", A.create("zsmalloc-2012"))
    assert fe.alloc_first and fe.max_zpage_bytes == 3072 and fe.spec() == "zram-legacy:era=3.10"
    with pytest.raises(A.SpecError):
        create_frontend("zram-legacy:era=3.3", A.create("xvmalloc"))


def test_xvmalloc_era_worked_example():
    z = zram("xvmalloc")
    z.store(0, 100, DATA)
    assert z.allocator.pool_pages() == 1
    z.store(1, 3500, DATA)  # > 3072: a separate page outside the pool
    c = z.counters()
    assert c["pages_expand"] == 1 and c["compr_data_size"] == 4196
    assert z.allocator.pool_pages() == 1
    z.store(2, 0, ZERO)
    c = z.counters()
    assert c["pages_zero"] == 1 and z.allocator.pool_pages() == 1
    assert c["mem_used_total"] == 8192 and c["orig_data_size"] == 8192 and c["compr_data_size"] == 4196
    assert c["pages_stored"] == 2 and c["good_compress"] == 1
    # overwrite slot 0: the old 100-byte object is freed first (pool 0), then xv_malloc(200)
    # grows it back to one page; the pool never holds two pages
    z.store(0, 200, DATA)
    assert z.allocator.locate(z.slots[0][1])[1] == 4  # at the start of a fresh page
    assert z.allocator.pool_pages() == 1 and z.peak_pool_pages == 2  # 1 xv page + 1 raw page
    assert z.pool_pages() == 2 and z.counters()["compr_data_size"] == 4296
    s = z.summary()
    assert (s.zero_pages, s.huge_pages, s.stored_objects, s.pool_pages, s.live_pages) == (1, 1, 2, 2, 3)  # the raw page is a stored object too


def test_staging_zsmalloc_era_310_worked_example():
    z = zram("zsmalloc-2012", era="3.10")
    z.store(0, 3000, DATA)   # class 3008: 3 pages / 4 objs
    z.store(1, 3072, DATA)   # not > 3072: class 3072, a separate class
    z.store(2, 3073, DATA)   # stored as 4096 in class 254 (1 page)
    z.store(3, 0, ZERO)
    c = z.counters()
    assert c["mem_used_total"] == 28672 and z.allocator.pool_pages() == 7
    assert c["compr_data_size"] == 3000 + 3072 + 4096 == 10168
    assert c["pages_stored"] == 3 and c["pages_zero"] == 1 and c["bad_compress"] == 1
    assert "pages_expand" not in c and c["good_compress"] == 0
    assert z.slots[2][0] == Slot.HUGE


def test_34_zsmalloc_keeps_incompressible_pages_outside_the_pool():
    z = zram("zsmalloc-2012")
    z.store(0, 3000, DATA)
    z.store(1, 3072, DATA)
    z.store(2, 3073, DATA)
    z.store(3, 0, ZERO)
    c = z.counters()
    assert z.allocator.pool_pages() == 6 and c["pages_expand"] == 1
    assert c["mem_used_total"] == (6 + 1) * 4096 and c["compr_data_size"] == 10168
    z.free(2)
    assert z.pool_pages() == 6 and z.counters()["pages_expand"] == 0 and z.notify_free == 1


def test_same_filled_nonzero_page_is_compressed():
    z = zram("xvmalloc")
    z.store(0, 40, SAME)
    assert z.slots[0][0] == Slot.NORMAL and z.allocator.n_objects == 1
    assert z.counters()["pages_zero"] == 0 and z.counters()["compr_data_size"] == 40


def test_overwrite_order_free_first_vs_alloc_first():
    """Four 3000-byte pages fill one class-3008 zspage (3 pages, 4 objects).  Rewriting one
    of them: free-first (3.4) reuses the freed slot, allocate-first (3.10) needs a second
    zspage for a moment and keeps it."""
    for era, pages_after in (("3.4", 3), ("3.10", 6)):
        z = zram("zsmalloc-2012", era=era)
        for page in range(4):
            z.store(page, 3000, DATA)
        assert z.pool_pages() == 3
        z.store(0, 3000, DATA)
        assert z.pool_pages() == pages_after and z.peak_pool_pages == pages_after
        z.allocator.check_invariants()


def test_failed_write_free_first_loses_old_contents():
    """3.4 frees first: when the allocator then refuses, the slot is empty.  xvmalloc sizes
    4089..4092 grow the pool and still fail (reachable only with a raised threshold)."""
    z = zram("xvmalloc", max_zpage_bytes=4096)
    z.store(0, 100, DATA)
    z.store(0, 4090, DATA)
    assert 0 not in z.slots and z.counters()["failed_writes"] == 1
    assert z.allocator.pool_pages() == 1 and z.allocator.n_objects == 0  # the grown page stays


def test_failed_write_alloc_first_keeps_old_contents():
    """3.10 allocates first: xvmalloc cannot take the 4096-byte raw page, the old object stays."""
    z = zram("xvmalloc", era="3.10")
    z.store(0, 100, DATA)
    z.store(0, 3500, DATA)
    assert z.slots[0][2] == 100 and z.rejected_pages == 1 and z.allocator.n_objects == 1


@pytest.mark.parametrize("name", sorted(A.REGISTRY))
@pytest.mark.parametrize("era", ["3.4", "3.10"])
def test_every_allocator_behind_zram_legacy(name, era):
    z = zram(name, era=era)
    sizes = [100, 3500, 0, 2000, 3072, 3073, 50]
    for page, size in enumerate(sizes):
        z.store(page, size, ZERO if size == 0 else DATA)
    for page, size in enumerate(sizes):
        z.store(page, size + 7, DATA)
    z.allocator.check_invariants()
    for page in range(len(sizes)):
        z.free(page)
    assert z.pool_pages() == 0 and not z.slots and z.compressed_bytes == 0
    assert z.counters()["mem_used_total"] == 0


ALLOCATORS_FOR_MACHINE = ["xvmalloc", "zsmalloc-2012"]


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(ALLOCATORS_FOR_MACHINE), era=st.sampled_from(["3.4", "3.10"]),
       events=st.lists(st.tuples(st.integers(0, 15), st.integers(-1, 4200)), min_size=1, max_size=120))
def test_counters_agree_with_slots(name, era, events):
    """Random stores (size 0 = zero page) and frees (size -1): the counters are recounted
    from the slot table and the allocator after every event."""
    z = zram(name, era=era)
    for page, size in events:
        if size < 0:
            z.free(page)
        else:
            z.store(page, size, ZERO if size == 0 else DATA)
        z.allocator.check_invariants()
        c = z.counters()
        kinds = [slot for slot, _, _ in z.slots.values()]
        raw = kinds.count(Slot.RAW)
        assert raw == 0 or era == "3.4"
        assert c["pages_zero"] == kinds.count(Slot.ZERO)
        assert c["pages_stored"] == len(kinds) - kinds.count(Slot.ZERO)
        assert c["compr_data_size"] == sum(nbytes for _, _, nbytes in z.slots.values())
        assert c["mem_used_total"] == (z.allocator.pool_pages() + raw) * 4096
        assert z.allocator.n_objects == sum(1 for _, h, _ in z.slots.values() if h >= 0)
        assert z.peak_pool_pages >= z.pool_pages()
