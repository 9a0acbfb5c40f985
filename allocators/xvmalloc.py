"""xvmalloc (drivers/staging/zram/xvmalloc.c, Linux 2.6.33–3.3).

Rules (../shared/reference/xvmalloc.md, checked against torvalds/linux
``drivers/staging/zram/xvmalloc.c`` @ 020abf03), with ``P = page_size``:

* Every block, allocated or free, is a 4-byte header plus ``size`` payload bytes; blocks
  tile each page exactly and never span pages.  A new page (``grow_pool``) is one free
  block of ``P - 4`` bytes.
* Free lists ``i = 0 .. (P - 36) // 8`` (508 at 4 KiB) hold free blocks of size
  ``[32 + 8i, 39 + 8i]``; a free block is listed only when ``size >= 32``, at index
  ``get_index_for_insert(s) = (min(s, P - 4) & ~7) - 32 >> 3`` (rounds DOWN).  Insertion is
  at the list HEAD.  A bitmap has bit ``i`` set iff list ``i`` is non-empty.
* ``xv_malloc(n)``: ``a = ALIGN(n, 4)``; search from ``get_index(a) = ALIGN(max(a, 32), 8)
  - 32 >> 3`` (rounds UP) for the smallest non-empty list and take its HEAD (a fitting
  block on a lower list is never found).  Nothing found: grow the pool by one page and
  search again; still nothing (``n`` in ``P-7 .. P-4``: search index past the last list)
  -> ``AllocationFailed`` with the new page kept, as the kernel does.  The allocation takes
  the FRONT of the block; the remainder ``r = size - a`` (if > 0) becomes a free block of
  ``r - 4`` bytes (possibly 0), listed only when ``r - 4 >= 32``, else an unlisted fragment
  that still merges later.
* ``xv_free``: merge with a free next block, then with a free previous block (immediately,
  both sides, fragments included); if the merged block is ``P - 4`` bytes the page is
  released at once, else the block is listed (if ``>= 32``) at the head.
* Pool size = pages held (``xv_get_total_size_bytes`` = ``total_pages * P``).

The kernel's PREV_FREE flag and prev-offset field always describe the neighbour exactly
(the kernel keeps them in step on every split, exact fit and merge), so the model finds a
free previous neighbour through a map from a free block's END to its start instead.

Checked op for op (placement and pool size after every call) against the kernel's own
code compiled in userspace: tests/test_xvmalloc_kernel_replay.py.

Implementation: a block is named by ``key = page_id << shift | offset`` with
``shift = P.bit_length()``; ``_free_start[key] = size`` for every free block and
``_free_end[end_key] = key`` with ``end_key = key + 4 + size``; ``_sizes[handle] = n``
for allocated blocks (``handle = key + 4``, the kernel's returned offset).  Each free list
is a dict whose last key is the head.  All operations are O(1) dict work plus one
big-int bit search.
"""

from __future__ import annotations

from allocators.base import (
    AllocationFailed,
    Allocator,
    AllocatorParams,
    Handle,
    InvalidHandle,
    InvariantViolation,
)

HEADER_BYTES = 4
"""XV_ALIGN: block header size and allocation alignment."""
MIN_ALLOC_BYTES = 32
"""XV_MIN_ALLOC_SIZE: smallest listed free block; the search index never goes below it."""
FL_DELTA_SHIFT = 3
"""Free lists are 8 (1 << 3) bytes apart."""


class Xvmalloc(Allocator):
    name = "xvmalloc"
    Params = AllocatorParams
    capabilities = frozenset()
    models = "Linux 2.6.33–3.3 drivers/staging/zram/xvmalloc.c (xv_malloc, xv_free, find_block)"

    def __init__(self, params: AllocatorParams | None = None) -> None:
        super().__init__(params)
        ps = self.page_size
        self.max_block_bytes = ps - HEADER_BYTES
        self.n_free_lists = (self.max_block_bytes - MIN_ALLOC_BYTES) // 8 + 1
        self._shift = ps.bit_length()
        self._off_mask = (1 << self._shift) - 1
        self._lists: list[dict[int, None]] = [{} for _ in range(self.n_free_lists)]
        self._bitmap = 0
        self._free_start: dict[int, int] = {}
        self._free_end: dict[int, int] = {}
        self._sizes: dict[Handle, int] = {}
        self._next_page = 0
        self._total_pages = 0

    @property
    def max_alloc_bytes(self) -> int:
        """XV_MAX_ALLOC_SIZE = page_size - 4 (4092); sizes ``P-7 .. P-4`` still fail after
        growing the pool (``AllocationFailed``)."""
        return self.max_block_bytes

    # ------------------------------------------------------------------ helpers
    def search_index(self, aligned_bytes: int) -> int:
        """``get_index``: round UP to 8, minimum 32."""
        s = aligned_bytes if aligned_bytes > MIN_ALLOC_BYTES else MIN_ALLOC_BYTES
        return ((s + 7) & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT

    def insert_index(self, size: int) -> int:
        """``get_index_for_insert``: round DOWN to 8 (size is at most ``P - 4``)."""
        return (size & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT

    def _insert(self, key: int, size: int) -> None:
        """Record a free block; list it at the head when ``size >= 32``."""
        self._free_start[key] = size
        self._free_end[key + HEADER_BYTES + size] = key
        if size >= MIN_ALLOC_BYTES:
            i = (size & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT
            self._lists[i][key] = None
            self._bitmap |= 1 << i

    def _unlist(self, key: int, size: int) -> None:
        """Unlink a listed free block (``size >= 32``) from its list."""
        i = (size & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT
        lst = self._lists[i]
        del lst[key]
        if not lst:
            self._bitmap &= ~(1 << i)

    def _grow(self) -> None:
        page = self._next_page
        self._next_page = page + 1
        self._total_pages += 1
        self._insert(page << self._shift, self.max_block_bytes)

    # ------------------------------------------------------------- allocator API
    def _malloc(self, size: int) -> Handle:
        a = (size + 3) & ~3
        # search_index(a), inlined
        idx = ((a + 7 if a > MIN_ALLOC_BYTES else MIN_ALLOC_BYTES) & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT
        found = self._bitmap >> idx
        if not found:
            self._grow()
            found = self._bitmap >> idx
            if not found:
                raise AllocationFailed(f"xvmalloc: no free list at or above index {idx} for size {size}")
        # take the head (last key) of the first non-empty list at or above idx
        i = idx + (found & -found).bit_length() - 1
        lst = self._lists[i]
        key = lst.popitem()[0]
        if not lst:
            self._bitmap ^= 1 << i
        free_start = self._free_start
        block = free_start.pop(key)
        end = key + HEADER_BYTES + block
        rest = block - a
        if rest:  # the remainder keeps the block's end (inlined _insert)
            rkey = key + HEADER_BYTES + a
            rsize = rest - HEADER_BYTES
            free_start[rkey] = rsize
            self._free_end[end] = rkey
            if rsize >= MIN_ALLOC_BYTES:
                j = (rsize & ~7) - MIN_ALLOC_BYTES >> FL_DELTA_SHIFT
                self._lists[j][rkey] = None
                self._bitmap |= 1 << j
        else:
            del self._free_end[end]
        handle = key + HEADER_BYTES
        self._sizes[handle] = size
        return handle

    def _free(self, handle: Handle) -> int:
        try:
            size = self._sizes.pop(handle)
        except (KeyError, TypeError):
            raise InvalidHandle(f"xvmalloc: unknown handle {handle!r}") from None
        free_start, free_end = self._free_start, self._free_end
        key = handle - HEADER_BYTES
        end = handle + ((size + 3) & ~3)
        # merge a free next block (never at the page end: no block starts at offset P)
        nsize = free_start.pop(end, None)
        if nsize is not None:
            if nsize >= MIN_ALLOC_BYTES:
                self._unlist(end, nsize)
            end += HEADER_BYTES + nsize
            del free_end[end]
        # merge a free previous block: the one whose end is this block's start
        prev = free_end.pop(key, None)
        if prev is not None:
            psize = free_start.pop(prev)
            if psize >= MIN_ALLOC_BYTES:
                self._unlist(prev, psize)
            key = prev
        block = end - key - HEADER_BYTES
        if block == self.max_block_bytes:
            self._total_pages -= 1
        else:
            self._insert(key, block)
        return size

    def _pool_pages(self) -> int:
        return self._total_pages

    # ----------------------------------------------------------------- reporting
    def free_bytes_by_kind(self) -> dict[str, int]:
        """Where ``pool_bytes - stored_bytes`` goes: ``listed_free`` (free blocks on a
        list, header included), ``fragments`` (unlisted free blocks < 32 B, header
        included), ``headers`` (4 B per allocated block), ``alignment`` (``ALIGN(n, 4) -
        n`` per allocated block)."""
        listed = fragments = 0
        for size in self._free_start.values():
            if size >= MIN_ALLOC_BYTES:
                listed += size + HEADER_BYTES
            else:
                fragments += size + HEADER_BYTES
        aligned = sum((n + 3) & ~3 for n in self._sizes.values())
        return {"listed_free": listed, "fragments": fragments,
                "headers": HEADER_BYTES * len(self._sizes), "alignment": aligned - self.stored_bytes}

    def waste_breakdown(self) -> dict[str, int]:
        """``header_bytes``: 4 B per allocated block; ``internal_frag_bytes``: alignment of
        allocated blocks to 4 B; ``external_frag_bytes``: every free block, listed or not,
        its own header included; no metadata in the pool."""
        kinds = self.free_bytes_by_kind()
        return {"payload_bytes": self.stored_bytes, "header_bytes": kinds["headers"],
                "internal_frag_bytes": kinds["alignment"],
                "external_frag_bytes": kinds["listed_free"] + kinds["fragments"], "metadata_bytes": 0}

    def free_list_occupancy(self) -> dict[int, int]:
        """Free-list index -> number of blocks on it (non-empty lists only)."""
        return {i: len(lst) for i, lst in enumerate(self._lists) if lst}

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        if handle not in self._sizes:
            raise InvalidHandle(f"xvmalloc: unknown handle {handle!r}")
        return (handle >> self._shift,), handle & self._off_mask, self._sizes[handle]

    def blocks(self, page: int) -> list[tuple[int, int, bool]]:
        """``(offset, size field, is_free)`` of every block of ``page`` in address order
        (for tests and pictures; O(blocks in the pool))."""
        lo, hi = page << self._shift, (page + 1) << self._shift
        out = [(k & self._off_mask, s, True) for k, s in self._free_start.items() if lo <= k < hi]
        out += [((h - HEADER_BYTES) & self._off_mask, s, False) for h, s in self._sizes.items() if lo <= h < hi]
        return sorted(out)

    def _check_invariants(self) -> None:
        """Recount from the block maps: blocks tile every page, no two free blocks touch,
        list membership <=> free and >= 32 (on the right list), bitmap <=> non-empty
        lists, page count = pages with blocks, end map = start map."""
        ps = self.page_size
        per_page: dict[int, list[tuple[int, int, bool]]] = {}
        for key, size in self._free_start.items():
            per_page.setdefault(key >> self._shift, []).append((key & self._off_mask, size, True))
        for handle, n in self._sizes.items():
            key = handle - HEADER_BYTES
            per_page.setdefault(key >> self._shift, []).append((key & self._off_mask, (n + 3) & ~3, False))
        if len(per_page) != self._total_pages:
            raise InvariantViolation(f"xvmalloc: {len(per_page)} pages hold blocks, total_pages {self._total_pages}")
        for page, blocks in per_page.items():
            blocks.sort()
            pos, prev_free = 0, False
            for off, size, is_free in blocks:
                if off != pos:
                    raise InvariantViolation(f"xvmalloc: page {page} not tiled at offset {pos} (next block {off})")
                if is_free and prev_free:
                    raise InvariantViolation(f"xvmalloc: adjacent free blocks at page {page} offset {off}")
                pos, prev_free = off + HEADER_BYTES + size, is_free
            if pos != ps:
                raise InvariantViolation(f"xvmalloc: page {page} blocks end at {pos}, not {ps}")
        if {k + HEADER_BYTES + s: k for k, s in self._free_start.items()} != self._free_end:
            raise InvariantViolation("xvmalloc: end map disagrees with the free blocks")
        listed: dict[int, int] = {}
        for i, lst in enumerate(self._lists):
            if bool(lst) != bool(self._bitmap >> i & 1):
                raise InvariantViolation(f"xvmalloc: bitmap bit {i} disagrees with list")
            for key in lst:
                listed[key] = i
        if self._bitmap >> self.n_free_lists:
            raise InvariantViolation("xvmalloc: bitmap bits past the last list")
        expected = {k: self.insert_index(s) for k, s in self._free_start.items() if s >= MIN_ALLOC_BYTES}
        if listed != expected:
            raise InvariantViolation("xvmalloc: list membership != free blocks of >= 32 bytes")
        if sum(self._sizes.values()) != self.stored_bytes or len(self._sizes) != self.n_objects:
            raise InvariantViolation("xvmalloc: handle table disagrees with counters")
