"""zbud: two compressed objects ("buddies") per page.

Two models, registered separately:

* ``zbud`` — ``mm/zbud.c`` (Linux 3.11 .. ~6.14), reference/zbud.md §1–§6.
* ``zbud-zcache`` — the 2012 zcache "zbud" (``drivers/staging/zcache/zbud.c`` @ 22b751c3),
  reference/zbud.md §8.

Units: chunks are ``chunk_bytes`` long; every ``*_bytes`` is bytes, ``*_pages`` pages.

``mm/zbud.c`` (chunk = page_size / 64, i.e. CHUNK_SHIFT = PAGE_SHIFT - 6; 64 B at 4 KiB,
256 B at 16 KiB):

* chunk 0 of each page is the ``zbud_header``; the FIRST buddy starts at chunk 1, the LAST
  buddy is right-justified; ``free chunks = NCHUNKS - first - last`` with NCHUNKS = 63;
* ``chunks = ceil(size / chunk_bytes)``; sizes above ``page_size - 2 * chunk_bytes``
  (3968 B at 4 KiB = 62 chunks) are refused (``-ENOSPC``);
* allocation: the HEAD page of the first non-empty ``unbuddied[i]`` for
  ``i = chunks .. 62`` ascending (best fit, LIFO), FIRST slot if it is empty else LAST;
  otherwise a new page (FIRST).  The page then goes to the HEAD of ``unbuddied[free]`` if one
  slot is still empty, else to the HEAD of ``buddied``;
* free: clear the slot, unlink, free the page at once when both slots are empty, else HEAD
  of ``unbuddied[free]``.  No compaction, no empty-page cache;
* pool size = ``pages_nr`` pages.

Handles are ``page_id * 2 + slot`` (slot 0 = FIRST / zbud0, 1 = LAST / zbud1), like the
kernel's handle = page address + offset; a page id is reused after its page is freed.
"""

from __future__ import annotations

from dataclasses import dataclass

from allocators.base import (
    Allocator,
    AllocatorParams,
    ClassStats,
    Handle,
    InvalidHandle,
    InvariantViolation,
)
from allocators.pagelists import NodeLists

NCHUNKS_ORDER = 6
"""log2 of the number of chunks per page (mm/zbud.c: chunk = page_size >> 6)."""


class _TwoBuddyPool(Allocator):
    """Shared machinery of both zbud models: page ids on ``NodeLists``, per-slot chunk and
    size arrays indexed by handle (``page * 2 + slot``), the live-page counter."""

    capabilities = frozenset({"classes"})

    def __init__(self, params: AllocatorParams | None, n_lists: int, chunk_bytes: int) -> None:
        super().__init__(params)
        self.chunk_bytes = chunk_bytes
        self.chunk_shift = chunk_bytes.bit_length() - 1
        self._lists = NodeLists(n_lists)
        # per handle (page * 2 + slot): chunks used by that slot (0 = empty) and object size
        self._chunks: list[int] = [0] * (2 * n_lists)
        self._size: list[int] = [0] * (2 * n_lists)
        self.pages_nr = 0
        self._used_chunks = 0

    def _new_page(self) -> int:
        page = self._lists.new_node()
        if 2 * page == len(self._chunks):
            self._chunks += (0, 0)
            self._size += (0, 0)
        self.pages_nr += 1
        return page

    def _slot_of(self, handle: Handle) -> int:
        """Validate a live handle and return it as an index (raises InvalidHandle)."""
        if (
            type(handle) is not int
            or handle < 2 * self._lists.n_lists
            or handle >= len(self._chunks)
            or not self._chunks[handle]
        ):
            raise InvalidHandle(f"{self.name}: unknown handle {handle!r}")
        return handle

    def _pool_pages(self) -> int:
        return self.pages_nr

    def _live_pages(self) -> list[int]:
        ch = self._chunks
        return [p for p in range(self._lists.n_lists, len(ch) // 2) if ch[2 * p] or ch[2 * p + 1]]

    def _check_common(self) -> list[int]:
        """Recount pages, objects, bytes and chunks from the slot arrays; return live pages."""
        problems = self._lists.check()
        pages = self._live_pages()
        ch, sz = self._chunks, self._size
        n_obj = used = nbytes = 0
        for p in pages:
            for h in (2 * p, 2 * p + 1):
                if ch[h]:
                    n_obj += 1
                    used += ch[h]
                    nbytes += sz[h]
                    if ch[h] != self._chunks_for(sz[h]):
                        problems.append(f"handle {h}: {ch[h]} chunks for size {sz[h]}")
                elif sz[h]:
                    problems.append(f"handle {h}: size without chunks")
        if len(pages) != self.pages_nr or self._lists.n_nodes() != self.pages_nr:
            problems.append(f"pages_nr {self.pages_nr}, live pages {len(pages)}, ids {self._lists.n_nodes()}")
        if n_obj != self.n_objects or nbytes != self.stored_bytes or used != self._used_chunks:
            problems.append("object/byte/chunk totals disagree with the slots")
        if problems:
            raise InvariantViolation(f"{self.name}: " + "; ".join(problems[:5]))
        return pages

    def _chunks_for(self, size: int) -> int:
        raise NotImplementedError

    list_key: str = ""
    """What the unbuddied list index counts (``free_chunks`` for zbud, ``chunks_used``
    for the zcache variant)."""

    def class_stats(self) -> list[ClassStats]:
        """One row for the buddied pages (class 0), then one per non-empty unbuddied list
        ``i`` (``size`` = i chunks in bytes), with the list occupancy columns."""
        L = self._lists
        key = self.list_key
        rows = []
        nb = L.count[self.buddied]
        if nb:
            rows.append(ClassStats(0, 0, 2 * nb, 2 * nb, nb, 1, 2, {key: 0, "unbuddied": 0, "buddied": nb}))
        for i in range(1, self.nchunks):
            n = L.count[i]
            if n:
                rows.append(ClassStats(i, i * self.chunk_bytes, 2 * n, n, n, 1, 2, {key: i, "unbuddied": n, "buddied": 0}))
        return rows

    def _free(self, handle: Handle) -> int:
        """Clear the slot and unlink its page; ``_relist`` puts a page that still holds
        its buddy back on a list, an empty page is freed at once."""
        h = self._slot_of(handle)
        ch = self._chunks
        size = self._size[h]
        self._used_chunks -= ch[h]
        ch[h] = 0
        self._size[h] = 0
        page = h >> 1
        self._lists.remove(page)
        if ch[h ^ 1]:
            self._relist(page, ch[2 * page], ch[2 * page + 1])
        else:
            self._lists.release_node(page)
            self.pages_nr -= 1
        return size

    def _relist(self, page: int, first_chunks: int, last_chunks: int) -> None:
        """Put ``page``, now holding one buddy, on the list the variant's free path uses."""
        raise NotImplementedError


@dataclass(frozen=True)
class ZbudParams(AllocatorParams):
    """``pre_fix_max_size``: accept sizes up to ``page_size - chunk`` (4032 B, 63 chunks) as
    the very first submitted mm/zbud.c did, before Heesub Shin's July-2013 fix.  Whether
    that check shipped in a release is UNVERIFIED; default False = 3968 B (62 chunks), the
    check of every mm/zbud.c we could read."""

    pre_fix_max_size: bool = False


class Zbud(_TwoBuddyPool):
    """``mm/zbud.c`` (3.11 .. ~6.14); see the module docstring for the rules.

    ``class_stats()``: one row per non-empty list: ``class`` = free chunks ``i`` of
    ``unbuddied[i]`` (``size`` = i * chunk bytes, one object per page), and a row with
    ``class`` 0 for ``buddied`` (late kernels alias ``buddied`` onto ``unbuddied[0]``);
    ``extra``: ``free_chunks``, ``unbuddied`` / ``buddied`` page counts.
    """

    name = "zbud"
    list_key = "free_chunks"
    Params = ZbudParams
    capabilities = frozenset({"classes", "evictable"})
    models = "Linux 3.11-6.14 mm/zbud.c (zbud_alloc/zbud_free, unbuddied lists, pages_nr)"

    def __init__(self, params: ZbudParams | None = None) -> None:
        chunk_bytes = (params.page_size if params else 4096) >> NCHUNKS_ORDER
        self.nchunks = (1 << NCHUNKS_ORDER) - 1  # (PAGE_SIZE - ZHDR_SIZE_ALIGNED) >> CHUNK_SHIFT
        self.buddied = self.nchunks  # list id of `buddied` (unbuddied[0..62] are 0..62)
        super().__init__(params, self.nchunks + 1, chunk_bytes)
        self.zhdr_bytes = chunk_bytes
        p: ZbudParams = self.params
        self._max_bytes = self.page_size - self.zhdr_bytes - (0 if p.pre_fix_max_size else chunk_bytes)

    @property
    def max_alloc_bytes(self) -> int:
        """``PAGE_SIZE - ZHDR_SIZE_ALIGNED - CHUNK_SIZE`` (3968 at 4 KiB)."""
        return self._max_bytes

    def _chunks_for(self, size: int) -> int:
        return (size + self.chunk_bytes - 1) >> self.chunk_shift

    def _malloc(self, size: int) -> Handle:
        chunks = (size + self.chunk_bytes - 1) >> self.chunk_shift
        L = self._lists
        ch = self._chunks
        i = L.lowest_nonempty_from(chunks, self.nchunks)
        if i >= 0:
            page = L.next[i]
            L.remove(page)
            h = 2 * page if not ch[2 * page] else 2 * page + 1
        else:
            page = self._new_page()
            h = 2 * page
        ch[h] = chunks
        self._size[h] = size
        self._used_chunks += chunks
        first, last = ch[2 * page], ch[2 * page + 1]
        if first and last:
            L.add_head(self.buddied, page)
        else:
            L.add_head(self.nchunks - first - last, page)
        return h

    def _relist(self, page: int, first_chunks: int, last_chunks: int) -> None:
        """zbud_free: head of the unbuddied list of its free chunks."""
        self._lists.add_head(self.nchunks - first_chunks - last_chunks, page)

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        h = self._slot_of(handle)
        page = h >> 1
        offset = self.zhdr_bytes if not h & 1 else self.page_size - self._chunks[h] * self.chunk_bytes
        return (page,), offset, self._size[h]

    def waste_breakdown(self) -> dict[str, int]:
        """``metadata_bytes``: the header chunk of every page; ``internal_frag_bytes``:
        object tails up to their last chunk; ``external_frag_bytes``: free chunks (the gap
        between the buddies, or the empty slot)."""
        used = self._used_chunks * self.chunk_bytes
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": 0,
            "internal_frag_bytes": used - self.stored_bytes,
            "external_frag_bytes": self.pages_nr * (self.page_size - self.zhdr_bytes) - used,
            "metadata_bytes": self.pages_nr * self.zhdr_bytes,
        }

    def _check_invariants(self) -> None:
        pages = self._check_common()
        ch, L = self._chunks, self._lists
        problems = []
        for p in pages:
            first, last = ch[2 * p], ch[2 * p + 1]
            lst = L.owner[p]
            if first and last:
                if lst != self.buddied or first + last > self.nchunks:
                    problems.append(f"page {p}: two buddies ({first}+{last} chunks) on list {lst}")
            elif first + last + lst != self.nchunks:
                # the list index is the page's free-chunk count: first + last + free = 63
                problems.append(f"page {p}: first {first} + last {last} + free {lst} != {self.nchunks}")
        if L.count[0]:
            problems.append("unbuddied[0] is used")
        if problems:
            raise InvariantViolation("zbud: " + "; ".join(problems[:5]))


@dataclass(frozen=True)
class ZbudZcacheParams(AllocatorParams):
    """``tmem_handle_bytes``: the ``struct tmem_handle`` stored in front of every object
    (oid 24 + index 4 + pool_id 2 + client_id 2 = 32 bytes in zcache's tmem.h)."""

    tmem_handle_bytes: int = 32


class ZbudZcache(_TwoBuddyPool):
    """The 2012 zcache ``zbud`` (zcache2, ~3.8–3.10), reference/zbud.md §8.

    * 64-byte chunks at any page size (CHUNK_SHIFT 6), NCHUNKS = page_size / 64,
      MAX_CHUNK = NCHUNKS - 1; no in-page header (metadata overlays ``struct page``);
    * each object is stored with a 32-byte ``tmem_handle`` in front:
      ``nchunks = ceil((size + 32) / 64)``; the largest payload is
      ``MAX_CHUNK * 64 - 32`` (4000 B at 4 KiB);
    * ``unbuddied[i]`` holds pages whose one buddy uses ``i`` chunks; ``zbud_match_prep``
      scans ``i = 64 - nchunks`` DOWN to 1 (the fullest page that still fits) and takes the
      list HEAD = the OLDEST page (all insertions are ``list_add_tail``); zbud0 if it is
      empty, else zbud1; the page moves to the tail of ``buddied``;
    * no match: a new page, zbud0, tail of ``unbuddied[nchunks]``;
    * free: the page is freed when the other buddy is empty, else it moves to the tail of
      ``unbuddied[chunks(other)]``;
    * pool size = ``zbud_eph_pageframes + zbud_pers_pageframes``.  This model keeps one
      list set (persistent pages, frontswap); the ephemeral (cleancache) set is identical
      and separate.  ``trylock`` never fails here (single-threaded).

    ``class_stats()``: one row per non-empty ``unbuddied[i]`` (``class`` = chunks used,
    ``size`` = i * 64) and a row with ``class`` 0 for ``buddied``.
    """

    name = "zbud-zcache"
    list_key = "chunks_used"
    Params = ZbudZcacheParams
    models = "Linux 3.8-3.10 drivers/staging/zcache/zbud.c (zcache2 zbud_match_prep/zbud_create_prep)"

    CHUNK_SHIFT = 6

    def __init__(self, params: ZbudZcacheParams | None = None) -> None:
        page_size = params.page_size if params else 4096
        self.nchunks = page_size >> self.CHUNK_SHIFT
        self.max_chunk = self.nchunks - 1
        self.buddied = self.nchunks  # list id; unbuddied[0..NCHUNKS-1] are 0..NCHUNKS-1
        super().__init__(params, self.nchunks + 1, 1 << self.CHUNK_SHIFT)
        p: ZbudZcacheParams = self.params
        self.tmem_bytes = p.tmem_handle_bytes

    @property
    def max_alloc_bytes(self) -> int:
        """``zbud_max_buddy_size() = MAX_CHUNK * 64 - sizeof(tmem_handle)`` (4000)."""
        return (self.max_chunk << self.CHUNK_SHIFT) - self.tmem_bytes

    def _chunks_for(self, size: int) -> int:
        return (size + self.tmem_bytes + 63) >> 6

    def _malloc(self, size: int) -> Handle:
        nchunks = (size + self.tmem_bytes + 63) >> 6
        L = self._lists
        ch = self._chunks
        i = L.highest_nonempty_in(1, self.max_chunk - nchunks + 1)
        if i >= 0:
            page = L.next[i]  # head = oldest
            L.remove(page)
            h = 2 * page if not ch[2 * page] else 2 * page + 1
            L.add_tail(self.buddied, page)
        else:
            page = self._new_page()
            h = 2 * page
            L.add_tail(nchunks, page)
        ch[h] = nchunks
        self._size[h] = size
        self._used_chunks += nchunks
        return h

    def _relist(self, page: int, first_chunks: int, last_chunks: int) -> None:
        """zcache zbud: tail (FIFO) of the list of the chunks the remaining buddy uses."""
        self._lists.add_tail(first_chunks + last_chunks, page)

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        """Offset and length of the payload (after the tmem handle)."""
        h = self._slot_of(handle)
        start = 0 if not h & 1 else self.page_size - (self._chunks[h] << self.CHUNK_SHIFT)
        return (h >> 1,), start + self.tmem_bytes, self._size[h]

    def waste_breakdown(self) -> dict[str, int]:
        """``header_bytes``: the 32-byte tmem handle of every object;
        ``internal_frag_bytes``: object tails up to their last chunk;
        ``external_frag_bytes``: free chunks; no in-page metadata."""
        used = self._used_chunks << self.CHUNK_SHIFT
        handles = self.n_objects * self.tmem_bytes
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": handles,
            "internal_frag_bytes": used - handles - self.stored_bytes,
            "external_frag_bytes": self.pages_nr * self.page_size - used,
            "metadata_bytes": 0,
        }

    def _check_invariants(self) -> None:
        pages = self._check_common()
        ch, L = self._chunks, self._lists
        problems = []
        for p in pages:
            a, b = ch[2 * p], ch[2 * p + 1]
            if a + b > self.nchunks:
                problems.append(f"page {p}: {a} + {b} chunks overlap")
            want = self.buddied if a and b else a + b
            if L.owner[p] != want:
                problems.append(f"page {p}: on list {L.owner[p]}, expected {want}")
        if problems:
            raise InvariantViolation("zbud-zcache: " + "; ".join(problems[:5]))
