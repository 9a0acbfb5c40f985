"""zsmalloc, page-exact: the current kernel (v6.4+) and the 4.x–6.2 era.

Reference: ../shared/reference/zsmalloc.md (normative), kernel ``mm/zsmalloc.c``.

Per distinct size class (``allocators.zsmalloc_classes``): one doubly linked list per
fullness group (front = the kernel's list head), a bit mask of the non-empty lists, the
counters ``OBJS_ALLOCATED`` / ``OBJS_INUSE`` and the zspage count per group.  Per zspage:
``inuse``, its group, a LIFO stack of freed slots on top of the not yet used slots
(``fresh``, handed out 0, 1, 2, ... as ``init_zspage`` links them) and the handle in each
slot.  Pool: ``pages_allocated`` (``zs_get_total_pages``) and ``pages_compacted``.

Eras (``era``):

* ``current`` (v6.4+): 12 fullness groups, group = 0 if inuse == 0, 11 if full, else
  ``floor(100*inuse/N) // 10 + 1``; a zspage is inserted at the HEAD of its group's list,
  and moves only when its group changes; ``zs_malloc`` takes the head of the fullest
  non-full group (10 down to 0); compaction is dst-first (§6).
* ``v4`` (v4.8–v6.3, e.g. Debian 6.1): groups EMPTY(0), ALMOST_EMPTY(1) iff
  ``inuse <= 3*N//4``, ALMOST_FULL(2), FULL(3); ``insert_zspage`` puts a zspage second in
  the list when its inuse is below the head's, else at the head; ``zs_malloc`` takes the
  head of ALMOST_FULL, else of ALMOST_EMPTY; compaction is src-first (§9).  The v4.1–v4.7
  insertion rule (tail, head iff inuse >= head's) is not modelled.

Empty zspages are freed at once (the kernel defers the free only when a page lock is
contended: concurrency only).

``malloc(size)``: ``size + 8`` (the handle) → slot index (``ceil((s-32)/delta)``, clamped to
the last slot) → merged class → fullest non-full zspage (list head) or a new zspage
(``pages_allocated += pages_per_zspage``).  ``free``: push the slot, regroup; an empty zspage
is freed at once.  ``compact()`` returns the pages freed (``pages_compacted`` adds them up).

Memory: one dict entry (handle → ``zspage_id << 40 | slot << 20 | size``) plus one list slot
per live object; zspages are ``__slots__`` objects.  Every operation is O(1) except
``compact`` and the diagnostic methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from allocators.base import (
    Allocator,
    AllocatorParams,
    ClassStats,
    Handle,
    InvalidHandle,
    InvariantViolation,
)
from allocators.zsmalloc_classes import CHAIN_RULES, ZS_HANDLE_SIZE, ClassTable

ERAS = ("current", "v4")

_SLOT_SHIFT = 20
_ZID_SHIFT = 40
_FIELD_MASK = (1 << _SLOT_SHIFT) - 1

# v4 era fullness groups (enum fullness_group of v4.8–v6.2)
_V4_EMPTY, _V4_ALMOST_EMPTY, _V4_ALMOST_FULL, _V4_FULL = 0, 1, 2, 3
_CUR_FULL = 11


@dataclass(frozen=True)
class ZsmallocParams(AllocatorParams):
    """``chain_size``: CONFIG_ZSMALLOC_CHAIN_SIZE, max pages per zspage (4..16; default 8,
    the Kconfig default; kernels before 6.3 are fixed at 4).
    ``class_delta``: ZS_SIZE_CLASS_DELTA in bytes; 0 means ``page_size >> 8`` (16 at 4 KiB).
    ``chain_rule``: ``min-waste`` (v6.3+, default) or ``used-percent`` (3.3–6.2).
    ``era``: ``current`` (v6.4+: 12 fullness groups, head insertion, dst-first compaction)
    or ``v4`` (v4.8–v6.3: two partial lists split at 3N/4, second-position insertion,
    src-first compaction).  The v6.3/v6.4 boundary is from the patch series, not a tagged
    tree (zsmalloc.md §9).
    ``handle_size``: bytes added to every request before the class lookup (ZS_HANDLE_SIZE,
    8 on 64-bit kernels)."""

    chain_size: int = 8
    class_delta: int = 0
    chain_rule: str = "min-waste"
    era: str = "current"
    handle_size: int = ZS_HANDLE_SIZE

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.chain_size <= 16:
            raise ValueError(f"chain_size must be 1..16 (kernel range 4..16), got {self.chain_size}")
        if self.chain_rule not in CHAIN_RULES:
            raise ValueError(f"chain_rule must be one of {', '.join(CHAIN_RULES)}, got {self.chain_rule!r}")
        if self.era not in ERAS:
            raise ValueError(f"era must be one of {', '.join(ERAS)}, got {self.era!r}")
        if self.handle_size < 0:
            raise ValueError(f"handle_size must be >= 0, got {self.handle_size}")


class _Class:
    """Mutable state of one distinct size class."""

    __slots__ = ("index", "size", "ppz", "n_objs", "group_of", "heads", "mask", "counts",
                 "n_allocated", "n_used")

    def __init__(self, index: int, size: int, ppz: int, n_objs: int, group_of: list[int],
                 n_groups: int) -> None:
        self.index = index
        self.size = size
        self.ppz = ppz
        self.n_objs = n_objs
        self.group_of = group_of  # fullness group by inuse (0..n_objs)
        self.heads: list[_Zspage | None] = [None] * n_groups
        self.mask = 0  # bit g set iff heads[g] is not None
        self.counts = [0] * n_groups  # zspages per group (the kernel's class stats)
        self.n_allocated = 0  # ZS_OBJS_ALLOCATED
        self.n_used = 0  # ZS_OBJS_INUSE


class _Zspage:
    __slots__ = ("zid", "cls", "inuse", "group", "prev", "next", "free", "fresh", "objs")

    def __init__(self, zid: int, cls: _Class) -> None:
        self.zid = zid
        self.cls = cls
        self.inuse = 0
        self.group = -1  # -1: on no list (isolated or not yet inserted)
        self.prev: _Zspage | None = None
        self.next: _Zspage | None = None
        self.free: list[int] = []  # LIFO stack of freed slots
        self.fresh = 0  # slots fresh..N-1 were never used
        self.objs: list[int] = [0] * cls.n_objs  # handle per slot, 0 = free


def _group_table_current(n: int) -> list[int]:
    """``get_fullness_group`` (v6.4+) for inuse 0..n."""
    return [0] + [(100 * k // n) // 10 + 1 for k in range(1, n)] + [_CUR_FULL]


def _group_table_v4(n: int) -> list[int]:
    """v4.8–v6.2 ``get_fullness_group``: ALMOST_EMPTY iff ``inuse <= 3*n//4``."""
    mid = [_V4_ALMOST_EMPTY if k <= 3 * n // 4 else _V4_ALMOST_FULL for k in range(1, n)]
    return [_V4_EMPTY] + mid + [_V4_FULL]


class Zsmalloc(Allocator):
    name = "zsmalloc"
    Params = ZsmallocParams
    capabilities = frozenset({"compaction", "spans_pages", "classes"})
    models = ("Linux mm/zsmalloc.c: v6.4+ (era=current; v6.3 = era v4 + min-waste chain 8) "
              "and v4.8-v6.2 (era=v4, chain_size=4, chain_rule=used-percent)")

    def __init__(self, params: ZsmallocParams | None = None) -> None:
        super().__init__(params)
        p: ZsmallocParams = self.params
        self.table = ClassTable(p.page_size, p.chain_size, p.class_delta, p.chain_rule, p.handle_size)
        self.huge_class_size: int = self.table.huge_class_size
        self._v4 = p.era == "v4"
        n_groups = 4 if self._v4 else 12
        self._full = _V4_FULL if self._v4 else _CUR_FULL
        self._search_mask = (1 << self._full) - 1  # every group below full
        group_table = _group_table_v4 if self._v4 else _group_table_current
        self.classes: list[_Class] = [
            _Class(c.index, c.size, c.pages_per_zspage, c.objs_per_zspage,
                   group_table(c.objs_per_zspage), n_groups)
            for c in self.table.classes
        ]
        # class of every request size 1..page_size (handle and clamp included)
        position = {c.index: k for k, c in enumerate(self.table.classes)}
        self._class_by_size: list[_Class] = [self.classes[0]] + [
            self.classes[position[self.table.class_for_payload(s).index]] for s in range(1, p.page_size + 1)
        ]
        self._loc: dict[Handle, int] = {}
        self._zspages: list[_Zspage | None] = []  # by zspage id
        self._free_zids: list[int] = []
        self.n_zspages = 0
        self.pages_allocated = 0
        self.pages_compacted = 0
        self.n_objects_moved = 0

    # ------------------------------------------------------------- list primitive
    def _relist(self, zs: _Zspage, g: int) -> None:
        """Unlink ``zs`` from its list (if on one), then, for ``g >= 0``, ``insert_zspage``
        into group ``g``: at the head (current era); v4: second when its inuse is below the
        head's, else at the head.  ``g = -1`` isolates it (``remove_zspage``)."""
        cls = zs.cls
        heads = cls.heads
        old = zs.group
        if old >= 0:
            prev, nxt = zs.prev, zs.next
            if prev is None:
                heads[old] = nxt
                if nxt is None:
                    cls.mask &= ~(1 << old)
            else:
                prev.next = nxt
            if nxt is not None:
                nxt.prev = prev
            cls.counts[old] -= 1
        zs.group = g
        if g < 0:
            zs.prev = zs.next = None
            return
        cls.counts[g] += 1
        head = heads[g]
        if head is None:
            zs.prev = zs.next = None
            heads[g] = zs
            cls.mask |= 1 << g
        elif self._v4 and zs.inuse < head.inuse:
            nxt = head.next
            zs.prev = head
            zs.next = nxt
            head.next = zs
            if nxt is not None:
                nxt.prev = zs
        else:
            zs.prev = None
            zs.next = head
            head.prev = zs
            heads[g] = zs

    # ---------------------------------------------------------------- malloc/free
    def _malloc(self, size: int) -> Handle:
        cls = self._class_by_size[size]
        handle = self._next_handle
        self._next_handle = handle + 1
        avail = cls.mask & self._search_mask
        zs = cls.heads[avail.bit_length() - 1] if avail else self._new_zspage(cls)
        free = zs.free
        if free:
            slot = free.pop()
        else:
            slot = zs.fresh
            zs.fresh = slot + 1
        zs.objs[slot] = handle
        inuse = zs.inuse + 1
        zs.inuse = inuse
        cls.n_used += 1
        g = cls.group_of[inuse]
        if g != zs.group:
            self._relist(zs, g)
        self._loc[handle] = (zs.zid << _ZID_SHIFT) | (slot << _SLOT_SHIFT) | size
        return handle

    def _new_zspage(self, cls: _Class) -> _Zspage:
        """``alloc_zspage``; the zspage id is a free index of ``_zspages`` (ids are reused
        once no handle refers to them)."""
        table = self._zspages
        if self._free_zids:
            zid = self._free_zids.pop()
            zs = table[zid] = _Zspage(zid, cls)
        else:
            zs = _Zspage(len(table), cls)
            table.append(zs)
        self.n_zspages += 1
        self.pages_allocated += cls.ppz
        cls.n_allocated += cls.n_objs
        return zs

    def _free_zspage(self, zs: _Zspage) -> None:
        """``free_zspage`` of an isolated, empty zspage."""
        cls = zs.cls
        self._zspages[zs.zid] = None
        self._free_zids.append(zs.zid)
        self.n_zspages -= 1
        self.pages_allocated -= cls.ppz
        cls.n_allocated -= cls.n_objs

    def _free(self, handle: Handle) -> int:
        loc = self._loc.pop(handle, None)
        if loc is None:
            raise InvalidHandle(f"zsmalloc: unknown handle {handle!r}")
        zs = self._zspages[loc >> _ZID_SHIFT]
        slot = (loc >> _SLOT_SHIFT) & _FIELD_MASK
        zs.objs[slot] = 0
        zs.free.append(slot)
        inuse = zs.inuse - 1
        zs.inuse = inuse
        cls = zs.cls
        cls.n_used -= 1
        g = cls.group_of[inuse]
        if g != zs.group:
            if inuse:
                self._relist(zs, g)
            else:
                self._relist(zs, -1)
                self._free_zspage(zs)
        return loc & _FIELD_MASK

    def _pool_pages(self) -> int:
        return self.pages_allocated

    # ------------------------------------------------------------------ compaction
    @staticmethod
    def can_compact(cls: _Class) -> int:
        """``zs_can_compact``: ``floor((allocated - used) / N) * ppz`` pages, 0 if none."""
        if cls.n_allocated <= cls.n_used:
            return 0
        return (cls.n_allocated - cls.n_used) // cls.n_objs * cls.ppz

    def _compact(self) -> int:
        """``zs_compact``: classes from the largest index down; returns pages freed."""
        compact_class = self._compact_class_v4 if self._v4 else self._compact_class_current
        freed = 0
        for cls in reversed(self.classes):
            freed += compact_class(cls)
        self.pages_compacted += freed
        return freed

    def _isolate(self, cls: _Class, groups: tuple[int, ...]) -> _Zspage | None:
        """Unlink and return the head of the first non-empty list among ``groups``."""
        for g in groups:
            zs = cls.heads[g]
            if zs is not None:
                self._relist(zs, -1)
                return zs
        return None

    def _putback(self, zs: _Zspage) -> int:
        """``putback_zspage``: insert into the list of its group; return the group."""
        g = zs.cls.group_of[zs.inuse]
        self._relist(zs, g)
        return g

    def _migrate(self, src: _Zspage, dst: _Zspage) -> None:
        """``migrate_zspage``: move src's objects in slot (= byte offset) order into dst's
        free-slot order until dst is full or src is empty."""
        n = src.cls.n_objs
        loc = self._loc
        src_objs, dst_objs = src.objs, dst.objs
        for slot in range(n):
            if src.inuse == 0 or dst.inuse == n:
                break
            handle = src_objs[slot]
            if not handle:
                continue
            free = dst.free
            if free:
                dslot = free.pop()
            else:
                dslot = dst.fresh
                dst.fresh = dslot + 1
            dst_objs[dslot] = handle
            dst.inuse += 1
            src_objs[slot] = 0
            src.free.append(slot)
            src.inuse -= 1
            size = loc[handle] & _FIELD_MASK
            loc[handle] = (dst.zid << _ZID_SHIFT) | (dslot << _SLOT_SHIFT) | size
            self.n_objects_moved += 1

    def _compact_class_current(self, cls: _Class) -> int:
        """v6.4+ ``__zs_compact``: dst-first; dst kept across sources until full."""
        dst_groups = tuple(range(_CUR_FULL - 1, 0, -1))  # 99 % .. 10 %
        src_groups = tuple(range(1, _CUR_FULL))  # 10 % .. 99 %
        freed = 0
        dst = None
        while self.can_compact(cls):
            if dst is None:
                dst = self._isolate(cls, dst_groups)
                if dst is None:
                    break
            src = self._isolate(cls, src_groups)
            if src is None:
                break
            self._migrate(src, dst)
            if self._putback(src) == 0:
                self._relist(src, -1)
                self._free_zspage(src)
                freed += cls.ppz
            if dst.inuse == cls.n_objs:
                self._putback(dst)
                dst = None
        if dst is not None:
            self._putback(dst)
        return freed

    def _compact_class_v4(self, cls: _Class) -> int:
        """v4.8–v6.3 ``__zs_compact``: src-first; a new dst for every migration round."""
        src_groups = (_V4_ALMOST_EMPTY, _V4_ALMOST_FULL)
        dst_groups = (_V4_ALMOST_FULL, _V4_ALMOST_EMPTY)
        freed = 0
        src = None
        while True:
            src = self._isolate(cls, src_groups)
            if src is None:
                break
            if not self.can_compact(cls):
                break
            while True:
                dst = self._isolate(cls, dst_groups)
                if dst is None:
                    break
                self._migrate(src, dst)
                self._putback(dst)
                if src.inuse == 0:
                    break
            if src.inuse != 0:
                break
            self._putback(src)  # lands in the EMPTY list, then free_zspage
            self._relist(src, -1)
            self._free_zspage(src)
            freed += cls.ppz
            src = None
        if src is not None:
            self._putback(src)
        return freed

    # ----------------------------------------------------------------- reporting
    def class_stats(self) -> list[ClassStats]:
        """The kernel's debugfs ``classes`` table: one row per distinct class.  ``extra``:
        current era ``10%`` .. ``99%``, ``100%`` (zspages in groups 1..11; the labels are
        shifted one bucket, as in the kernel) or v4 ``almost_full``, ``almost_empty``; then
        ``pages_per_zspage`` and ``freeable`` (``zs_can_compact``).  ``pages_used =
        obj_allocated // N * ppz``."""
        rows = []
        for c in self.classes:
            if self._v4:
                extra = {"almost_full": c.counts[_V4_ALMOST_FULL], "almost_empty": c.counts[_V4_ALMOST_EMPTY]}
            else:
                labels = [f"{10 * k}%" for k in range(1, 10)] + ["99%", "100%"]
                extra = {label: c.counts[g] for label, g in zip(labels, range(1, 12))}
            extra["pages_per_zspage"] = c.ppz
            extra["freeable"] = self.can_compact(c)
            rows.append(ClassStats(
                class_index=c.index, size=c.size, obj_allocated=c.n_allocated, obj_used=c.n_used,
                pages_used=c.n_allocated // c.n_objs * c.ppz, pages_per_unit=c.ppz,
                objs_per_unit=c.n_objs, extra=extra,
            ))
        return rows

    def free_bytes_by_kind(self) -> dict[str, int]:
        """Where the pool's bytes that hold no payload are: ``handles`` (the in-object
        handle of every non-huge live object), ``slack`` (slot size - handle - payload of
        live objects), ``free_slots`` (unused slots of live zspages) and ``zspage_tail``
        (``ppz*page_size - N*size`` per zspage).  The four add up to
        ``pool_bytes - stored_bytes``."""
        hs = self.params.handle_size
        slack = handles = 0
        for loc in self._loc.values():
            size = loc & _FIELD_MASK
            cls = self._zspages[loc >> _ZID_SHIFT].cls
            overhead = 0 if cls.n_objs == 1 else hs
            handles += overhead
            slack += cls.size - size - overhead
        free_slots = sum((c.n_allocated - c.n_used) * c.size for c in self.classes)
        tail = sum(c.n_allocated // c.n_objs * (c.ppz * self.page_size - c.n_objs * c.size)
                   for c in self.classes)
        return {"handles": handles, "slack": slack, "free_slots": free_slots, "zspage_tail": tail}

    def waste_breakdown(self) -> dict[str, int]:
        """``header_bytes`` = in-object handles; ``internal_frag_bytes`` = class rounding
        of live objects plus the unusable tail of every zspage (``ppz*page_size - N*size``,
        fixed by the class geometry); ``external_frag_bytes`` = free slots of live zspages;
        no in-pool metadata (``struct zspage`` and handles live in slab caches outside
        ``zs_get_total_pages``)."""
        k = self.free_bytes_by_kind()
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": k["handles"],
            "internal_frag_bytes": k["slack"] + k["zspage_tail"],
            "external_frag_bytes": k["free_slots"],
            "metadata_bytes": 0,
        }

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        """Pages (``zspage_id * 16 + k`` for sub-page k; ids are reused after a zspage is freed) the object's slot touches, the
        byte offset in the first one, and the slot size."""
        loc = self._loc.get(handle)
        if loc is None:
            raise InvalidHandle(f"zsmalloc: unknown handle {handle!r}")
        zs = self._zspages[loc >> _ZID_SHIFT]
        slot = (loc >> _SLOT_SHIFT) & _FIELD_MASK
        start = slot * zs.cls.size
        first, last = start // self.page_size, (start + zs.cls.size - 1) // self.page_size
        return tuple(zs.zid * 16 + k for k in range(first, last + 1)), start % self.page_size, zs.cls.size

    def zspages(self, cls_index: int) -> dict[int, list[int]]:
        """For tests: ``{zspage_id: handles by slot (0 = free)}`` of one class."""
        return {z.zid: list(z.objs) for z in self._live_zspages() if z.cls.index == cls_index}

    def _live_zspages(self) -> list[_Zspage]:
        return [z for z in self._zspages if z is not None]

    def list_order(self, cls_index: int, group: int) -> list[int]:
        """For tests: zspage ids on one fullness list, head first."""
        cls = next(c for c in self.classes if c.index == cls_index)
        return [z.zid for z in _walk(cls.heads[group])]

    # ----------------------------------------------------------------- invariants
    def _check_invariants(self) -> None:
        """Recount every counter from the zspages and the lists."""
        def fail(msg: str) -> None:
            raise InvariantViolation(f"zsmalloc: {msg}")

        seen: dict[int, tuple[int, int]] = {}
        on_list: set[int] = set()
        pages = 0
        for cls in self.classes:
            n_zspages = 0
            for g, head in enumerate(cls.heads):
                if (head is None) == bool(cls.mask >> g & 1):
                    fail(f"class {cls.index}: mask bit {g} disagrees with list")
                prev = None
                count = 0
                for zs in _walk(head):
                    if zs.prev is not prev:
                        fail(f"class {cls.index} group {g}: broken back link")
                    if zs.cls is not cls or zs.group != g or cls.group_of[zs.inuse] != g:
                        fail(f"zspage {zs.zid} on list {g} of class {cls.index} with inuse {zs.inuse}")
                    if zs.zid in on_list:
                        fail(f"zspage {zs.zid} on two lists")
                    on_list.add(zs.zid)
                    prev = zs
                    count += 1
                if count != cls.counts[g]:
                    fail(f"class {cls.index} group {g}: counter {cls.counts[g]} != {count} listed")
                n_zspages += count
            if cls.heads[0] is not None:
                fail(f"class {cls.index}: empty zspage kept")
            zsp = [z for z in self._live_zspages() if z.cls is cls]
            if len(zsp) != n_zspages:
                fail(f"class {cls.index}: {len(zsp)} zspages, {n_zspages} listed")
            used = 0
            for z in zsp:
                handles = [h for h in z.objs if h]
                if len(handles) != z.inuse or z.inuse == 0:
                    fail(f"zspage {z.zid}: inuse {z.inuse} but {len(handles)} objects")
                free_slots = sorted(z.free + list(range(z.fresh, cls.n_objs)))
                if free_slots != [s for s, h in enumerate(z.objs) if not h]:
                    fail(f"zspage {z.zid}: free stack disagrees with slots")
                for s, h in enumerate(z.objs):
                    if h:
                        if h in seen:
                            fail(f"handle {h} stored twice")
                        seen[h] = (z.zid, s)
                used += z.inuse
            if used != cls.n_used or len(zsp) * cls.n_objs != cls.n_allocated:
                fail(f"class {cls.index}: counters {cls.n_allocated}/{cls.n_used} != recount")
            pages += len(zsp) * cls.ppz
        if any(z is not None and z.zid != i for i, z in enumerate(self._zspages)):
            fail("zspage id disagrees with its table index")
        if sorted(self._free_zids) != [i for i, z in enumerate(self._zspages) if z is None]:
            fail("free zspage ids disagree with the table")
        if len(self._live_zspages()) != self.n_zspages:
            fail(f"n_zspages {self.n_zspages} != live zspages")
        if pages != self.pages_allocated:
            fail(f"pages_allocated {self.pages_allocated} != {pages} recounted")
        if len(seen) != len(self._loc) or len(self._loc) != self.n_objects:
            fail(f"{len(seen)} stored objects, {len(self._loc)} handles, n_objects {self.n_objects}")
        total = 0
        for h, loc in self._loc.items():
            if seen.get(h) != (loc >> _ZID_SHIFT, (loc >> _SLOT_SHIFT) & _FIELD_MASK):
                fail(f"handle {h} location disagrees with its zspage")
            total += loc & _FIELD_MASK
            if self._class_by_size[loc & _FIELD_MASK] is not self._zspages[loc >> _ZID_SHIFT].cls:
                fail(f"handle {h} in the wrong class")
        if total != self.stored_bytes:
            fail("stored bytes disagree with the handle table")


def _walk(zs: _Zspage | None) -> Iterator[_Zspage]:
    while zs is not None:
        yield zs
        zs = zs.next
