"""The current zram frontend (Linux 6.x, drivers/block/zram/zram_drv.c).

Rules (../shared/reference/zram.md §1–§4), per written page:

1. Same-filled (every machine word equal, zero or not): free the old contents, keep the
   fill value in the slot; no allocation.  ``same_pages += 1``; counted in
   ``orig_data_size`` (the code, not the documentation).
2. Else ``comp_len >= huge_threshold`` (zsmalloc's ``huge_class_size``, 3625 at chain 8):
   ``malloc(page_size)`` and store the page whole (``huge_pages``, ``huge_pages_since``);
   ``compr_data_size += page_size``.
3. Else ``malloc(comp_len)``; ``compr_data_size += comp_len``.
4. On both allocating paths the NEW object is allocated BEFORE the old one is freed
   (``free_first=true``: freed first, as ~6.14-6.16 kernels do);
   ``mem_used_max`` is sampled right after each such allocation (and never on frees).
5. With ``mem_limit_pages`` set, an allocation that leaves the pool above the limit is
   freed again and the write fails (old contents kept; counted as a rejected page).
6. Swap-free / discard frees the slot at once.  (The newest kernels free lazily from a
   worker and may miss a free under lock contention; this model applies frees at once.)
"""

from __future__ import annotations

from dataclasses import dataclass

from allocators.frontends.base import Frontend, FrontendParams, PageKind, Slot


@dataclass(frozen=True)
class ZramParams(FrontendParams):
    """``huge_threshold``: compressed length (bytes) from which a page is stored whole;
    0 = the allocator's ``huge_class_size`` (zsmalloc), or a default-chain zsmalloc's for
    other allocators (zram reads it once from zsmalloc).
    ``mem_limit_pages``: zram's ``mem_limit`` in pages, 0 = none.
    ``free_first``: free the slot's old contents BEFORE the new page is compressed and
    allocated (kernels with "zram: free slot memory early during write", commit
    71268035f5d73, ~v6.14, until "zram: fix slot write race condition", Sep 2025, ~v6.17 and
    stable backports; release placement UNVERIFIED).  A write refused by the limit then
    leaves the slot empty.  Default False: allocate first (zram.md; measured on 6.18)."""

    huge_threshold: int = 0
    mem_limit_pages: int = 0
    free_first: bool = False


def default_huge_threshold(allocator) -> int:
    """zsmalloc's ``huge_class_size`` for the allocator's page size."""
    value = getattr(allocator, "huge_class_size", None)
    if value:
        return int(value)
    from allocators import REGISTRY

    zs = REGISTRY.get("zsmalloc")
    if zs is not None:
        return int(zs(zs.Params(page_size=allocator.page_size)).huge_class_size)
    return allocator.page_size


class Zram(Frontend):
    name = "zram"
    Params = ZramParams
    models = "Linux 6.x drivers/block/zram/zram_drv.c (zram_write_page, slot_free, mm_stat)"

    def __init__(self, allocator, params: ZramParams | None = None) -> None:
        super().__init__(allocator, params)
        p: ZramParams = self.params
        self.huge_threshold = p.huge_threshold or default_huge_threshold(allocator)
        self.max_used_pages = 0
        self.huge_pages_since = 0
        self.notify_free = 0

    def store(self, page: int, size: int, kind: PageKind) -> None:
        self.pages_in += 1
        if self.params.free_first:
            self._release(page)
        if kind != PageKind.DATA or size == 0:
            self._release(page)
            self._hold(page, Slot.ZERO if kind != PageKind.SAME else Slot.SAME, -1, 0)
            return
        huge = size >= self.huge_threshold
        nbytes = self.page_size if huge else size
        handle = self._try_malloc(nbytes)
        if handle is None:
            return
        alloced = self.allocator.pool_pages()
        if alloced > self.max_used_pages:
            self.max_used_pages = alloced
        limit = self.params.mem_limit_pages
        if limit and alloced > limit:
            self.allocator.free(handle)
            self.rejected_pages += 1
            return
        self._release(page)
        if huge:
            self.huge_pages_since += 1
            self._hold(page, Slot.HUGE, handle, nbytes)
        else:
            self._hold(page, Slot.NORMAL, handle, nbytes)

    def free(self, page: int) -> None:
        self.notify_free += 1
        self._release(page)

    def counters(self) -> dict[str, int]:
        """``mm_stat`` fields in order (bytes, except the counts), then ``notify_free``."""
        ps = self.page_size
        n = self.n_by_slot
        return {
            "orig_data_size": len(self.slots) * ps,
            "compr_data_size": self.compressed_bytes,
            "mem_used_total": self.allocator.pool_pages() * ps,
            "mem_limit": self.params.mem_limit_pages * ps,
            "mem_used_max": self.max_used_pages * ps,
            "same_pages": n[Slot.ZERO] + n[Slot.SAME],
            "pages_compacted": self.pages_compacted,
            "huge_pages": n[Slot.HUGE],
            "huge_pages_since": self.huge_pages_since,
            "notify_free": self.notify_free,
        }
