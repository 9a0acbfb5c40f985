"""zblock: block-type tables of reference/zblock.md §2, the size → type rule, the worked
pool example (§6) and a Hypothesis state machine with invariants after every step."""

from __future__ import annotations

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import rule

import allocators as A
from allocators.zblock import Zblock, ZblockParams
from tests.machines import AllocatorMachine

TABLE_A = """0:120/32/1 1:184/22/1 2:232/17/1 3:312/13/1 4:368/11/1 5:448/9/1 6:504/8/1
7:576/14/2 8:680/12/2 9:736/11/2 10:816/10/2 11:904/9/2 12:1016/8/2
13:1088/15/4 14:1168/14/4 15:1256/13/4 16:1360/12/4 17:1480/11/4 18:1632/10/4 19:1816/9/4 20:2040/8/4
21:2176/15/8 22:2336/14/8 23:2512/13/8 24:2728/12/8 25:2976/11/8 26:3272/10/8 27:3632/9/8 28:4672/7/8"""
TABLE_B = """0:64/63/1 1:120/32/1 2:192/21/1 3:264/15/1 4:336/12/1 5:400/10/1 6:448/9/1 7:504/8/1
8:560/29/4 9:624/13/2 10:672/6/1 11:736/11/2 12:808/5/1 13:904/9/2 14:1016/8/2 15:1128/29/8
16:1256/13/4 17:1360/12/4 18:1480/11/4 19:1632/10/4 20:1816/9/4 21:1920/17/8 22:2040/8/4 23:2176/15/8
24:2336/14/8 25:2512/13/8 26:2720/6/4 27:2968/11/8 28:3272/10/8 29:3632/9/8 30:4080/4/4"""


def parse(table: str) -> list[tuple[int, int, int]]:
    return [tuple(int(x) for x in e.split(":")[1].split("/")) for e in table.split()]


def table_of(z: Zblock) -> list[tuple[int, int, int]]:
    return [(s, n, 1 << o) for s, n, o in zip(z.slot_sizes, z.slots_per_block, z.order)]


def test_tables_match_the_reference():
    assert table_of(Zblock(ZblockParams(variant="A"))) == parse(TABLE_A)
    assert table_of(Zblock(ZblockParams(variant="B"))) == parse(TABLE_B)
    c = parse(TABLE_B)
    c[20] = (1808, 9, 4)
    assert table_of(Zblock(ZblockParams(variant="C"))) == c
    for v in "ABC":
        sizes = Zblock(ZblockParams(variant=v)).slot_sizes
        assert sizes == sorted(set(sizes))
    with pytest.raises(ValueError):
        ZblockParams(variant="D")
    with pytest.raises(ValueError):
        ZblockParams(page_size=16384)


def test_type_lookup_variant_a():
    z = Zblock()
    got = {s: z.block_type(s) for s in (1, 100, 119, 120, 183, 184, 1000, 3000, 3632, 4096)}
    assert got == {1: 0, 100: 0, 119: 0, 120: 1, 183: 1, 184: 2, 1000: 12, 3000: 26, 3632: 28, 4096: 28}
    with pytest.raises(A.InvalidSize):
        z.malloc(0)
    with pytest.raises(A.ObjectTooLarge):
        z.malloc(4097)
    z.malloc(4096)
    assert z.pool_pages() == 8


def test_type_lookup_variant_b():
    z = Zblock(ZblockParams(variant="B"))
    assert (z.block_type(63), z.block_type(64), z.block_type(4079)) == (0, 1, 30)
    for size in (4080, 4095):
        with pytest.raises(A.ObjectTooLarge):
            z.malloc(size)
    with pytest.raises(A.InvalidSize):
        z.malloc(4096)
    assert z.pool_pages() == 0


def test_golden_pool_pages_variant_a():
    z = Zblock()
    x0 = z.malloc(100)
    z.malloc(120)
    z.malloc(3000)
    assert z.pool_pages() == 10
    xs = [x0] + [z.malloc(100) for _ in range(31)]
    bx = xs[0] >> 6
    assert [h & 63 for h in xs] == list(range(32)) and {h >> 6 for h in xs} == {bx}
    assert z._lists.owner[bx] == z.n_types + 0  # full_list
    y0 = z.malloc(100)
    by = y0 >> 6
    assert by != bx and y0 & 63 == 0 and z.pool_pages() == 11
    z.free(xs[5])
    assert list(z._lists.iter_list(0)) == [by, bx]  # X at the TAIL
    y1 = z.malloc(100)
    assert y1 == (by << 6) | 1
    z.free(y0)
    z.free(y1)
    assert z.pool_pages() == 10 and list(z._lists.iter_list(0)) == [bx]
    rows = {r.class_index: r.to_row() for r in z.class_stats()}
    assert rows[0]["blocks"] == 1 and rows[0]["obj_used"] == 31 and rows[26]["pages_used"] == 8
    z.check_invariants()


def test_lowest_free_slot_is_reused():
    z = Zblock()
    hs = [z.malloc(200) for _ in range(5)]
    z.free(hs[3])
    z.free(hs[1])
    assert z.malloc(200) & 63 == 1
    assert z.malloc(200) & 63 == 3


class ZblockMachine(AllocatorMachine):
    def make_allocator(self):
        return Zblock(ZblockParams(variant="B"))

    @rule(size=st.integers(1, 4079))
    def malloc(self, size):
        self.live.append(self.alloc.malloc(size))

    @rule(size=st.sampled_from([63, 64, 120, 200, 504, 505, 4079]), n=st.integers(1, 40))
    def malloc_many(self, size, n):
        self.live.extend(self.alloc.malloc(size) for _ in range(n))


TestZblockMachine = ZblockMachine.TestCase
TestZblockMachine.settings = settings(max_examples=50, stateful_step_count=50, deadline=None)
