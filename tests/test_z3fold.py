"""z3fold: the worked example of reference/z3fold.md §8, limits, compaction cases and a
Hypothesis state machine with invariants after every step."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

import allocators as A
from allocators.z3fold import Z3fold, Z3foldParams
from tests.machines import AllocatorMachine, random_ops


def chunks_range(z: Z3fold, h: int) -> tuple[int, int, int]:
    """(page, start chunk, end chunk) of a live object."""
    (page,), offset, size = z.locate(h)
    start = offset // z.chunk_bytes
    return page, start, start + -(-size // z.chunk_bytes)


def owner(z: Z3fold, page: int) -> int:
    return z._lists.owner[page]


def test_golden_worked_example():
    z = Z3fold()
    assert (z.zhdr_bytes, z.zhdr_chunks, z.nchunks, z.headless_above) == (128, 2, 62, 3904)
    a = z.malloc(1000)
    p1, s, e = chunks_range(z, a)
    assert (s, e) == (2, 18) and owner(z, p1) == 46 and z.pool_pages() == 1
    b = z.malloc(500)
    assert chunks_range(z, b) == (p1, 56, 64) and z.locate(b)[1] == 3584 and owner(z, p1) == 38
    c = z.malloc(600)
    assert chunks_range(z, c) == (p1, 18, 28) and owner(z, p1) == -1
    d = z.malloc(2000)
    p2, s, e = chunks_range(z, d)
    assert p2 != p1 and (s, e) == (2, 34) and owner(z, p2) == 30 and z.pool_pages() == 2
    z.free(a)  # in-page case (c): middle slides up against LAST
    assert chunks_range(z, c) == (p1, 46, 56) and owner(z, p1) == 44
    z.free(b)  # P1 holds only C: moved into P2 LAST, P1 freed
    assert chunks_range(z, c) == (p2, 54, 64) and z.locate(c)[1] == 3456
    assert z._foreign[p2] == 1 and owner(z, p2) == 20 and z.pool_pages() == 1
    z.check_invariants()
    rows = {r.class_index: r.to_row() for r in z.class_stats()}
    assert rows == {20: {"class": 20, "size": 20 * 64, "obj_allocated": 3, "obj_used": 2, "pages_used": 1,
                         "pages_per_unit": 1, "objs_per_unit": 3, "free_chunks": 20, "unbuddied": 1,
                         "full": 0, "headless": 0}}
    z.free(c)  # foreign handle freed
    assert z._foreign[p2] == 0
    z.free(d)
    assert z.pool_pages() == 0
    z.check_invariants()


def test_limits_and_headless_pages():
    z = Z3fold()
    h = z.malloc(3904)  # 61 chunks, normal page
    assert z.locate(h)[1] == 128 and owner(z, z.locate(h)[0][0]) == 1
    hl = z.malloc(3905)
    assert z.locate(hl)[1] == 0 and owner(z, z.locate(hl)[0][0]) == -1
    z.malloc(4096)
    with pytest.raises(A.ObjectTooLarge):
        z.malloc(4097)
    assert z.pool_pages() == 3 and z.n_headless == 2
    z.free(hl)
    assert z.pool_pages() == 2
    z.check_invariants()
    small_hdr = Z3fold(Z3foldParams(header_struct_bytes=64))
    assert (small_hdr.nchunks, small_hdr.headless_above) == (63, 3968)
    lockdep = Z3fold(Z3foldParams(header_struct_bytes=168))
    assert (lockdep.zhdr_chunks, lockdep.nchunks, lockdep.headless_above) == (3, 61, 3840)
    big = Z3fold(Z3foldParams(page_size=16384))
    assert (big.chunk_bytes, big.zhdr_bytes, big.nchunks, big.headless_above) == (256, 256, 63, 15872)


def test_in_page_compaction_middle_alone_becomes_first():
    z = Z3fold()
    a, b, c = z.malloc(1000), z.malloc(500), z.malloc(600)  # FIRST, LAST, MIDDLE in P1
    z.malloc(3904)  # P2 (unbuddied[1]): too small for anything moved later
    z.free(b)  # P1: FIRST + MIDDLE; gap between them 0 -> nothing moves
    p1 = z.locate(a)[0][0]
    assert chunks_range(z, c) == (p1, 18, 28)
    z.free(a)  # C alone: single-buddy move finds no page (only list 1) -> in-page (a): FIRST
    assert chunks_range(z, c) == (p1, 2, 12)
    assert owner(z, p1) == 62 - 10
    z.check_invariants()


def test_in_page_compaction_slides_middle_down():
    z = Z3fold()
    a = z.malloc(1000)  # FIRST [2, 18)
    b = z.malloc(500)  # LAST [56, 64)
    c = z.malloc(200)  # MIDDLE [18, 22)
    d = z.malloc(300)  # needs a page: P2
    z.free(a)  # P1: MIDDLE + LAST, gap after middle 64-8-22 = 34 -> middle slides up to 52
    p1 = z.locate(b)[0][0]
    assert chunks_range(z, c) == (p1, 52, 56)
    e = z.malloc(900)  # 15 chunks: P1 on list 50 (before = 50), P2 on list 57 -> P1 FIRST
    assert chunks_range(z, e) == (p1, 2, 17)
    z.free(b)  # P1: FIRST + MIDDLE, gap 52 - 17 = 35 >= 3 -> middle slides down to 17
    assert chunks_range(z, c) == (p1, 17, 21)
    z.check_invariants()
    del d


def test_foreign_pages_are_not_emptied_by_single_buddy_moves():
    z = Z3fold()
    a, b = z.malloc(1000), z.malloc(1000)  # P1 FIRST, LAST
    c = z.malloc(3000)  # P2 FIRST (47 chunks)
    z.free(a)  # P1 holds only b: moved into... P2 has 15 free < 16 -> stays, P1 on list 46
    p1 = z.locate(b)[0][0]
    assert z.locate(b)[0][0] == p1 and owner(z, p1) == 46
    d = z.malloc(600)  # best fit: P2 (15 free, 10 chunks) -> P2 LAST
    z.free(c)  # P2 holds only d: moved to P1 (list 46), P1 gets a foreign handle
    assert z.locate(d)[0][0] == p1 and z._foreign[p1] == 1 and z.pool_pages() == 1
    z.free(b)  # P1 holds only the foreign d: exempt from single-buddy moving
    assert z.locate(d)[0][0] == p1 and z.pool_pages() == 1
    z.check_invariants()


def test_deferred_compaction_runs_before_the_next_alloc():
    z = Z3fold(Z3foldParams(compaction="before_next_alloc"))
    a, b = z.malloc(1000), z.malloc(1000)  # P1 FIRST + LAST, on unbuddied[30]
    d = z.malloc(3000)  # P2 FIRST (47), unbuddied[15]
    p1 = z.locate(a)[0][0]
    z.free(d)  # P2 empty: freed at once even though nothing runs later
    assert z.pool_pages() == 1
    z.free(a)  # P1 was listed: work queued, P1 keeps its stale slot on unbuddied[30]
    assert z._needs[p1] == 1 and owner(z, p1) == 30
    z.free(b)  # last object: page freed, queued work cancelled
    assert z.pool_pages() == 0
    z.check_invariants()
    x, y, w = z.malloc(1000), z.malloc(500), z.malloc(600)  # full page Q (on no list)
    v = z.malloc(2000)  # R
    q, r = z.locate(x)[0][0], z.locate(v)[0][0]
    z.free(x)  # Q unlisted: compacted synchronously (middle slides up), relisted
    assert not z._needs[q] and owner(z, q) == 44
    z.free(y)  # Q listed: queued; pool still has Q and R
    assert z._needs[q] and z.pool_pages() == 2
    z.check_invariants()
    z.malloc(100)  # flush first: w moves into R, Q freed; then 100 B lands by best fit
    assert z.locate(w)[0][0] == r and z.pool_pages() == 1
    z.check_invariants()


class Z3foldMachine(AllocatorMachine):
    compaction = "immediate"

    def make_allocator(self):
        return Z3fold(Z3foldParams(compaction=self.compaction))

    @rule(size=st.one_of(st.integers(1, 4096), st.sampled_from([64, 128, 1000, 1984, 3904, 3905, 4096])))
    def malloc(self, size):
        self.live.append(self.alloc.malloc(size))

    @rule(size=st.integers(1, 700))
    def malloc_small(self, size):
        self.live.append(self.alloc.malloc(size))


class Z3foldDeferredMachine(Z3foldMachine):
    compaction = "before_next_alloc"


TestZ3foldMachine = Z3foldMachine.TestCase
TestZ3foldMachine.settings = settings(max_examples=80, stateful_step_count=60, deadline=None)
TestZ3foldDeferredMachine = Z3foldDeferredMachine.TestCase
TestZ3foldDeferredMachine.settings = settings(max_examples=60, stateful_step_count=60, deadline=None)


@pytest.mark.parametrize("compaction", ["immediate", "before_next_alloc"])
def test_16k_pages_random_ops(compaction):
    z = Z3fold(Z3foldParams(page_size=16384, compaction=compaction))
    random_ops(z, lambda rng: rng.choice([rng.randint(1, 16384), rng.randint(1, 3000)]), seed=3)
