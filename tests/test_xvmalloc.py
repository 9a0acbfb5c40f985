"""xvmalloc: the worked example of xvmalloc.md §7, hand-checked traces (fill, merging,
lower-list miss, fragments, head choice) and a Hypothesis state machine."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

import allocators as A
from allocators.base import AllocatorParams
from allocators.xvmalloc import Xvmalloc
from tests.machines import AllocatorMachine

F, U = True, False  # free / allocated in block tuples


def page_of(xv: Xvmalloc, handle: int) -> int:
    return xv.locate(handle)[0][0]


def test_constants():
    xv = Xvmalloc()
    assert xv.n_free_lists == 508 and xv.max_alloc_bytes == 4092
    assert xv.search_index(36) == 1 and xv.insert_index(36) == 0
    assert xv.search_index(4088) == 507 and xv.insert_index(4092) == 507
    assert xv.search_index(4092) == 508


def test_worked_example():
    xv = Xvmalloc()
    h1 = xv.malloc(100)
    p0 = page_of(xv, h1)
    assert xv.locate(h1)[1] == 4
    assert xv.blocks(p0) == [(0, 100, U), (104, 3988, F)]
    assert xv.free_list_occupancy() == {494: 1} and xv.pool_pages() == 1
    h2 = xv.malloc(2996)
    assert xv.search_index(2996) == 371
    assert page_of(xv, h2) == p0 and xv.locate(h2)[1] == 108
    assert xv.blocks(p0) == [(0, 100, U), (104, 2996, U), (3104, 988, F)]
    assert xv.free_list_occupancy() == {119: 1}
    h3 = xv.malloc(988)  # index 120: the exactly fitting block on list 119 is never found
    p1 = page_of(xv, h3)
    assert p1 != p0 and xv.locate(h3)[1] == 4 and xv.pool_pages() == 2
    assert xv.blocks(p1) == [(0, 988, U), (992, 3100, F)]
    assert xv.free_list_occupancy() == {119: 1, 383: 1}
    xv.free(h2)
    assert xv.blocks(p0) == [(0, 100, U), (104, 3988, F)] and xv.pool_pages() == 2
    xv.free(h1)
    assert xv.blocks(p0) == [] and xv.pool_pages() == 1
    xv.check_invariants()


def test_further_checks():
    xv = Xvmalloc()
    h = xv.malloc(4060)
    assert xv.blocks(page_of(xv, h)) == [(0, 4060, U), (4064, 28, F)]
    assert xv.free_list_occupancy() == {}  # the 28-byte fragment is unlisted
    xv.free(h)  # merges with the fragment: 4060 + 28 + 4 = 4092 -> page freed
    assert xv.pool_pages() == 0

    h = xv.malloc(4088)
    assert xv.blocks(page_of(xv, h)) == [(0, 4088, U), (4092, 0, F)]
    xv.free(h)
    assert xv.pool_pages() == 0

    for n in (4089, 4092):
        xv = Xvmalloc()
        with pytest.raises(A.AllocationFailed):
            xv.malloc(n)
        assert xv.pool_pages() == 1 and xv.n_objects == 0
        assert xv.free_list_occupancy() == {507: 1}
        xv.check_invariants()
        h = xv.malloc(4085)  # the grown page is used later
        assert xv.pool_pages() == 1
        xv.free(h)
        assert xv.pool_pages() == 0

    xv = Xvmalloc()
    with pytest.raises(A.InvalidSize):
        xv.malloc(0)
    with pytest.raises(A.ObjectTooLarge):
        xv.malloc(4093)
    assert xv.pool_pages() == 0


def test_36_byte_blocks_per_page():
    """Each 36-byte object costs 40 bytes; the free tail shrinks 4092 - 40k.  The 102nd
    comes from the 52-byte tail (list 2 >= search index 1) and leaves a 12-byte fragment,
    so 102 fit and the 103rd grows the pool."""
    xv = Xvmalloc()
    hs = [xv.malloc(36) for _ in range(102)]
    assert xv.pool_pages() == 1
    assert xv.blocks(page_of(xv, hs[0]))[-1] == (4080, 12, F)
    h = xv.malloc(36)
    assert xv.pool_pages() == 2 and page_of(xv, h) != page_of(xv, hs[0])
    xv.check_invariants()


def test_merge_with_both_neighbours():
    xv = Xvmalloc()
    a, b, c, d = (xv.malloc(100) for _ in range(4))
    p = page_of(xv, a)
    xv.free(a)
    xv.free(c)
    assert xv.blocks(p) == [(0, 100, F), (104, 100, U), (208, 100, F), (312, 100, U), (416, 3676, F)]
    xv.free(b)  # next (c) and prev (a) merge: 100 + (100 + 100 + 4) + 4 = 308
    assert xv.blocks(p) == [(0, 308, F), (312, 100, U), (416, 3676, F)]
    assert xv.free_list_occupancy() == {34: 1, 455: 1}
    xv.free(d)
    assert xv.pool_pages() == 0 and xv.free_list_occupancy() == {}


def test_lower_list_miss_and_header_only_fragment():
    xv = Xvmalloc()
    a = xv.malloc(36)
    b = xv.malloc(100)
    p = page_of(xv, a)
    xv.free(a)  # 0:36 free on list 0 (insert rounds down)
    assert xv.free_list_occupancy() == {0: 1, 489: 1}
    h = xv.malloc(36)  # search index 1: the 36-byte block on list 0 is not found
    assert xv.locate(h)[1] == 4 + 144
    assert xv.blocks(p)[:2] == [(0, 36, F), (40, 100, U)]
    h32 = xv.malloc(32)  # search index 0 finds it; 4 bytes remain: a 0-byte fragment
    assert xv.locate(h32)[1] == 4
    assert xv.blocks(p)[:3] == [(0, 32, U), (36, 0, F), (40, 100, U)]
    xv.free(b)  # merges with the 0-byte fragment before it and nothing after (h follows)
    assert xv.blocks(p)[:3] == [(0, 32, U), (36, 104, F), (144, 36, U)]
    xv.check_invariants()


def test_fragment_merges_as_previous_block():
    xv = Xvmalloc()
    a = xv.malloc(48)
    b = xv.malloc(100)
    p = page_of(xv, a)
    xv.free(a)  # 0:48 on list 2
    c = xv.malloc(40)  # search index 1 -> list 2 before the tail's list; 8 bytes left
    assert xv.blocks(p) == [(0, 40, U), (44, 4, F), (52, 100, U), (156, 3936, F)]
    xv.free(b)  # merges the tail (next) and the 4-byte fragment (prev)
    assert xv.blocks(p) == [(0, 40, U), (44, 4048, F)]
    xv.free(c)
    assert xv.pool_pages() == 0


def test_head_of_list_is_most_recent_insert():
    xv = Xvmalloc()
    hs = [xv.malloc(96) for _ in range(5)]
    xv.free(hs[1])
    xv.free(hs[3])
    assert xv.free_list_occupancy()[8] == 2  # 96 bytes: search and insert index agree
    assert xv.malloc(96) == hs[3]
    assert xv.malloc(96) == hs[1]
    xv.free(hs[1])
    assert xv.malloc(100) != hs[1]  # 100 searches from list 9: the 96-byte block is missed


def test_stored_size_is_unaligned_and_free_realigns():
    xv = Xvmalloc()
    h = xv.malloc(5)
    p = page_of(xv, h)
    assert xv.blocks(p) == [(0, 5, U), (12, 4080, F)]
    kinds = xv.free_bytes_by_kind()
    assert kinds == {"listed_free": 4084, "fragments": 0, "headers": 4, "alignment": 3}
    assert sum(kinds.values()) == 4096 - 5
    xv.free(h)
    assert xv.pool_pages() == 0


def test_other_page_size():
    xv = Xvmalloc(AllocatorParams(page_size=8192))
    assert xv.max_alloc_bytes == 8188 and xv.n_free_lists == (8188 - 32) // 8 + 1
    h = xv.malloc(8188 - 8)
    with pytest.raises(A.AllocationFailed):
        xv.malloc(8188)
    assert xv.pool_pages() == 2
    xv.free(h)
    assert xv.pool_pages() == 1
    xv.check_invariants()


class XvmallocMachine(AllocatorMachine):
    def make_allocator(self):
        return Xvmalloc()

    @rule(size=st.one_of(st.integers(1, 64), st.integers(1, 4092), st.integers(4080, 4092),
                         st.sampled_from([28, 32, 36, 40, 44, 988, 2996, 3072])),
          count=st.integers(1, 6))
    def malloc(self, size, count):
        for _ in range(count):
            try:
                self.live.append(self.alloc.malloc(size))
            except A.AllocationFailed:
                assert (size + 3) & ~3 == 4092

    @invariant()
    def free_bytes_explained(self):
        kinds = self.alloc.free_bytes_by_kind()
        assert sum(kinds.values()) == self.alloc.pool_pages() * 4096 - self.alloc.stored_bytes


XvmallocMachine.TestCase.settings = settings(max_examples=80, stateful_step_count=60, deadline=None)
TestXvmallocMachine = XvmallocMachine.TestCase
