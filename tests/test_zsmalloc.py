"""zsmalloc allocator: worked examples of zsmalloc.md §11 and §9, hand-checked traces, and
Hypothesis state machines (one per era) that cross-check every counter after each step."""

from __future__ import annotations

import math

import pytest
from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import allocators as A
from allocators.zsmalloc import Zsmalloc, ZsmallocParams


def zs(**kw) -> Zsmalloc:
    return Zsmalloc(ZsmallocParams(**kw))


def test_registered_and_defaults():
    a = A.create("zsmalloc")
    assert isinstance(a, Zsmalloc) and a.huge_class_size == 3625
    assert A.create("zsmalloc:chain_size=4").huge_class_size == 3257
    assert A.create("zsmalloc:era=v4:chain_rule=used-percent:chain_size=4").spec() == \
        "zsmalloc:chain_size=4:chain_rule=used-percent:era=v4"
    with pytest.raises(A.SpecError):
        A.create("zsmalloc:era=v9")


def test_first_malloc_creates_zspage():
    a = zs()
    h = a.malloc(100)  # 108 -> class 112/7/256
    assert a.pool_pages() == 7
    row = next(r for r in a.class_stats() if r.obj_allocated)
    assert (row.class_index, row.size, row.obj_allocated, row.obj_used, row.pages_used) == (5, 112, 256, 1, 7)
    assert row.extra["10%"] == 1  # group 1 (ratio 0..9 %) is labelled "10%"
    a.free(h)
    assert a.pool_pages() == 0 and a.n_objects == 0


def test_huge_and_clamp():
    a = zs()
    a.malloc(3625)
    a.malloc(4096)
    rows = {r.class_index: r for r in a.class_stats() if r.obj_allocated}
    assert list(rows) == [254] and rows[254].obj_used == 2 and a.pool_pages() == 2
    with pytest.raises(A.ObjectTooLarge):
        a.malloc(4097)


def test_straddling_object():
    """Class 112/7/256: object 36 starts at 4032 and crosses into page 2; object 37 starts
    at 4144, i.e. at offset 48 of page 2."""
    a = zs()
    hs = [a.malloc(100) for _ in range(38)]
    pages, off, length = a.locate(hs[36])
    assert (len(pages), off, length) == (2, 4032, 112)
    pages37, off37, _ = a.locate(hs[37])
    assert pages37 == pages[1:] and off37 == 48


@pytest.mark.parametrize("n,inuse,group", [
    (256, 1, 1), (256, 25, 1), (256, 26, 2), (256, 255, 10), (256, 256, 11),
    (10, 1, 2), (4, 2, 6), (4, 1, 3), (4, 0, 0),
])
def test_fullness_groups(n, inuse, group):
    from allocators.zsmalloc import _group_table_current
    assert _group_table_current(n)[inuse] == group


def test_v4_fullness_threshold():
    from allocators.zsmalloc import _group_table_v4
    assert _group_table_v4(4) == [0, 1, 1, 1, 3]  # 3*4//4 = 3: ALMOST_EMPTY up to 3
    assert _group_table_v4(9) == [0] + [1] * 6 + [2, 2] + [3]


def _fill_1024(a: Zsmalloc) -> list[int]:
    """zsmalloc.md §11 compaction example, steps 1-2: class 1024/1/4 (payload 1010)."""
    o = [a.malloc(1010) for _ in range(12)]
    assert a.pool_pages() == 3
    for i in (1, 2, 5, 6, 7, 9, 10, 11):
        a.free(o[i])
    return o


def test_compaction_worked_example_current():
    a = zs()
    o = _fill_1024(a)
    assert a.list_order(62, 6) == [0] and a.list_order(62, 3) == [2, 1]  # ids 0, 1, 2 = Z1, Z2, Z3
    c = next(c for c in a.classes if c.index == 62)
    assert (c.n_allocated, c.n_used, a.can_compact(c)) == (12, 4, 2)
    assert a.compact() == 2
    assert a.pages_compacted == 2 and a.pool_pages() == 1 and a.n_objects_moved == 2
    assert a.zspages(62) == {0: [o[0], o[4], o[8], o[3]]}
    assert (c.n_allocated, c.n_used) == (4, 4)
    a.check_invariants()


def test_compaction_worked_example_v4():
    """Same trace, v4 era (hand-checked): src-first.  ALMOST_EMPTY = [Z3, Z2, Z1] (a zspage
    goes second only if its inuse is below the head's).  src Z3 (o8) -> dst Z2 slot 3 (top
    of Z2's free stack 5,6,7); Z2 back at the head; Z3 freed.  src Z2 (o4, o8) -> dst Z1:
    o4 -> slot 2, o8 -> slot 1; Z2 freed."""
    a = zs(era="v4", chain_size=4, chain_rule="used-percent")
    o = _fill_1024(a)
    assert a.list_order(62, 1) == [2, 1, 0]
    assert a.compact() == 2 and a.pool_pages() == 1
    assert a.zspages(62) == {0: [o[0], o[8], o[4], o[3]]}
    a.check_invariants()


def test_v4_insert_second_position():
    a = zs(era="v4", chain_size=4, chain_rule="used-percent")
    # class 1024/1/4: zspages with inuse 3 (Z1) then a fresh one with inuse 1 (Z2)
    h = [a.malloc(1010) for _ in range(5)]
    a.free(h[3])  # Z1 inuse 3 -> ALMOST_EMPTY list [Z1]
    assert a.list_order(62, 1) == [0, 1]  # Z2 (inuse 1 < 3) went second
    # malloc takes the head: Z1 (and it becomes full)
    x = a.malloc(1010)
    assert a.zspages(62)[0][3] == x


def test_current_insert_head_and_no_move_without_group_change():
    a = zs()
    h = [a.malloc(1010) for _ in range(8)]  # Z1, Z2 full
    a.free(h[0])  # Z1 -> group 8 (75 %)
    a.free(h[4])  # Z2 -> group 8, at the head
    assert a.list_order(62, 8) == [1, 0]
    x = a.malloc(1010)  # head Z2 gets it (slot 0, LIFO)
    assert a.zspages(62)[1][0] == x


def test_per_class_pages_example():
    """zsmalloc.md §11: chain 8, class 3408 (5 pages, 6 objs), 210 objects -> 175 pages;
    at chain 4 a 3408-byte object is huge: 210 pages."""
    a = zs()
    for _ in range(210):
        a.malloc(3400)
    row = next(r for r in a.class_stats() if r.obj_used)
    assert (row.size, row.pages_per_unit, row.objs_per_unit, row.pages_used) == (3408, 5, 6, 175)
    b = zs(chain_size=4)
    for _ in range(210):
        b.malloc(3400)
    assert b.pool_pages() == 210


def test_free_bytes_add_up():
    a = zs()
    for s in (1, 100, 500, 2000, 3000, 3700, 4096):
        a.malloc(s)
    kinds = a.free_bytes_by_kind()
    assert sum(kinds.values()) == a.pool_pages() * 4096 - a.stored_bytes
    w = a.waste_breakdown()
    assert sum(w.values()) == a.pool_pages() * 4096 and w["header_bytes"] == 5 * 8  # 3700 and 4096 are huge: no in-object handle


@pytest.mark.parametrize("page_size", [4096, 16384, 65536])
def test_large_page_sizes(page_size):
    a = zs(page_size=page_size)
    hs = [a.malloc(s) for s in (1, page_size // 3, page_size - 100, page_size)]
    a.check_invariants()
    for h in hs:
        a.free(h)
    assert a.pool_pages() == 0


SIZES = st.one_of(st.integers(1, 4096), st.sampled_from([1, 100, 1010, 2000, 3000, 3400, 3625, 4096]))


class ZsmallocMachine(RuleBasedStateMachine):
    params = ZsmallocParams()

    def __init__(self) -> None:
        super().__init__()
        self.a = Zsmalloc(self.params)
        self.live: dict[int, int] = {}

    @rule(size=SIZES, n=st.integers(1, 12))
    def malloc(self, size, n):
        for _ in range(n):
            h = self.a.malloc(size)
            assert h not in self.live
            self.live[h] = size

    @precondition(lambda self: self.live)
    @rule(data=st.data(), frac=st.floats(0.1, 0.9))
    def free_some(self, data, frac):
        handles = sorted(self.live)
        k = max(1, int(len(handles) * frac))
        for h in data.draw(st.permutations(handles))[:k]:
            self.a.free(h)
            del self.live[h]

    @rule()
    def compact(self):
        before = self.a.pool_pages()
        freed = self.a.compact()
        assert self.a.pool_pages() == before - freed
        for c in self.a.class_stats():
            assert c.pages_used == math.ceil(c.obj_used / c.objs_per_unit) * c.pages_per_unit
            assert c.extra["freeable"] == 0

    @invariant()
    def consistent(self):
        self.a.check_invariants()
        assert self.a.n_objects == len(self.live)
        assert self.a.stored_bytes == sum(self.live.values())
        assert sum(c.pages_used for c in self.a.class_stats()) == self.a.pool_pages()

    def teardown(self):
        for h in list(self.live):
            self.a.free(h)
        assert self.a.pool_pages() == 0


class V4Machine(ZsmallocMachine):
    params = ZsmallocParams(chain_size=4, chain_rule="used-percent", era="v4")


class V63Machine(ZsmallocMachine):
    params = ZsmallocParams(era="v4")


class Page64KMachine(ZsmallocMachine):
    """64 KiB pages, chain 16 (sizes still up to 4096: the small classes of a big page)."""

    params = ZsmallocParams(page_size=65536, chain_size=16)


_SETTINGS = settings(max_examples=40, stateful_step_count=30, deadline=None)
TestCurrentEra = ZsmallocMachine.TestCase
TestCurrentEra.settings = _SETTINGS
TestV4Era = V4Machine.TestCase
TestV4Era.settings = _SETTINGS
TestV63 = V63Machine.TestCase
TestV63.settings = _SETTINGS
TestPage64K = Page64KMachine.TestCase
TestPage64K.settings = settings(max_examples=15, stateful_step_count=20, deadline=None)
