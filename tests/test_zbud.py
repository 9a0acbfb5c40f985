"""zbud (mm/zbud.c) and zbud-zcache (2012 zcache): goldens from reference/zbud.md §9,
a hand-written reference model cross-check and Hypothesis state machines."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import allocators as A
from allocators.zbud import Zbud, ZbudParams, ZbudZcache, ZbudZcacheParams
from tests.machines import AllocatorMachine, random_ops


def lists_of(z: Zbud) -> dict[int, int]:
    """page -> list id (unbuddied[i] = i, buddied = 63)."""
    return {p: z._lists.owner[p] for p in z._live_pages()}


def test_golden_mm_zbud_worked_example():
    z = Zbud()
    h1 = z.malloc(100)  # 2 chunks, new page P1, FIRST
    p1 = z.locate(h1)[0][0]
    assert z.locate(h1) == ((p1,), 64, 100)
    assert lists_of(z) == {p1: 61} and z.pool_pages() == 1
    h2 = z.malloc(3000)  # 47 chunks -> unbuddied[61] -> P1 LAST at 1088
    assert z.locate(h2) == ((p1,), 4096 - 47 * 64, 3000) == ((p1,), 1088, 3000)
    assert lists_of(z) == {p1: z.buddied}
    h3 = z.malloc(1000)  # 16 chunks, nothing in 16..62 -> P2
    p2 = z.locate(h3)[0][0]
    assert p2 != p1 and lists_of(z) == {p1: z.buddied, p2: 47} and z.pool_pages() == 2
    z.free(h1)
    assert lists_of(z) == {p1: 16, p2: 47}
    h5 = z.malloc(900)  # 15 chunks: unbuddied[16] (P1) before unbuddied[47] (P2); FIRST
    assert z.locate(h5) == ((p1,), 64, 900)
    assert lists_of(z) == {p1: z.buddied, p2: 47} and z.pool_pages() == 2
    h6 = z.malloc(3968)  # 62 chunks -> new page on unbuddied[1]
    p3 = z.locate(h6)[0][0]
    assert lists_of(z)[p3] == 1 and z.pool_pages() == 3
    with pytest.raises(A.ObjectTooLarge):
        z.malloc(3969)
    assert z.pool_pages() == 3
    z.check_invariants()
    rows = {r.class_index: r.to_row() for r in z.class_stats()}
    assert rows[0]["buddied"] == 1 and rows[1]["unbuddied"] == 1 and rows[47]["unbuddied"] == 1


def test_free_first_keeps_last_then_reuses_first_slot_and_frees_empty_pages():
    z = Zbud()
    a, b = z.malloc(64), z.malloc(64)
    assert z.locate(a)[0] == z.locate(b)[0]
    z.free(a)
    c = z.malloc(200)
    assert z.locate(c)[1] == 64  # FIRST slot of the page whose FIRST was freed
    z.free(b)
    z.free(c)
    assert z.pool_pages() == 0 and z.n_objects == 0
    z.check_invariants()


def test_lifo_within_a_list():
    z = Zbud()
    a = z.malloc(1000)
    b = z.malloc(3968)  # fills nothing else: new page
    c = z.malloc(1000)  # lands in page a (LAST)
    assert z.locate(c)[0] == z.locate(a)[0]
    d = z.malloc(1000)  # new page P3 on unbuddied[47]
    z.free(c)  # page a back on unbuddied[47], at the HEAD
    e = z.malloc(1000)
    assert z.locate(e)[0] == z.locate(a)[0]
    del b, d


def test_pre_fix_max_size_and_16k_pages():
    assert Zbud().max_alloc_bytes == 3968
    assert Zbud(ZbudParams(pre_fix_max_size=True)).max_alloc_bytes == 4032
    z = Zbud(ZbudParams(page_size=16384))
    assert z.chunk_bytes == 256 and z.max_alloc_bytes == 16384 - 512
    h = z.malloc(300)  # 2 chunks of 256
    assert z.locate(h) == ((z.locate(h)[0][0],), 256, 300)
    h2 = z.malloc(15872)
    assert z.pool_pages() == 2
    z.free(h)
    z.free(h2)
    assert z.pool_pages() == 0


def test_golden_zcache_worked_example():
    z = ZbudZcache()
    a = z.malloc(2000)  # 2032 -> 32 chunks, new page, zbud0 at 0
    page = z.locate(a)[0][0]
    assert z.locate(a) == ((page,), 32, 2000)
    assert z._lists.owner[page] == 32
    b = z.malloc(1000)  # 1032 -> 17 chunks, search 47 down to 1 -> the page, zbud1 at 3008
    assert z.locate(b) == ((page,), 3008 + 32, 1000)
    assert z._lists.owner[page] == z.buddied and z.pool_pages() == 1
    assert z.max_alloc_bytes == 4000
    with pytest.raises(A.ObjectTooLarge):
        z.malloc(4001)
    z.malloc(4000)  # 63 chunks
    assert z.pool_pages() == 2
    z.check_invariants()


def test_zcache_most_full_first_and_fifo():
    z = ZbudZcache()
    small = z.malloc(100)  # 132 -> 3 chunks: page S on unbuddied[3]
    big = z.malloc(3000)  # 3032 -> 48 chunks: 3 + 48 <= 64 -> goes into S (only candidate)
    assert z.locate(big)[0] == z.locate(small)[0]
    p1 = z.malloc(2000)  # 32 chunks: new page P1 on unbuddied[32]
    p2 = z.malloc(2000)  # fits P1 (32 + 32 <= 64): P1 buddied
    assert z.locate(p2)[0] == z.locate(p1)[0]
    q1, q2 = z.malloc(1500), z.malloc(3000)  # 24 chunks (new page Q1); 48 -> new page Q2 (24+48 > 64)
    assert z.locate(q1)[0] != z.locate(q2)[0]
    r = z.malloc(1000)  # 17 chunks: search 47 down: unbuddied[24] (Q1) before [48]? 48 > 47, so Q1
    assert z.locate(r)[0] == z.locate(q1)[0]
    # FIFO: two pages on the same list, the OLDER one is taken first
    x1, x2 = z.malloc(2900), z.malloc(2900)  # 2932 -> 46 chunks each, two new pages
    y = z.malloc(500)  # 532 -> 9 chunks; candidates list 48 (Q2) and 46 (x1, x2): 48 first
    assert z.locate(y)[0] == z.locate(q2)[0]
    y2 = z.malloc(500)
    assert z.locate(y2)[0] == z.locate(x1)[0]  # head = oldest
    del big, x2, small


# ----------------------------------------------------------------- reference model
class RefZbud:
    """Straightforward transcription of zbud.md §3–§5 with Python lists (slow)."""

    def __init__(self, page_size=4096):
        self.cs = page_size // 64
        self.max = page_size - 2 * self.cs
        self.unbuddied = [[] for _ in range(63)]
        self.buddied = []
        self.pages = {}  # id -> [first, last]
        self.next_id = 0

    def _list(self, pid):
        f, l = self.pages[pid]
        return self.buddied if f and l else self.unbuddied[63 - f - l]

    def malloc(self, size):
        chunks = -(-size // self.cs)
        for i in range(chunks, 63):
            if self.unbuddied[i]:
                pid = self.unbuddied[i].pop(0)
                slot = 0 if self.pages[pid][0] == 0 else 1
                break
        else:
            pid = self.next_id
            self.next_id += 1
            self.pages[pid] = [0, 0]
            slot = 0
        self.pages[pid][slot] = chunks
        self._list(pid).insert(0, pid)
        return pid, slot

    def free(self, ref):
        pid, slot = ref
        self._list(pid).remove(pid)
        self.pages[pid][slot] = 0
        if self.pages[pid] == [0, 0]:
            del self.pages[pid]
        else:
            self._list(pid).insert(0, pid)


class ZbudMachine(RuleBasedStateMachine):
    """zbud against RefZbud: same placement (page identity up to renaming), same pages."""

    def __init__(self):
        super().__init__()
        self.z = Zbud()
        self.ref = RefZbud()
        self.live: list[tuple[int, tuple[int, int]]] = []
        self.page_map: dict[int, int] = {}  # ref page id -> model page id

    @rule(size=st.one_of(st.integers(1, 3968), st.sampled_from([1, 64, 65, 1984, 2048, 3904, 3968])))
    def malloc(self, size):
        h = self.z.malloc(size)
        ref = self.ref.malloc(size)
        page, offset, _ = self.z.locate(h)
        expected = self.page_map.setdefault(ref[0], page[0])
        assert page[0] == expected
        assert (offset == 64) == (ref[1] == 0)
        self.live.append((h, ref))

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def free(self, data):
        h, ref = self.live.pop(data.draw(st.integers(0, len(self.live) - 1)))
        self.z.free(h)
        self.ref.free(ref)
        if ref[0] not in self.ref.pages:
            del self.page_map[ref[0]]

    @rule(size=st.integers(3969, 5000))
    def too_large(self, size):
        with pytest.raises(A.ObjectTooLarge):
            self.z.malloc(size)

    @invariant()
    def consistent(self):
        self.z.check_invariants()
        assert self.z.pool_pages() == len(self.ref.pages)
        w = self.z.waste_breakdown()
        assert sum(w.values()) == self.z.pool_pages() * 4096 and min(w.values()) >= 0


class ZcacheMachine(AllocatorMachine):
    def make_allocator(self):
        return ZbudZcache(ZbudZcacheParams())

    @rule(size=st.integers(1, 4000))
    def malloc(self, size):
        self.live.append(self.alloc.malloc(size))

    @invariant()
    def at_most_two_per_page(self):
        assert self.alloc.pool_pages() <= self.alloc.n_objects <= 2 * self.alloc.pool_pages()


TestZbudMachine = ZbudMachine.TestCase
TestZbudMachine.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)
TestZcacheMachine = ZcacheMachine.TestCase
TestZcacheMachine.settings = settings(max_examples=40, stateful_step_count=60, deadline=None)


@pytest.mark.parametrize("cls", [Zbud, ZbudZcache])
def test_16k_pages_random_ops(cls):
    z = cls(cls.Params(page_size=16384))
    random_ops(z, lambda rng: rng.randint(1, z.max_alloc_bytes), seed=4)
