"""z3fold: up to three compressed objects per page (``mm/z3fold.c``, 4.8 .. ~6.14).

Reference: ../shared/reference/z3fold.md (normative), checked against torvalds/linux
``mm/z3fold.c`` @ 014284a0 (the 5.x–6.4 form; Debian 6.1.192 has the same logic).

Geometry (chunk = page_size / 64, i.e. CHUNK_SHIFT = PAGE_SHIFT - 6):

* ``ZHDR_SIZE_ALIGNED = round_up(header_struct_bytes, chunk)``: 88-byte header → 128 B =
  2 chunks at 4 KiB (1 chunk = 256 B at 16 KiB); ``TOTAL_CHUNKS = 64``,
  ``NCHUNKS = TOTAL_CHUNKS - ZHDR_CHUNKS`` (62 at 4 KiB);
* FIRST starts right after the header, MIDDLE at ``start_middle``, LAST is right-justified;
* ``size > page_size`` → ``-ENOSPC``; ``size > page_size - ZHDR_SIZE_ALIGNED - chunk``
  (3904 at 4 KiB) → a HEADLESS page of its own (freed with its object).

Allocation (``z3fold_alloc`` / ``__z3fold_alloc``): ``chunks = ceil(size / chunk)``; the HEAD
of the first non-empty ``unbuddied[i]``, ``i = chunks .. NCHUNKS-1`` (best fit, LIFO), is
unlinked; ``get_free_buddy``: with a middle object FIRST if it is empty and
``chunks <= start_middle - ZHDR_CHUNKS``, else LAST if empty; without one FIRST, else LAST,
else MIDDLE (``start_middle = first_chunks + ZHDR_CHUNKS``).  No page found → a new page,
FIRST.  ``add_to_unbuddied``: if a slot is still empty, HEAD of
``unbuddied[num_free_chunks]`` where ``num_free_chunks`` = ``NCHUNKS - first - last``
without a middle object, else the larger of the gap before it (FIRST empty) and after it
(LAST empty).

Free (``z3fold_free``): clear the slot; an empty page is freed at once (``pages_nr -= 1``;
the kernel's ``__free_page`` is deferred to a worker but the count drops immediately);
otherwise ``do_compact_page``:

1. a page with ONE object and no foreign handles tries ``compact_single_buddy``: the
   object (first present of FIRST, MIDDLE, LAST) moves into a page found by the same
   search as an allocation (never a new page), placed by ``get_free_buddy``; that page
   gets ``foreign_handles += 1`` (decremented when the moved object is freed; such pages
   are never emptied this way themselves) and is re-listed; the source page is freed;
   if the found page cannot take it (``get_free_buddy`` fails) it is re-listed and the
   move is abandoned;
2. otherwise ``z3fold_compact_page`` moves the middle object (only if there is one):
   alone → it becomes FIRST; FIRST used, LAST empty, gap >= BIG_CHUNK_GAP (3) → slides
   down to ``first + ZHDR_CHUNKS``; LAST used, FIRST empty, gap >= 3 → slides up against
   LAST; then ``add_to_unbuddied``.

When compaction runs (``compaction``, UNVERIFIED: it depends on the scheduler): the kernel
compacts synchronously only when the page was on no list (e.g. full); a page that was
listed sets NEEDS_COMPACTING and queues its work on a single-threaded workqueue, keeping
its stale list position until the worker runs (a second free meanwhile queues nothing).
``immediate`` (default, as the reference's worked example) runs every compaction inside
``free``.  ``before_next_alloc`` queues listed pages and runs the queue in order at the
start of the next ``malloc``; a search that meets a queued page unlinks and skips it
(``__z3fold_alloc``), its work re-lists it later; ``pool_pages()`` between a free and the
next malloc then still counts pages a queued single-buddy move would free.  The model has
ONE CPU (one set of unbuddied lists; the kernel's
per-CPU lists and the exact-size fallback on other CPUs are not modelled).  Reclaim
(``z3fold_reclaim_page``), migration, the LRU and mapping (``MIDDLE_CHUNK_MAPPED``) are not
modelled: nothing is mapped between operations.

Pool size = ``pages_nr``: normal plus headless pages.  Handle slot structs
(``z3fold_buddy_slots``) are kernel memory outside the pool and not counted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import pairwise

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
BIG_CHUNK_GAP = 3
"""Minimum gap (chunks) for z3fold_compact_page to slide the middle object."""

COMPACTION_TIMINGS = ("immediate", "before_next_alloc")
HEADLESS, FIRST, MIDDLE, LAST = 0, 1, 2, 3
_FREE_ID, _NORMAL, _HEADLESS_PAGE = 0, 1, 2


@dataclass(frozen=True)
class Z3foldParams(AllocatorParams):
    """``header_struct_bytes``: ``sizeof(struct z3fold_header)``; the in-page header is
    that rounded up to a chunk.  Default 88 = Debian 6.1 x86_64 without lock debugging
    (BTF of z3fold.ko; confirmed against the 6.1 kernel's pool sizes) → 128 B, 2 chunks.
    Lockdep builds: ~168 → 192 B (3 chunks).  4.8-era and 32-bit: <= 64 → 1 chunk."""

    header_struct_bytes: int = 88
    compaction: str = "immediate"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.compaction not in COMPACTION_TIMINGS:
            raise ValueError(f"compaction must be one of {', '.join(COMPACTION_TIMINGS)}, got {self.compaction!r}")
        if not 1 <= self.header_struct_bytes <= self.page_size // 2:
            raise ValueError(f"header_struct_bytes must be in 1..{self.page_size // 2}")


class Z3fold(Allocator):
    """``mm/z3fold.c``; the rules are in the module docstring.

    ``class_stats()``: one row per non-empty ``unbuddied[i]`` (``class`` = free chunks i,
    ``size`` = i * chunk bytes), then ``class`` = NCHUNKS for full pages (on no list) and
    NCHUNKS + 1 for headless pages; ``extra``: ``free_chunks``, ``unbuddied``, ``full``,
    ``headless`` (page counts).
    """

    name = "z3fold"
    Params = Z3foldParams
    capabilities = frozenset({"classes", "evictable"})
    models = "Linux 5.x-6.14 mm/z3fold.c (z3fold_alloc/z3fold_free, compaction; checked for 6.1)"

    def __init__(self, params: Z3foldParams | None = None) -> None:
        super().__init__(params)
        p: Z3foldParams = self.params
        ps = self.page_size
        self.chunk_shift = ps.bit_length() - 1 - NCHUNKS_ORDER
        self.chunk_bytes = cb = 1 << self.chunk_shift
        self.zhdr_bytes = -(-p.header_struct_bytes // cb) * cb
        self.zhdr_chunks = self.zhdr_bytes >> self.chunk_shift
        self.total_chunks = ps >> self.chunk_shift
        self.nchunks = self.total_chunks - self.zhdr_chunks
        self.headless_above = ps - self.zhdr_bytes - cb
        L = self._lists = NodeLists(self.nchunks)
        n = L.n_lists
        # per page id: kind, live objects (kref), foreign handles, start_middle
        self._kind: list[int] = [_FREE_ID] * n
        self._nobj: list[int] = [0] * n
        self._foreign: list[int] = [0] * n
        self._sm: list[int] = [0] * n
        # per page * 4 + bud: chunks of that buddy and its handle (0 = none)
        self._bc: list[int] = [0] * (4 * n)
        self._bh: list[int] = [0] * (4 * n)
        # per handle (1..): page * 4 + bud, size (0 = free id), moved by compaction
        self._hloc: list[int] = [0]
        self._hsize: list[int] = [0]
        self._hforeign: list[int] = [0]
        self._free_h: list[int] = []
        # deferred compaction: NEEDS_COMPACTING per page and the work queue (FIFO)
        self._deferred = p.compaction == "before_next_alloc"
        self._needs: list[int] = [0] * n
        self._pending: deque[int] = deque()
        self.pages_nr = 0
        self.n_headless = 0
        self._used_chunks = 0

    # ------------------------------------------------------------------ helpers
    def _new_page(self, kind: int) -> int:
        page = self._lists.new_node()
        if page == len(self._kind):
            self._kind.append(kind)
            self._nobj.append(0)
            self._foreign.append(0)
            self._sm.append(0)
            self._needs.append(0)
            self._bc += (0, 0, 0, 0)
            self._bh += (0, 0, 0, 0)
        else:
            self._kind[page] = kind
        self.pages_nr += 1
        return page

    def _drop_page(self, page: int) -> None:
        self._kind[page] = _FREE_ID
        self._needs[page] = 0  # a queued work for it is cancelled
        self._sm[page] = 0
        self._lists.release_node(page)
        self.pages_nr -= 1

    def _num_free_chunks(self, page: int) -> int:
        bc = self._bc
        b = 4 * page
        f, m, l = bc[b + 1], bc[b + 2], bc[b + 3]
        if m:
            sm = self._sm[page]
            before = 0 if f else sm - self.zhdr_chunks
            after = 0 if l else self.total_chunks - (sm + m)
            return before if before > after else after
        return self.nchunks - f - l

    def _add_to_unbuddied(self, page: int) -> None:
        bc = self._bc
        b = 4 * page
        f, m, l = bc[b + 1], bc[b + 2], bc[b + 3]
        if m:
            if f and l:
                return
            sm = self._sm[page]
            before = 0 if f else sm - self.zhdr_chunks
            after = 0 if l else self.total_chunks - (sm + m)
            self._lists.add_head(before if before > after else after, page)
        else:
            self._lists.add_head(self.nchunks - f - l, page)

    def _find(self, chunks: int) -> int:
        """``__z3fold_alloc``: unlink and return the head of the first non-empty list at or
        above ``chunks``, or -1.  A page with queued compaction is unlinked and skipped."""
        L = self._lists
        while True:
            i = L.lowest_nonempty_from(chunks, self.nchunks)
            if i < 0:
                return -1
            page = L.next[i]
            L.remove(page)
            if not self._needs[page]:
                return page

    def _free_buddy(self, page: int, chunks: int) -> int:
        """``get_free_buddy``: the slot for ``chunks`` in ``page`` (HEADLESS = none)."""
        bc = self._bc
        b = 4 * page
        if bc[b + 2]:
            if not bc[b + 1] and chunks <= self._sm[page] - self.zhdr_chunks:
                return FIRST
            return LAST if not bc[b + 3] else HEADLESS
        if not bc[b + 1]:
            return FIRST
        return LAST if not bc[b + 3] else MIDDLE

    def _place(self, page: int, bud: int, chunks: int, h: int) -> None:
        loc = 4 * page + bud
        self._bc[loc] = chunks
        self._bh[loc] = h
        self._hloc[h] = loc
        if bud == MIDDLE:
            self._sm[page] = self._bc[4 * page + 1] + self.zhdr_chunks
        self._nobj[page] += 1

    # ------------------------------------------------------------------ malloc
    def _malloc(self, size: int) -> Handle:
        if self._pending:
            self._run_pending()
        hsize = self._hsize
        if self._free_h:
            h = self._free_h.pop()
            hsize[h] = size
        else:
            h = len(hsize)
            hsize.append(size)
            self._hloc.append(0)
            self._hforeign.append(0)
        if size > self.headless_above:
            page = self._new_page(_HEADLESS_PAGE)
            self._bh[4 * page] = h
            self._hloc[h] = 4 * page
            self._nobj[page] = 1
            self.n_headless += 1
            return h
        chunks = (size + self.chunk_bytes - 1) >> self.chunk_shift
        L = self._lists
        m = L.nonempty >> chunks  # __z3fold_alloc: lists chunks .. NCHUNKS-1, lowest first
        if m:
            page = L.next[chunks + (m & -m).bit_length() - 1]
            L.remove(page)
            bud = self._free_buddy(page, chunks)
            if bud == HEADLESS:  # the kernel WARNs and retries; impossible without stale lists
                raise InvariantViolation(f"z3fold: page {page} on a list cannot take {chunks} chunks")
        else:
            page = self._new_page(_NORMAL)
            bud = FIRST
        self._place(page, bud, chunks, h)
        self._used_chunks += chunks
        self._add_to_unbuddied(page)
        return h

    # ------------------------------------------------------------------ free
    def _free(self, handle: Handle) -> int:
        hsize = self._hsize
        if type(handle) is not int or not 0 < handle < len(hsize) or not hsize[handle]:
            raise InvalidHandle(f"z3fold: unknown handle {handle!r}")
        h = handle
        size = hsize[h]
        hsize[h] = 0
        self._free_h.append(h)
        loc = self._hloc[h]
        page = loc >> 2
        self._bh[loc] = 0
        if self._kind[page] == _HEADLESS_PAGE:
            self._nobj[page] = 0
            self.n_headless -= 1
            self._drop_page(page)
            return size
        bc = self._bc
        self._used_chunks -= bc[loc]
        bc[loc] = 0
        if self._hforeign[h]:
            self._hforeign[h] = 0
            self._foreign[page] -= 1
        nobj = self._nobj
        n = nobj[page] = nobj[page] - 1
        L = self._lists
        if self._deferred and n:
            if self._needs[page]:
                return size  # its compaction is already queued
            if L.owner[page] >= 0:  # listed: queue the work, the page keeps its list slot
                self._needs[page] = 1
                self._pending.append(page)
                return size
        L.remove(page)
        # do_compact_page: single-buddy move, else in-page compaction + relist
        if not n or (n == 1 and not self._foreign[page] and self._compact_single_buddy(page)):
            self._drop_page(page)
        else:
            if bc[4 * page + 2]:
                self._compact_in_page(page)
            self._add_to_unbuddied(page)
        return size

    def _run_pending(self) -> None:
        """Run the queued compaction works in order (``compact_page_work``)."""
        pending = self._pending
        while pending:
            page = pending.popleft()
            if not self._needs[page]:
                continue  # freed meanwhile: the work was cancelled
            self._needs[page] = 0
            self._lists.remove(page)
            if self._nobj[page] == 1 and not self._foreign[page] and self._compact_single_buddy(page):
                self._drop_page(page)
            else:
                if self._bc[4 * page + 2]:
                    self._compact_in_page(page)
                self._add_to_unbuddied(page)

    def _compact_single_buddy(self, page: int) -> bool:
        b = 4 * page
        bc = self._bc
        bud = FIRST if bc[b + 1] else (MIDDLE if bc[b + 2] else LAST)
        chunks = bc[b + bud]
        dest = self._find(chunks)
        if dest < 0:
            return False
        new_bud = self._free_buddy(dest, chunks)
        if new_bud == HEADLESS:
            self._add_to_unbuddied(dest)
            return False
        h = self._bh[b + bud]
        bc[b + bud] = 0
        self._bh[b + bud] = 0
        self._nobj[page] = 0
        self._place(dest, new_bud, chunks, h)
        self._foreign[dest] += 1
        self._hforeign[h] = 1
        self._add_to_unbuddied(dest)
        return True

    def _compact_in_page(self, page: int) -> None:
        """``z3fold_compact_page``."""
        b = 4 * page
        bc = self._bc
        m = bc[b + 2]
        if not m:
            return
        f, l = bc[b + 1], bc[b + 3]
        sm = self._sm[page]
        zc = self.zhdr_chunks
        if not f and not l:
            h = self._bh[b + 2]
            bc[b + 1], bc[b + 2] = m, 0
            self._bh[b + 1], self._bh[b + 2] = h, 0
            self._hloc[h] = b + 1
            self._sm[page] = 0
        elif f and not l and sm - (f + zc) >= BIG_CHUNK_GAP:
            self._sm[page] = f + zc
        elif l and not f and self.total_chunks - (l + sm + m) >= BIG_CHUNK_GAP:
            self._sm[page] = self.total_chunks - l - m

    # ------------------------------------------------------------------ reporting
    def _pool_pages(self) -> int:
        return self.pages_nr

    @property
    def max_alloc_bytes(self) -> int:
        """``PAGE_SIZE``: larger is ``-ENOSPC``; above ``headless_above`` a headless page."""
        return self.page_size

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        if type(handle) is not int or not 0 < handle < len(self._hsize) or not self._hsize[handle]:
            raise InvalidHandle(f"z3fold: unknown handle {handle!r}")
        loc = self._hloc[handle]
        page, bud = loc >> 2, loc & 3
        cb = self.chunk_bytes
        offset = {
            HEADLESS: 0,
            FIRST: self.zhdr_bytes,
            MIDDLE: self._sm[page] * cb,
            LAST: self.page_size - self._bc[loc] * cb,
        }[bud]
        return (page,), offset, self._hsize[handle]

    def waste_breakdown(self) -> dict[str, int]:
        """``metadata_bytes``: the in-page header of every normal page;
        ``internal_frag_bytes``: chunk rounding, and the rest of each headless page;
        ``external_frag_bytes``: free chunks of normal pages."""
        normal = self.pages_nr - self.n_headless
        used = self._used_chunks * self.chunk_bytes
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": 0,
            "internal_frag_bytes": used + self.n_headless * self.page_size - self.stored_bytes,
            "external_frag_bytes": normal * (self.page_size - self.zhdr_bytes) - used,
            "metadata_bytes": normal * self.zhdr_bytes,
        }

    def class_stats(self) -> list[ClassStats]:
        L = self._lists
        rows = []
        listed = 0
        for i in range(self.nchunks):
            n = L.count[i]
            if n:
                listed += n
                used = sum(self._nobj[p] for p in L.iter_list(i))
                rows.append(ClassStats(i, i * self.chunk_bytes, 3 * n, used, n, 1, 3,
                                       {"free_chunks": i, "unbuddied": n, "full": 0, "headless": 0}))
        full = self.pages_nr - self.n_headless - listed
        if full:
            rows.append(ClassStats(self.nchunks, 0, 3 * full, 3 * full, full, 1, 3,
                                   {"free_chunks": 0, "unbuddied": 0, "full": full, "headless": 0}))
        if self.n_headless:
            nh = self.n_headless
            rows.append(ClassStats(self.nchunks + 1, self.page_size, nh, nh, nh, 1, 1,
                                   {"free_chunks": 0, "unbuddied": 0, "full": 0, "headless": nh}))
        return rows

    def _check_invariants(self) -> None:
        problems = self._lists.check()
        cb, zc, tc = self.chunk_bytes, self.zhdr_chunks, self.total_chunks
        objs: dict[int, list[int]] = {}
        foreign: dict[int, int] = {}
        n_live = nbytes = used = 0
        for h in range(1, len(self._hsize)):
            size = self._hsize[h]
            if not size:
                continue
            n_live += 1
            nbytes += size
            loc = self._hloc[h]
            page, bud = loc >> 2, loc & 3
            objs.setdefault(page, []).append(h)
            foreign[page] = foreign.get(page, 0) + self._hforeign[h]
            if self._bh[loc] != h:
                problems.append(f"handle {h}: slot {loc} holds {self._bh[loc]}")
            kind = self._kind[page]
            if (bud == HEADLESS) != (kind == _HEADLESS_PAGE) or kind == _FREE_ID:
                problems.append(f"handle {h}: bud {bud} on page kind {kind}")
            elif bud != HEADLESS:
                used += self._bc[loc]
                if self._bc[loc] != -(-size // cb):
                    problems.append(f"handle {h}: {self._bc[loc]} chunks for {size} bytes")
        live_pages = [p for p in range(self._lists.n_lists, len(self._kind)) if self._kind[p] != _FREE_ID]
        pending = set(self._pending)
        if any(self._needs[p] for p in range(len(self._needs)) if self._kind[p] == _FREE_ID):
            problems.append("NEEDS_COMPACTING on a freed page")
        n_headless = 0
        for p in live_pages:
            hs = objs.get(p, [])
            if len(hs) != self._nobj[p] or foreign.get(p, 0) != self._foreign[p]:
                problems.append(f"page {p}: nobj/foreign {self._nobj[p]}/{self._foreign[p]}, found {len(hs)}")
            if self._kind[p] == _HEADLESS_PAGE:
                n_headless += 1
                if len(hs) != 1 or self._lists.owner[p] >= 0:
                    problems.append(f"headless page {p} holds {len(hs)} objects / is listed")
                continue
            b = 4 * p
            f, m, l = self._bc[b + 1], self._bc[b + 2], self._bc[b + 3]
            spans = sorted(s for s in ((zc, zc + f), (self._sm[p], self._sm[p] + m), (tc - l, tc)) if s[1] > s[0])
            if spans and (spans[0][0] < zc or spans[-1][1] > tc):
                problems.append(f"page {p}: buddies outside the page {spans}")
            for (_, e1), (s2, _) in pairwise(spans):
                if s2 < e1:
                    problems.append(f"page {p}: overlapping buddies {spans}")
            want = -1 if (f and m and l) else self._num_free_chunks(p)
            if self._needs[p]:  # queued compaction: any (stale) list position, must be queued
                if p not in pending:
                    problems.append(f"page {p}: NEEDS_COMPACTING but not queued")
            elif self._lists.owner[p] != want:
                problems.append(f"page {p}: on list {self._lists.owner[p]}, free chunks {want}")
        if len(live_pages) != self.pages_nr or n_headless != self.n_headless:
            problems.append(f"pages_nr {self.pages_nr}/{self.n_headless}, found {len(live_pages)}/{n_headless}")
        if n_live != self.n_objects or nbytes != self.stored_bytes or used != self._used_chunks:
            problems.append("object/byte/chunk totals disagree with the handle table")
        if problems:
            raise InvariantViolation("z3fold: " + "; ".join(problems[:5]))
