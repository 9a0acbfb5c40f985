"""zsmalloc's size-class table, built exactly as ``zs_create_pool`` builds it.

Reference: ../shared/reference/zsmalloc.md §1, §2, §9 (kernel ``mm/zsmalloc.c``).

Constants for a page of ``page_size`` bytes (x86-64):

* ``ZS_MIN_ALLOC_SIZE = 32`` (``max(32, chain << PAGE_SHIFT >> OBJ_INDEX_BITS)``; the second
  term is 0 on x86-64 for every chain size 4..16 and page size);
* ``ZS_MAX_ALLOC_SIZE = page_size``;
* ``ZS_SIZE_CLASS_DELTA = page_size >> 8`` (16 B on 4 KiB pages; overridable);
* ``ZS_SIZE_CLASSES = ceil((page_size - 32) / delta) + 1`` (255 on 4 KiB pages).

Walking ``i`` from ``ZS_SIZE_CLASSES - 1`` down to 0: ``size = min(32 + i*delta, page_size)``,
``pages_per_zspage`` from the chain rule, ``objs_per_zspage = ppz * page_size // size``; a
slot whose (ppz, objs) equal the previously created (larger) class is merged into it.
``huge_class_size`` = (first size, walking down, with ``ppz != 1 and objs != 1``) - 7
(``- (handle_size - 1)``: the smallest payload that lands in the huge class).

Chain rules (``chain_rule``):

* ``min-waste`` (v6.3+, ``calculate_zspage_chain_size``): a power-of-two size takes 1 page;
  otherwise the n in 1..chain with the strictly smallest ``(n*page_size) % size`` (first n
  wins ties).  Class counts at 4 KiB: chain 4 → 69, 8 → 119, 16 → 192.
* ``used-percent`` (3.3–6.2, ``get_pages_per_zspage``): the n in 1..chain maximising the
  integer percentage ``(n*page_size - waste) * 100 // (n*page_size)``, strict ``>``, first
  n wins ties; no power-of-two shortcut.  Reproduces the table of
  ``Documentation/mm/zsmalloc.rst`` (chain 4 → 69, 8 → 123, 16 → 191).
"""

from __future__ import annotations

from dataclasses import dataclass

ZS_MIN_ALLOC_SIZE = 32
ZS_HANDLE_SIZE = 8
CLASS_BITS = 8
CHAIN_RULES = ("min-waste", "used-percent")


@dataclass(frozen=True)
class SizeClass:
    """One distinct class: ``index`` (the kernel's ``class->index``), slot ``size`` in
    bytes, ``pages_per_zspage``, ``objs_per_zspage``."""

    index: int
    size: int
    pages_per_zspage: int
    objs_per_zspage: int

    @property
    def huge(self) -> bool:
        """One page holding one object (the handle lives in the page descriptor)."""
        return self.pages_per_zspage == 1 and self.objs_per_zspage == 1


def chain_size_min_waste(size: int, page_size: int, chain_size: int) -> int:
    """``calculate_zspage_chain_size`` (v6.3+)."""
    if size & (size - 1) == 0:
        return 1
    best, min_waste = 1, None
    for n in range(1, chain_size + 1):
        waste = (n * page_size) % size
        if min_waste is None or waste < min_waste:
            best, min_waste = n, waste
    return best


def chain_size_used_percent(size: int, page_size: int, chain_size: int) -> int:
    """``get_pages_per_zspage`` (3.3–6.2): maximum integer used percentage."""
    best, max_used = 1, 0
    for n in range(1, chain_size + 1):
        zspage_bytes = n * page_size
        used = (zspage_bytes - zspage_bytes % size) * 100 // zspage_bytes
        if used > max_used:
            best, max_used = n, used
    return best


_CHOOSERS = {"min-waste": chain_size_min_waste, "used-percent": chain_size_used_percent}


class ClassTable:
    """The pool's class table.

    ``classes``: distinct classes in increasing index order.  ``slot_class[i]``: position
    in ``classes`` of the class that slot ``i`` (0..``n_slots``-1) uses (a merged slot points
    at the next larger distinct class).  ``huge_class_size``: smallest payload (before the
    8-byte handle) that ends in the huge class.  ``huge_watermark``: size of the largest
    non-huge class (the kernel documentation's "huge size class watermark")."""

    def __init__(self, page_size: int = 4096, chain_size: int = 8, class_delta: int = 0,
                 chain_rule: str = "min-waste", handle_size: int = ZS_HANDLE_SIZE) -> None:
        if chain_rule not in _CHOOSERS:
            raise ValueError(f"chain_rule must be one of {', '.join(CHAIN_RULES)}, got {chain_rule!r}")
        delta = class_delta or page_size >> CLASS_BITS
        if delta <= 0 or delta % 8:
            raise ValueError(f"class_delta must be a positive multiple of 8, got {delta}")
        self.page_size = page_size
        self.chain_size = chain_size
        self.class_delta = delta
        self.chain_rule = chain_rule
        self.handle_size = handle_size
        self.n_slots = -(-(page_size - ZS_MIN_ALLOC_SIZE) // delta) + 1
        choose = _CHOOSERS[chain_rule]
        by_slot: list[SizeClass | None] = [None] * self.n_slots
        created: list[SizeClass] = []
        prev: SizeClass | None = None
        self.huge_class_size = 0
        self.huge_watermark = 0
        for i in range(self.n_slots - 1, -1, -1):
            size = min(ZS_MIN_ALLOC_SIZE + i * delta, page_size)
            ppz = choose(size, page_size, chain_size)
            objs = ppz * page_size // size
            if ppz != 1 and objs != 1 and not self.huge_class_size:
                self.huge_class_size = size - (handle_size - 1)
                self.huge_watermark = size
            if prev is not None and prev.pages_per_zspage == ppz and prev.objs_per_zspage == objs:
                by_slot[i] = prev
                continue
            prev = SizeClass(i, size, ppz, objs)
            created.append(prev)
            by_slot[i] = prev
        self.classes: list[SizeClass] = created[::-1]
        position = {c.index: k for k, c in enumerate(self.classes)}
        self.slot_class: list[int] = [position[c.index] for c in by_slot]  # type: ignore[union-attr]

    def slot_index(self, size_with_handle: int) -> int:
        """``get_size_class_index``: 0 up to 32 bytes, else ``ceil((s-32)/delta)``, clamped
        to the last slot."""
        if size_with_handle <= ZS_MIN_ALLOC_SIZE:
            return 0
        idx = -(-(size_with_handle - ZS_MIN_ALLOC_SIZE) // self.class_delta)
        return min(idx, self.n_slots - 1)

    def class_for_payload(self, payload: int) -> SizeClass:
        """The class ``zs_malloc(payload)`` uses (payload + handle, clamp, merge)."""
        return self.classes[self.slot_class[self.slot_index(payload + self.handle_size)]]

    def waste_bytes(self, c: SizeClass) -> int:
        """Unused bytes at the end of one zspage: ``ppz*page_size - objs*size``."""
        return c.pages_per_zspage * self.page_size - c.objs_per_zspage * c.size
