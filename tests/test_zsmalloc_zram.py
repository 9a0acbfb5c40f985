"""zram.md §7 worked example end to end: current zram over zsmalloc (chain 8)."""

from __future__ import annotations

from allocators.frontends import PageKind, create_frontend
from allocators.zsmalloc import Zsmalloc

FIELDS = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_used_max", "same_pages",
          "huge_pages", "huge_pages_since")


def row(fe):
    c = fe.counters()
    return tuple(c[f] for f in FIELDS)


def test_zram_worked_example():
    fe = create_frontend("zram", Zsmalloc())
    assert fe.huge_threshold == 3625
    fe.store(0, 100, PageKind.DATA)
    assert fe.allocator.pool_pages() == 7
    assert row(fe) == (4096, 100, 28672, 28672, 0, 0, 0)
    fe.store(1, 4096, PageKind.SAME)
    assert row(fe) == (8192, 100, 28672, 28672, 1, 0, 0)
    fe.store(2, 3700, PageKind.DATA)
    assert row(fe) == (12288, 4196, 32768, 32768, 1, 1, 1)
    fe.store(2, 3700, PageKind.DATA)
    assert row(fe) == (12288, 4196, 32768, 36864, 1, 1, 2)
    fe.free(0)
    assert row(fe) == (8192, 4096, 4096, 36864, 1, 1, 2)
    c = fe.counters()
    mm_stat = [c[k] for k in ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit",
                              "mem_used_max", "same_pages", "pages_compacted", "huge_pages",
                              "huge_pages_since")]
    assert mm_stat == [8192, 4096, 4096, 0, 36864, 1, 0, 1, 2]
    assert c["notify_free"] == 1


def test_zram_worked_example_with_limit():
    fe = create_frontend("zram:mem_limit_pages=8", Zsmalloc())
    fe.store(0, 100, PageKind.DATA)
    fe.store(1, 4096, PageKind.SAME)
    fe.store(2, 3700, PageKind.DATA)
    fe.store(2, 3700, PageKind.DATA)  # 9 pages > 8: fails, old data kept
    assert fe.rejected_pages == 1
    assert row(fe) == (12288, 4196, 32768, 36864, 1, 1, 1)
    assert fe.allocator.pool_pages() == 8


def test_zram_chain4_threshold():
    fe = create_frontend("zram", Zsmalloc(Zsmalloc.Params(chain_size=4)))
    assert fe.huge_threshold == 3257
    fe.store(0, 3257, PageKind.DATA)
    assert fe.counters()["huge_pages"] == 1
    fe.store(1, 3256, PageKind.DATA)
    assert fe.counters()["huge_pages"] == 1 and fe.allocator.pool_pages() == 1 + 4


def test_zram_free_first_variant():
    """zram with 'free slot memory early during write' (~6.14-6.16): the overwrite of step 4
    frees the old huge object first, so mem_used_max stays at 8 pages."""
    fe = create_frontend("zram:free_first=true", Zsmalloc())
    fe.store(0, 100, PageKind.DATA)
    fe.store(1, 4096, PageKind.SAME)
    fe.store(2, 3700, PageKind.DATA)
    fe.store(2, 3700, PageKind.DATA)
    assert row(fe) == (12288, 4196, 32768, 32768, 1, 1, 2)
    limited = create_frontend("zram:free_first=true:mem_limit_pages=7", Zsmalloc())
    limited.store(0, 100, PageKind.DATA)
    limited.store(2, 3700, PageKind.DATA)  # 8 pages > 7: refused, slot empty
    assert limited.rejected_pages == 1 and 2 not in limited.slots
    limited.store(0, 3700, PageKind.DATA)  # frees slot 0 first (pool 0), then 1 page: fits
    assert limited.rejected_pages == 1 and limited.allocator.pool_pages() == 1
