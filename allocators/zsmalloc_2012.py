"""The original staging zsmalloc (Linux 3.4–3.13, and the first ``mm/`` version 3.14).

Rules (../shared/reference/zsmalloc-2012.md, checked against torvalds/linux
``drivers/staging/zsmalloc/zsmalloc-main.c`` @ 61989a80):

* Size classes ``size_i = 32 + delta * i`` (delta 16 B), ``i = 0 .. (page_size - 32) / delta``
  (255 classes at 4 KiB); no merging, no per-object handle header.  A request of ``n`` bytes
  goes to class ``0 if n <= 32 else ceil((n - 32) / delta)``.
* Pages per zspage (``get_zspage_order``): for ``k = 1 .. max_pages_per_zspage`` keep the
  ``k`` with strictly larger ``usedpc = (k*page_size - k*page_size % size) * 100 //
  (k*page_size)``; ``objs_per_zspage N = k * page_size // size``.  Objects are laid out back
  to back across the zspage's pages (they straddle page boundaries).
* Fullness: ``inuse == 0`` EMPTY (the zspage is freed at once), ``inuse == N`` FULL (on no
  list), ``inuse <= N // 4`` ALMOST_EMPTY, else ALMOST_FULL.  A zspage moves between lists
  only when its group changes and is then pushed to the list HEAD.
* ``zs_malloc`` takes the head of ALMOST_FULL, else the head of ALMOST_EMPTY, else a new
  zspage; inside a zspage free objects are LIFO (fresh zspages hand out 0, 1, 2, ...).
* No compaction.  Pool size = sum of the classes' ``pages_allocated`` (the kernel reports it
  in bytes via ``zs_get_total_size_bytes``; here in pages).  The 3.3 ``free_zspage`` leak
  (only the first page of a multi-page zspage actually returned) is not modelled: the model
  follows the ``pages_allocated`` counter, which zram reported.

Checked op for op (placement and pool size after every call) against the kernel's own
code compiled in userspace: tests/test_xvmalloc_kernel_replay.py.

Implementation: each list is a dict used as an insertion-ordered set whose LAST key is the
list head (push-front = insert, head = ``next(reversed(d))``, unlink = ``del``), so every
operation is O(1).  A zspage is a small list ``[class, inuse, next_fresh, freed_stack, group]``;
the kernel's free list is ``freed_stack`` (top first) followed by the untouched objects
``next_fresh, next_fresh+1, ...``.  Handles encode ``zspage_id << obj_bits | obj_index``.
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
from allocators.zsmalloc_classes import chain_size_used_percent

MIN_ALLOC_BYTES = 32
"""ZS_MIN_ALLOC_SIZE on x86-64 (the class of every request <= 32 bytes)."""

# Fullness groups, numbered as the kernel's enum: only the first two have lists.
ALMOST_FULL, ALMOST_EMPTY, EMPTY, FULL = 0, 1, 2, 3


@dataclass(frozen=True)
class Zsmalloc2012Params(AllocatorParams):
    """``max_pages_per_zspage``: ZS_MAX_PAGES_PER_ZSPAGE (4 in 3.3–3.14).
    ``class_delta_bytes``: ZS_SIZE_CLASS_DELTA (16, written literally in 3.4; later staging
    ``PAGE_SIZE >> 8``, also 16 at 4 KiB).
    ``fullness_threshold_frac``: a zspage is ALMOST_EMPTY iff ``inuse <= N // frac`` (4)."""

    max_pages_per_zspage: int = 4
    class_delta_bytes: int = 16
    fullness_threshold_frac: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_pages_per_zspage < 1 or self.class_delta_bytes < 1 or self.fullness_threshold_frac < 1:
            raise ValueError("max_pages_per_zspage, class_delta_bytes and fullness_threshold_frac must be >= 1")


class Zsmalloc2012(Allocator):
    name = "zsmalloc-2012"
    Params = Zsmalloc2012Params
    capabilities = frozenset({"spans_pages", "classes"})
    models = ("Linux 3.4–3.13 drivers/staging/zsmalloc/zsmalloc-main.c and 3.14 mm/zsmalloc.c "
              "(zs_malloc, zs_free, get_zspage_order, fix_fullness_group)")

    def __init__(self, params: Zsmalloc2012Params | None = None) -> None:
        super().__init__(params)
        p: Zsmalloc2012Params = self.params
        ps = self.page_size
        delta = p.class_delta_bytes
        n_classes = (ps - MIN_ALLOC_BYTES) // delta + 1
        self.class_delta_bytes = delta
        self.class_size: list[int] = [min(MIN_ALLOC_BYTES + delta * i, ps) for i in range(n_classes)]
        # get_zspage_order of 3.3 = get_pages_per_zspage of later kernels (max integer used%)
        self.class_pages: list[int] = [chain_size_used_percent(s, ps, p.max_pages_per_zspage) for s in self.class_size]
        self.class_objs: list[int] = [k * ps // s for k, s in zip(self.class_pages, self.class_size)]
        self._almost_empty_max: list[int] = [n // p.fullness_threshold_frac for n in self.class_objs]
        # class i's lists: self._lists[2*i + ALMOST_FULL], self._lists[2*i + ALMOST_EMPTY]
        self._lists: list[dict[int, None]] = [{} for _ in range(2 * n_classes)]
        self.class_pages_allocated: list[int] = [0] * n_classes
        self._zspages: dict[int, list] = {}
        self._sizes: dict[Handle, int] = {}
        self._obj_bits = max(self.class_objs).bit_length()
        self._obj_mask = (1 << self._obj_bits) - 1
        self._next_zspage = 0
        self._total_pages = 0

    # ------------------------------------------------------------------ helpers
    def class_index(self, size: int) -> int:
        """``get_size_class_index``: 0 for sizes <= 32, else ``ceil((size - 32) / delta)``."""
        if size <= MIN_ALLOC_BYTES:
            return 0
        return (size - MIN_ALLOC_BYTES + self.class_delta_bytes - 1) // self.class_delta_bytes

    def _group(self, cls: int, inuse: int) -> int:
        if inuse == 0:
            return EMPTY
        if inuse == self.class_objs[cls]:
            return FULL
        if inuse <= self._almost_empty_max[cls]:
            return ALMOST_EMPTY
        return ALMOST_FULL

    # ------------------------------------------------------------- allocator API
    def _malloc(self, size: int) -> Handle:
        cls = self.class_index(size)
        lists = self._lists
        head = lists[2 * cls] or lists[2 * cls + 1]
        if head:
            zid = next(reversed(head))
            z = self._zspages[zid]
        else:
            zid = self._next_zspage
            self._next_zspage = zid + 1
            z = [cls, 0, 0, [], EMPTY]
            self._zspages[zid] = z
            npages = self.class_pages[cls]
            self.class_pages_allocated[cls] += npages
            self._total_pages += npages
        freed = z[3]
        if freed:
            obj = freed.pop()
        else:
            obj = z[2]
            z[2] = obj + 1
        inuse = z[1] + 1
        z[1] = inuse
        if inuse == self.class_objs[cls]:
            group = FULL
        elif inuse <= self._almost_empty_max[cls]:
            group = ALMOST_EMPTY
        else:
            group = ALMOST_FULL
        old = z[4]
        if group != old:
            if old < EMPTY:
                del lists[2 * cls + old][zid]
            if group < EMPTY:
                lists[2 * cls + group][zid] = None
            z[4] = group
        handle = (zid << self._obj_bits) | obj
        self._sizes[handle] = size
        return handle

    def _free(self, handle: Handle) -> int:
        try:
            size = self._sizes.pop(handle)
        except (KeyError, TypeError):
            raise InvalidHandle(f"{self.name}: unknown handle {handle!r}") from None
        zid = handle >> self._obj_bits
        z = self._zspages[zid]
        cls = z[0]
        z[3].append(handle & self._obj_mask)
        inuse = z[1] - 1
        z[1] = inuse
        group = self._group(cls, inuse)
        old = z[4]
        if group != old:
            if old < EMPTY:
                del self._lists[2 * cls + old][zid]
            if group < EMPTY:
                self._lists[2 * cls + group][zid] = None
            z[4] = group
        if group == EMPTY:
            del self._zspages[zid]
            npages = self.class_pages[cls]
            self.class_pages_allocated[cls] -= npages
            self._total_pages -= npages
        return size

    def _pool_pages(self) -> int:
        return self._total_pages

    # ----------------------------------------------------------------- reporting
    def class_stats(self) -> list[ClassStats]:
        """One row per class (all 255), columns as the later zsmalloc debugfs
        (``almost_full``, ``almost_empty``, ``pages_per_zspage`` in ``extra``)."""
        used = [0] * len(self.class_size)
        for cls, inuse, *_ in self._zspages.values():
            used[cls] += inuse
        rows = []
        for i, size in enumerate(self.class_size):
            ppz, n = self.class_pages[i], self.class_objs[i]
            n_zspages = self.class_pages_allocated[i] // ppz
            rows.append(ClassStats(
                class_index=i, size=size, obj_allocated=n_zspages * n, obj_used=used[i],
                pages_used=self.class_pages_allocated[i], pages_per_unit=ppz, objs_per_unit=n,
                extra={"almost_full": len(self._lists[2 * i + ALMOST_FULL]),
                       "almost_empty": len(self._lists[2 * i + ALMOST_EMPTY]),
                       "pages_per_zspage": ppz},
            ))
        return rows

    def free_bytes_by_kind(self) -> dict[str, int]:
        """``free_slots``: unused objects' class bytes; ``class_rounding``: class size minus
        object size over live objects; ``zspage_tail``: ``ppz*page_size - N*size`` per
        zspage.  The three sum to ``pool_bytes - stored_bytes``."""
        free_slots = used_class_bytes = tail = 0
        ps = self.page_size
        for cls, inuse, *_ in self._zspages.values():
            size, n = self.class_size[cls], self.class_objs[cls]
            free_slots += (n - inuse) * size
            used_class_bytes += inuse * size
            tail += self.class_pages[cls] * ps - n * size
        return {"free_slots": free_slots, "class_rounding": used_class_bytes - self.stored_bytes,
                "zspage_tail": tail}

    def waste_breakdown(self) -> dict[str, int]:
        """No headers or metadata in the pool; ``internal_frag_bytes`` = class rounding of
        live objects plus the zspage tails (bytes no object can ever use);
        ``external_frag_bytes`` = free slots of live zspages."""
        kinds = self.free_bytes_by_kind()
        return {"payload_bytes": self.stored_bytes, "header_bytes": 0,
                "internal_frag_bytes": kinds["class_rounding"] + kinds["zspage_tail"],
                "external_frag_bytes": kinds["free_slots"], "metadata_bytes": 0}

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        """Page ids are ``zspage_id * max_pages_per_zspage + page index in the zspage``."""
        if handle not in self._sizes:
            raise InvalidHandle(f"{self.name}: unknown handle {handle!r}")
        zid, obj = handle >> self._obj_bits, handle & self._obj_mask
        size = self.class_size[self._zspages[zid][0]]
        ps = self.page_size
        start = obj * size
        first, last = start // ps, (start + size - 1) // ps
        base = zid * self.params.max_pages_per_zspage
        return tuple(base + k for k in range(first, last + 1)), start % ps, self._sizes[handle]

    def _check_invariants(self) -> None:
        """Recount everything from the zspage records and the handle table."""
        n = len(self.class_size)
        pages = [0] * n
        live_per_zspage: dict[int, int] = {}
        for handle in self._sizes:
            zid = handle >> self._obj_bits
            live_per_zspage[zid] = live_per_zspage.get(zid, 0) + 1
        for zid, (cls, inuse, next_fresh, freed, group) in self._zspages.items():
            n_objs = self.class_objs[cls]
            if not 0 < inuse <= n_objs:
                raise InvariantViolation(f"zspage {zid}: inuse {inuse} outside 1..{n_objs}")
            if next_fresh > n_objs or len(set(freed)) != len(freed) or any(o >= next_fresh for o in freed):
                raise InvariantViolation(f"zspage {zid}: free objects inconsistent")
            if inuse != next_fresh - len(freed) or inuse != live_per_zspage.get(zid, 0):
                raise InvariantViolation(f"zspage {zid}: inuse {inuse} disagrees with its objects")
            for obj in freed:
                if (zid << self._obj_bits) | obj in self._sizes:
                    raise InvariantViolation(f"zspage {zid}: free object {obj} is live")
            if group != self._group(cls, inuse):
                raise InvariantViolation(f"zspage {zid}: group {group} != computed")
            for g in (ALMOST_FULL, ALMOST_EMPTY):
                if (zid in self._lists[2 * cls + g]) != (group == g):
                    raise InvariantViolation(f"zspage {zid}: list membership disagrees with group")
            pages[cls] += self.class_pages[cls]
        if len(live_per_zspage.keys() - self._zspages.keys()):
            raise InvariantViolation("handles point to freed zspages")
        listed = sum(len(d) for d in self._lists)
        if listed != sum(1 for z in self._zspages.values() if z[4] < EMPTY):
            raise InvariantViolation("a list holds a zspage that is not live")
        if pages != self.class_pages_allocated or sum(pages) != self._total_pages:
            raise InvariantViolation("pages_allocated disagrees with the zspages")
        if sum(self._sizes.values()) != self.stored_bytes or len(self._sizes) != self.n_objects:
            raise InvariantViolation("handle table disagrees with counters")
