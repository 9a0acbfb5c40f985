"""zsmalloc-2012: golden values of zsmalloc-2012.md §8, hand-checked traces, and a
Hypothesis state machine with recounting invariants."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

import allocators as A
from allocators.zsmalloc_classes import chain_size_min_waste
from allocators.zsmalloc_2012 import ALMOST_EMPTY, ALMOST_FULL, FULL, Zsmalloc2012
from tests.machines import AllocatorMachine


def zspage_of(alloc: Zsmalloc2012, handle: int) -> list:
    return alloc._zspages[handle >> alloc._obj_bits]


def lists(alloc: Zsmalloc2012, cls: int) -> tuple[list[int], list[int]]:
    """(ALMOST_FULL, ALMOST_EMPTY) zspage ids, each list from its head."""
    return (list(reversed(alloc._lists[2 * cls + ALMOST_FULL])),
            list(reversed(alloc._lists[2 * cls + ALMOST_EMPTY])))


@pytest.mark.parametrize("request_bytes,index,class_bytes,pages,objs", [
    (1, 0, 32, 1, 128),
    (100, 5, 112, 2, 73),
    (200, 11, 208, 2, 39),
    (3000, 186, 3008, 3, 4),
    (3072, 190, 3072, 3, 4),
    (3073, 191, 3088, 4, 5),
    (4096, 254, 4096, 1, 1),
])
def test_class_lookup_golden(request_bytes, index, class_bytes, pages, objs):
    z = Zsmalloc2012()
    i = z.class_index(request_bytes)
    assert (i, z.class_size[i], z.class_pages[i], z.class_objs[i]) == (index, class_bytes, pages, objs)


def test_class_table_shape():
    z = Zsmalloc2012()
    assert len(z.class_size) == 255
    assert z.class_size[0] == 32 and z.class_size[-1] == 4096
    assert all(b - a == 16 for a, b in zip(z.class_size, z.class_size[1:]))
    assert max(z.class_pages) == 4


def test_rejects_zero_and_above_page():
    z = Zsmalloc2012()
    with pytest.raises(A.InvalidSize):
        z.malloc(0)
    with pytest.raises(A.ObjectTooLarge):
        z.malloc(4097)
    assert z.pool_pages() == 0


def test_only_class_208_differs_from_min_waste_chooser():
    z = Zsmalloc2012()
    differ = [s for s, k in zip(z.class_size, z.class_pages) if k != chain_size_min_waste(s, 4096, 4)]
    assert differ == [208]
    assert chain_size_min_waste(208, 4096, 4) == 3 and 3 * 4096 // 208 == 59


def test_fullness_class_112():
    """N = 73, N/4 = 18: inuse 18 -> ALMOST_EMPTY, 19 -> ALMOST_FULL, 73 -> FULL (unlisted),
    0 -> zspage freed."""
    z = Zsmalloc2012()
    cls = z.class_index(100)
    hs = [z.malloc(100) for _ in range(18)]
    zs = zspage_of(z, hs[0])
    assert zs[4] == ALMOST_EMPTY and lists(z, cls) == ([], [0])
    hs.append(z.malloc(100))
    assert zs[4] == ALMOST_FULL and lists(z, cls) == ([0], [])
    hs += [z.malloc(100) for _ in range(73 - 19)]
    assert zs[4] == FULL and lists(z, cls) == ([], [])
    assert z.pool_pages() == 2
    for h in hs:
        z.free(h)
        z.check_invariants()
    assert z.pool_pages() == 0 and not z._zspages


def test_straddling_object_class_112():
    z = Zsmalloc2012()
    hs = [z.malloc(100) for _ in range(38)]
    pages36, off36, _ = z.locate(hs[36])
    pages37, off37, _ = z.locate(hs[37])
    assert len(pages36) == 2 and off36 == 4032 and 36 * 112 == 4032 and 36 * 112 + 112 - 1 == 4143
    assert pages37 == (pages36[1],) and off37 == 48


def test_pool_size_74_allocations_of_100():
    z = Zsmalloc2012()
    for _ in range(73):
        z.malloc(100)
    assert z.pool_pages() == 2
    z.malloc(100)
    assert z.pool_pages() == 4 and z.pool_pages() * z.page_size == 16384


def test_class_208_lists_at_quarter():
    """Class 208: 2 pages, 39 objects, ALMOST_EMPTY iff inuse <= 9."""
    z = Zsmalloc2012()
    cls = z.class_index(200)
    assert (z.class_size[cls], z.class_pages[cls], z.class_objs[cls]) == (208, 2, 39)
    hs = [z.malloc(200) for _ in range(39)]
    assert lists(z, cls) == ([], []) and z.pool_pages() == 2  # FULL
    z.free(hs.pop())                                         # 38 -> ALMOST_FULL
    assert lists(z, cls) == ([0], [])
    while len(hs) > 10:
        z.free(hs.pop())
    assert lists(z, cls) == ([0], [])                        # 10 in use: still ALMOST_FULL
    z.free(hs.pop())                                         # 9 = 39 // 4 -> ALMOST_EMPTY
    assert lists(z, cls) == ([], [0])
    hs.append(z.malloc(200))                                 # back to 10 -> ALMOST_FULL
    assert lists(z, cls) == ([0], [])
    row = z.class_stats()[cls].to_row()
    assert row["obj_allocated"] == 39 and row["obj_used"] == 10 and row["pages_used"] == 2
    assert row["almost_full"] == 1 and row["almost_empty"] == 0


def test_search_order_almost_full_first_then_push_front():
    """Three class-3008 zspages (N = 4, N/4 = 1): a zspage with 1 object is ALMOST_EMPTY,
    2..3 objects ALMOST_FULL.  The ALMOST_FULL head is used before any ALMOST_EMPTY one,
    and the most recently moved zspage is the head."""
    z = Zsmalloc2012()
    cls = z.class_index(3000)
    hs = [z.malloc(3000) for _ in range(12)]                 # zspages 0, 1, 2 full
    assert z.pool_pages() == 9
    z.free(hs[0]); z.free(hs[1]); z.free(hs[2])              # zspage 0: 1 in use (AE)
    z.free(hs[4]); z.free(hs[5])                             # zspage 1: 2 in use (AF)
    z.free(hs[8])                                            # zspage 2: 3 in use (AF, head)
    assert lists(z, cls) == ([2, 1], [0])
    h = z.malloc(3000)
    assert h >> z._obj_bits == 2 and (h & z._obj_mask) == 0  # head of ALMOST_FULL, LIFO slot
    assert lists(z, cls) == ([1], [0])
    h2 = z.malloc(3000)
    assert h2 >> z._obj_bits == 1 and (h2 & z._obj_mask) == 1  # last freed of zspage 1 first
    h3 = z.malloc(3000)
    assert h3 >> z._obj_bits == 1 and (h3 & z._obj_mask) == 0
    assert lists(z, cls) == ([], [0])
    assert z.malloc(3000) >> z._obj_bits == 0                # ALMOST_EMPTY only when AF empty
    z.check_invariants()


def test_free_bytes_by_kind_adds_up():
    z = Zsmalloc2012()
    hs = [z.malloc(s) for s in (1, 100, 200, 3000, 3073, 4096, 100)]
    z.free(hs[1])
    kinds = z.free_bytes_by_kind()
    assert sum(kinds.values()) == z.pool_pages() * 4096 - z.stored_bytes
    assert kinds["zspage_tail"] == (4096 - 128 * 32) + (8192 - 73 * 112) + (8192 - 39 * 208) \
        + (12288 - 4 * 3008) + (16384 - 5 * 3088) + 0


def test_no_compaction():
    z = Zsmalloc2012()
    hs = [z.malloc(100) for _ in range(80)]
    for h in hs[:70]:
        z.free(h)
    assert z.compact() == 0 and z.pool_pages() == 4


class Zsmalloc2012Machine(AllocatorMachine):
    def make_allocator(self):
        return Zsmalloc2012()

    @rule(size=st.one_of(st.integers(1, 4096), st.sampled_from([32, 33, 100, 200, 3000, 3072, 3073, 4096])),
          count=st.integers(1, 8))
    def malloc(self, size, count):
        for _ in range(count):
            self.live.append(self.alloc.malloc(size))


Zsmalloc2012Machine.TestCase.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
TestZsmalloc2012Machine = Zsmalloc2012Machine.TestCase
