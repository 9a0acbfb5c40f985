"""The 3.x-era zram (drivers/staging/zram/zram_drv.c): xvmalloc (2.6.34–3.3) and the first
staging-zsmalloc zram (3.4), with the ~3.10 rules as an option.

Rules per written page (../shared/reference/zram.md §6), era ``3.4`` (default; the rules of
2.6.34–3.3 with xvmalloc and of 3.4–3.5 with staging zsmalloc are the same):

1. **Free first**: whatever the slot holds is freed before anything else (``zram_free_page``
   at the top of the write).
2. Only an all-zero page (``PageKind.ZERO``) is special: ``pages_zero += 1``, nothing
   allocated, not in ``pages_stored``.  A same-filled NON-zero page (``PageKind.SAME``) is
   compressed like any other page: its trace ``size`` is used.
3. ``size > max_zpage_bytes`` (``PAGE_SIZE / 4 * 3`` = 3072; strictly greater): the page is
   kept raw in a separate page from ``alloc_page`` OUTSIDE the allocator's pool
   (``Slot.RAW``); ``pages_expand += 1``; ``compr_size += PAGE_SIZE``.  Both the xvmalloc
   zram and the 3.4 zsmalloc zram did this (verified in the 2012 conversion patch and in
   "zram: remove special handle of uncompressed page", June 2012, whose removed lines show
   ``alloc_page`` + ``pages_expand`` alongside ``zs_malloc``).
4. Else ``malloc(size)`` (``struct zobj_header`` is empty, so exactly the compressed size);
   a refusal is a failed write (``failed_writes``) and the slot stays EMPTY (its old contents
   were already freed in step 1).
5. ``compr_size += size``; ``pages_stored += 1``; ``good_compress += 1`` if ``size <=
   PAGE_SIZE / 2``.

``mem_used_total = (allocator pool pages + pages_expand) * PAGE_SIZE``: ``pool_pages()``
returns that sum.

Era ``3.10`` (staging zram with ``zram_meta``, ~3.9–3.10, torvalds/linux 01731cf2): zero
pages as above (free old, no allocation); otherwise ``size > max_zpage_bytes`` becomes
``malloc(PAGE_SIZE)`` inside the pool (``Slot.HUGE``, ``bad_compress``); the NEW object is
allocated BEFORE the old one is freed, and a failed allocation keeps the old contents.
``mem_used_total`` = the allocator's pool only.

A trace size <= 0 on a non-zero page is treated as a zero page (there is nothing to
compress).  Any registered allocator works behind this frontend (same rules); a size the
allocator refuses counts as a failed write.  ``peak_pool_pages`` is a model figure (not a
3.x counter): the largest ``pool_pages()`` seen right after any allocation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from allocators.frontends.base import Frontend, FrontendParams, PageKind, Slot

ERAS = ("3.4", "3.10")
# enum members bound once (hot path)
_ZERO_PAGE = PageKind.ZERO
_ZERO, _HUGE, _NORMAL, _RAW = Slot.ZERO, Slot.HUGE, Slot.NORMAL, Slot.RAW


@dataclass(frozen=True)
class ZramLegacyParams(FrontendParams):
    """``era``: ``"3.4"`` (free first, raw pages outside the pool; 2.6.34–3.5) or
    ``"3.10"`` (allocate first, ``malloc(PAGE_SIZE)`` in the pool; ~3.9–3.10).
    ``max_zpage_bytes``: incompressible threshold, a page is raw/huge when its compressed size
    is strictly greater; 0 = ``page_size // 4 * 3`` (3072, mainline 3.x ``max_zpage_size``;
    later values such as ``PAGE_SIZE / 8 * 7`` are vendor-only, UNVERIFIED for mainline)."""

    era: str = "3.4"
    max_zpage_bytes: int = 0

    def __post_init__(self) -> None:
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {', '.join(ERAS)}, got {self.era!r}")
        if self.max_zpage_bytes < 0:
            raise ValueError("max_zpage_bytes must be >= 0")


class ZramLegacy(Frontend):
    name = "zram-legacy"
    Params = ZramLegacyParams
    models: ClassVar[str] = ("Linux 2.6.34–3.5 drivers/staging/zram/zram_drv.c (xvmalloc / staging "
                             "zsmalloc; era=3.10: the ~3.9–3.10 staging zram)")

    def __init__(self, allocator, params: ZramLegacyParams | None = None) -> None:
        super().__init__(allocator, params)
        p: ZramLegacyParams = self.params
        self.max_zpage_bytes = p.max_zpage_bytes or self.page_size // 4 * 3
        self.alloc_first = p.era == "3.10"
        self.notify_free = 0
        self.peak_pool_pages = 0

    def store(self, page: int, size: int, kind: PageKind) -> None:
        self.pages_in += 1
        zero = kind == _ZERO_PAGE or size <= 0
        if self.alloc_first:
            self._store_alloc_first(page, size, zero)
            return
        self._release(page)
        if zero:
            self._hold(page, _ZERO, -1, 0)
            return
        if size > self.max_zpage_bytes:
            self._hold(page, _RAW, -1, self.page_size)
        else:
            handle = self._try_malloc(size)
            if handle is None:
                return
            self._hold(page, _NORMAL, handle, size)
        self._sample_peak()

    def _store_alloc_first(self, page: int, size: int, zero: bool) -> None:
        if zero:
            self._release(page)
            self._hold(page, _ZERO, -1, 0)
            return
        huge = size > self.max_zpage_bytes
        nbytes = self.page_size if huge else size
        handle = self._try_malloc(nbytes)
        if handle is None:
            return
        self._sample_peak()
        self._release(page)
        self._hold(page, _HUGE if huge else _NORMAL, handle, nbytes)

    def _sample_peak(self) -> None:
        used = self.allocator.pool_pages() + self.n_by_slot[_RAW]
        if used > self.peak_pool_pages:
            self.peak_pool_pages = used

    def free(self, page: int) -> None:
        """``swap_slot_free_notify``: frees the slot at once."""
        self.notify_free += 1
        self._release(page)

    def pool_pages(self) -> int:
        """``mem_used_total`` in pages: the allocator's pool plus raw pages beside it."""
        return self.allocator.pool_pages() + self.n_by_slot[Slot.RAW]

    def counters(self) -> dict[str, int]:
        """sysfs files (``orig_data_size``, ``compr_data_size``, ``mem_used_total`` in bytes)
        then ``struct zram_stats`` fields: ``pages_zero``, ``pages_stored``,
        ``pages_expand`` (era 3.4) or ``bad_compress`` (era 3.10), ``good_compress``,
        ``failed_writes``, ``notify_free``."""
        n = self.n_by_slot
        ps = self.page_size
        stored = n[Slot.NORMAL] + n[Slot.RAW] + n[Slot.HUGE]
        good = sum(1 for slot, _, nbytes in self.slots.values()
                   if slot == Slot.NORMAL and nbytes <= ps // 2)
        out = {
            "orig_data_size": stored * ps,
            "compr_data_size": self.compressed_bytes,
            "mem_used_total": self.pool_pages() * ps,
            "pages_zero": n[Slot.ZERO],
            "pages_stored": stored,
        }
        if self.alloc_first:
            out["bad_compress"] = n[Slot.HUGE]
        else:
            out["pages_expand"] = n[Slot.RAW]
        out.update(good_compress=good, failed_writes=self.rejected_pages, notify_free=self.notify_free)
        return out
