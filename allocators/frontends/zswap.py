"""zswap frontends: what a swapped-out page becomes before it reaches the zpool allocator.

Two eras (reference/zswap.md), one shared store path, one registered class each:

``zswap`` — current zswap, ~6.5 .. 6.14 (checked against Debian 6.12.117), per store:

1. Pool limit (``total_ram_pages`` > 0 only): ``zswap_check_limits``: with
   ``max = total_ram_pages * max_pool_percent // 100`` and
   ``thr = max * accept_threshold_percent // 100``: ``pool_pages >= max`` →
   ``pool_limit_hit += 1``, refused, and refusals continue until ``pool_pages <= thr``.
2. All-zero pages (kind ZERO) never reach zswap: the swap layer's zero bitmap keeps them.
   This model holds them as zero slots (``zero_pages`` in the summary) that cost no pool
   pages and are NOT counted in ``stored_pages``; the old entry at that offset is freed.
   (Debian 6.12.117 ``swap_writepage`` sets the zeromap bit without touching zswap; a
   resident entry at that offset does not occur there because loads are exclusive, so
   freeing it is this model's reading of "the page's contents were replaced".)
3. Everything else, non-zero same-filled pages (kind SAME) included, is compressed; the
   trace gives the compressed length ``dlen`` (a trace without it, size 0, is refused with
   ``SpecError``: e.g. ``kernel:ALG`` sizes, where zram kept such pages as same-filled).
   ``dlen > compress_bound_pages * page_size`` → the compressor fails → ``reject_compress_fail`` (Debian 6.12's bounded lzo: bound one
   page; 2 = the 2 × PAGE_SIZE buffer of compressors that never fail).
4. ``zpool_malloc(dlen)`` — exactly the compressed length, no header.  ``-ENOSPC``
   (``ObjectTooLarge``) → ``reject_compress_poor``; any other refusal →
   ``reject_alloc_fail``.
5. The new entry is stored, THEN the old entry at that offset is freed (``xa_store``
   returns it).  A refused store also erases the old entry (``xa_erase`` on the reject
   path): the page is then absent.

``zswap-legacy`` — 4.14 .. 6.4 (checked against Debian 6.1.192), per store:

0. The frontswap layer (``__frontswap_store``, mm/frontswap.c, until frontswap was removed
   in ~6.5) invalidates an entry already at that offset BEFORE calling zswap: an overwrite
   frees the old object first, and a refused store leaves the page absent.  zswap's own
   duplicate handling (``duplicate_entry``) therefore never triggers here (stays 0).
1. Pool limit (``total_ram_pages`` > 0 only): ``zswap_is_full``:
   ``max_pool_pages < pool_pages`` → ``pool_limit_hit += 1``, refused; then refused until
   ``zswap_can_accept``: ``total * accept // 100 * max_pool_percent // 100 > pool_pages``.
2. Same-filled pages (kinds ZERO and SAME: one repeated machine word, any value) are kept
   in the entry without an allocation: ``same_filled_pages``, counted in ``stored_pages``.
3. The compressor output is bounded to ``compress_bound_pages * page_size``; a larger
   output is a compression error: the page is refused with NO counter (6.1).
4. ``zpool_malloc(header + dlen)`` with ``header = zswap_header_bytes`` (8, the
   ``swp_entry_t`` of ``struct zswap_header``) for evictable pools (allocators with the
   ``"evictable"`` capability: zbud, z3fold), 0 otherwise (zsmalloc before it gained
   writeback, ideal).  ``-ENOSPC`` → ``reject_compress_poor``; other → ``reject_alloc_fail``.
5. Insert the entry.

Both: ``free(page)`` frees the entry at once (the swap slot was freed: ``zswap_invalidate``;
or, current era only, an exclusive load; 6.1 loads keep the entry until the slot is freed);
entry metadata (``struct zswap_entry``) is not part of ``pool_total_size``; writeback and
the shrinker are not modelled (a refused store simply goes to the swap device).
Summary: ``pool_pages = pool_total_size / page_size``; ``rejected_pages`` counts every
refused store (limit, compression failure, allocator refusal); ``compressed_bytes`` sums
``dlen`` of the live entries (the header excluded).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from allocators.base import AllocatorError, ObjectTooLarge
from allocators.frontends.base import Frontend, FrontendParams, PageKind, Slot
from allocators.spec import SpecError


@dataclass(frozen=True)
class ZswapParams(FrontendParams):
    """``compress_bound_pages``: compressor output room in pages (1 = Debian 6.1 / 6.12
    bounded lzo; 2 = the 2 × PAGE_SIZE buffer of recent zswap with compressors that write
    whatever they produce).  ``total_ram_pages``: RAM for the pool limit, 0 = no limit (as in
    the oracle runs with ``max_pool_percent=100``).  ``max_pool_percent`` (default 20) and
    ``accept_threshold_percent`` (default 90): the module parameters."""

    compress_bound_pages: int = 1
    total_ram_pages: int = 0
    max_pool_percent: int = 20
    accept_threshold_percent: int = 90

    def __post_init__(self) -> None:
        if self.compress_bound_pages < 1:
            raise ValueError("compress_bound_pages must be >= 1")


@dataclass(frozen=True)
class ZswapLegacyParams(ZswapParams):
    """``zswap_header_bytes``: bytes zswap puts in front of each object for evictable
    pools (``struct zswap_header`` = one ``swp_entry_t``: 8 on 64-bit)."""

    zswap_header_bytes: int = 8


class _ZswapBase(Frontend):
    """The shared store path; ``legacy`` selects the era's rules (module docstring)."""

    legacy: ClassVar[bool]
    Params = ZswapParams

    def __init__(self, allocator, params: ZswapParams | None = None) -> None:
        super().__init__(allocator, params)
        p: ZswapParams = self.params
        self.compress_bound_bytes = p.compress_bound_pages * self.page_size
        self.header_bytes = 0
        if self.legacy and "evictable" in allocator.capabilities:
            self.header_bytes = p.zswap_header_bytes
        self.reached_full = False
        self.pool_limit_hit = 0
        self.reject_compress_poor = 0
        self.reject_compress_fail = 0
        self.reject_alloc_fail = 0
        self.compress_fail_uncounted = 0

    # ------------------------------------------------------------------ store
    def store(self, page: int, size: int, kind: PageKind) -> None:
        self.pages_in += 1
        if self.legacy:
            self._release(page)  # __frontswap_store: invalidate a duplicate first
        if self._limit_refuses():
            self._refuse(page)
            return
        if kind == PageKind.ZERO or (self.legacy and kind == PageKind.SAME):
            self._release(page)
            self._hold(page, Slot.ZERO if kind == PageKind.ZERO else Slot.SAME, -1, 0)
            return
        if size <= 0:
            raise SpecError(f"{self.name}: page {page} ({kind.name}) has no compressed size in this trace; "
                            "current zswap compresses same-filled pages: use a userspace codec")
        if size > self.compress_bound_bytes:
            if self.legacy:
                self.compress_fail_uncounted += 1
            else:
                self.reject_compress_fail += 1
            self._refuse(page)
            return
        try:
            handle = self.allocator.malloc(self.header_bytes + size)
        except ObjectTooLarge:
            self.reject_compress_poor += 1
            self._refuse(page)
            return
        except AllocatorError:
            self.reject_alloc_fail += 1
            self._refuse(page)
            return
        self._release(page)  # current: xa_store returns the old entry, freed after
        self._hold(page, Slot.NORMAL, handle, size)

    def _refuse(self, page: int) -> None:
        """A refused store: counted; the old entry is gone (current: ``xa_erase`` on the
        reject path; legacy: frontswap invalidated it before the store)."""
        self.rejected_pages += 1
        self._release(page)

    def _limit_refuses(self) -> bool:
        """The pool-limit check of the era (no limit when ``total_ram_pages`` is 0)."""
        p: ZswapParams = self.params
        if not p.total_ram_pages:
            return False
        cur = self.allocator.pool_pages()
        max_pages = p.total_ram_pages * p.max_pool_percent // 100
        if self.legacy:
            if max_pages < cur:
                self.pool_limit_hit += 1
                self.reached_full = True
                return True
            if self.reached_full:
                accept = p.total_ram_pages * p.accept_threshold_percent // 100 * p.max_pool_percent // 100
                if not accept > cur:
                    return True
                self.reached_full = False
            return False
        if cur >= max_pages:
            self.pool_limit_hit += 1
            self.reached_full = True
        elif self.reached_full and cur <= max_pages * p.accept_threshold_percent // 100:
            self.reached_full = False
        return self.reached_full

    # --------------------------------------------------------------- results
    def stored_pages(self) -> int:
        """``stored_pages``: zswap entries (legacy: same-filled entries included; current:
        zero pages are not zswap entries)."""
        return len(self.slots) - (0 if self.legacy else self.n_by_slot[Slot.ZERO])

    def counters(self) -> dict[str, int]:
        """debugfs ``/sys/kernel/debug/zswap`` files of the era (pool_total_size in bytes),
        plus ``compress_fail_uncounted`` for legacy (refusals 6.1 counts nowhere)."""
        out = {
            "pool_limit_hit": self.pool_limit_hit,
            "reject_reclaim_fail": 0,
            "reject_alloc_fail": self.reject_alloc_fail,
            "reject_kmemcache_fail": 0,
            "reject_compress_poor": self.reject_compress_poor,
        }
        if self.legacy:
            out["written_back_pages"] = 0
            out["duplicate_entry"] = 0
            out["pool_total_size"] = self.allocator.pool_pages() * self.page_size
            out["stored_pages"] = self.stored_pages()
            out["same_filled_pages"] = self.n_by_slot[Slot.ZERO] + self.n_by_slot[Slot.SAME]
            out["compress_fail_uncounted"] = self.compress_fail_uncounted
        else:
            out["reject_compress_fail"] = self.reject_compress_fail
            out["written_back_pages"] = 0
            out["pool_total_size"] = self.allocator.pool_pages() * self.page_size
            out["stored_pages"] = self.stored_pages()
        return out


class Zswap(_ZswapBase):
    """Current zswap (~6.5 .. 6.14); rules in the module docstring."""

    name = "zswap"
    legacy = False
    Params = ZswapParams
    models = "Linux ~6.5-6.14 mm/zswap.c (zswap_store; checked against Debian 6.12.117)"


class ZswapLegacy(_ZswapBase):
    """zswap 4.14 .. 6.4 (``zswap_frontswap_store``); rules in the module docstring."""

    name = "zswap-legacy"
    legacy = True
    Params = ZswapLegacyParams
    models = "Linux 4.14-6.4 mm/zswap.c (zswap_frontswap_store; checked against Debian 6.1.192)"
