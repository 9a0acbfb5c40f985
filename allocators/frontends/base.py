"""The Frontend base class: what the kernel does to a page before it reaches the allocator.

A frontend owns the slot table (swap offset / zram index -> stored object), same-filled
detection, the huge/incompressible rule, header bytes, the overwrite order, rejections and
the counters its kernel exposes.  Allocators know nothing about pages.

Page kinds (``PageKind``) come from the workload: ``DATA`` (compressed size given),
``ZERO`` (all bytes zero), ``SAME`` (all machine words equal, value non-zero; the trace
still carries the page's compressed size so frontends that compress such pages can).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from allocators.base import Allocator, AllocatorError, Handle
from allocators.spec import ConfigParams


class PageKind(IntEnum):
    DATA = 0
    ZERO = 1
    SAME = 2


class Slot(IntEnum):
    """How a live page is held by the frontend."""

    ZERO = 1  # zero-filled, no allocation
    SAME = 2  # same-filled (non-zero word), no allocation
    HUGE = 3  # stored whole (page_size bytes) inside the allocator
    NORMAL = 4  # compressed object in the allocator
    RAW = 5  # stored whole in a page outside the allocator's pool (3.x zram)


@dataclass(frozen=True)
class FrontendParams(ConfigParams):
    """Parameters shared by every frontend (none yet); subclasses add fields with the
    kernel's defaults."""


@dataclass(frozen=True)
class FrontendSummary:
    """End-of-run figures common to all frontends (the summary.csv columns).

    ``pages_in``: stores seen; ``zero_pages``/``same_pages``: live pages held as zero /
    non-zero same-filled without an allocation; ``huge_pages``: live pages stored whole
    (in the pool or, for 3.x zram, beside it); ``rejected_pages``: stores refused;
    ``stored_objects``: live objects in the store: the allocator's, plus pages kept whole
    in a page of their own outside the pool (3.x zram's ``pages_expand``), so that
    ``stored_objects / pool_pages`` is zpages per pageframe; ``compressed_bytes``: sum of the
    live objects' sizes as the frontend accounts them (page_size for a whole page; zram's
    ``compr_data_size``); ``pool_pages``: pages of memory used (zram ``mem_used_total``
    / page size; zswap ``pool_total_size`` / page size); ``live_pages``: occupied slots.
    """

    pages_in: int
    zero_pages: int
    same_pages: int
    huge_pages: int
    rejected_pages: int
    stored_objects: int
    compressed_bytes: int
    pool_pages: int
    live_pages: int


class Frontend(ABC):
    """Base class; subclasses implement ``store`` with the kernel's order of operations
    using ``_hold``/``_release`` so the shared counters stay right."""

    name: ClassVar[str]
    Params: ClassVar[type[FrontendParams]] = FrontendParams
    models: ClassVar[str] = ""

    def __init__(self, allocator: Allocator, params: FrontendParams | None = None) -> None:
        if params is None:
            params = self.Params()
        self.params = params
        self.allocator = allocator
        self.page_size = allocator.page_size
        # page -> (slot kind, handle or -1, accounted bytes)
        self.slots: dict[int, tuple[int, Handle, int]] = {}
        self.pages_in = 0
        self.rejected_pages = 0
        self.compressed_bytes = 0
        self.pages_compacted = 0
        self.n_by_slot = {s: 0 for s in Slot}

    # ----------------------------------------------------------------- events
    @abstractmethod
    def store(self, page: int, size: int, kind: PageKind) -> None:
        """Write one page whose compressed size is ``size`` bytes."""

    def free(self, page: int) -> None:
        """Swap-free / discard of a page: release what it holds (no-op when empty)."""
        self._release(page)

    def compact(self) -> int:
        """Trigger the allocator's compaction; return pages freed."""
        freed = self.allocator.compact()
        self.pages_compacted += freed
        return freed

    # ----------------------------------------------------------------- results
    def pool_pages(self) -> int:
        """Pages of memory the frontend's store uses now."""
        return self.allocator.pool_pages()

    def counters(self) -> dict[str, int]:
        """The kernel's own counters for this frontend (names as the kernel prints them)."""
        return {}

    def summary(self) -> FrontendSummary:
        n = self.n_by_slot
        return FrontendSummary(
            pages_in=self.pages_in,
            zero_pages=n[Slot.ZERO],
            same_pages=n[Slot.SAME],
            huge_pages=n[Slot.HUGE] + n[Slot.RAW],
            rejected_pages=self.rejected_pages,
            stored_objects=self.allocator.n_objects + n[Slot.RAW],
            compressed_bytes=self.compressed_bytes,
            pool_pages=self.pool_pages(),
            live_pages=len(self.slots),
        )

    def spec(self) -> str:
        parts = [self.name] + [f"{k}={v}" for k, v in self.params.non_defaults().items()]
        return ":".join(parts)

    # ----------------------------------------------------------- for subclasses
    def _hold(self, page: int, slot: Slot, handle: Handle, nbytes: int) -> None:
        """Record ``page`` as held (the slot must be empty)."""
        self.slots[page] = (slot, handle, nbytes)
        self.n_by_slot[slot] += 1
        self.compressed_bytes += nbytes

    def _release(self, page: int) -> bool:
        """Free whatever ``page`` holds; False if it held nothing."""
        entry = self.slots.pop(page, None)
        if entry is None:
            return False
        slot, handle, nbytes = entry
        self.n_by_slot[slot] -= 1
        self.compressed_bytes -= nbytes
        if handle >= 0:
            self.allocator.free(handle)
        return True

    def _try_malloc(self, size: int) -> Handle | None:
        """``allocator.malloc(size)``; a refusal is counted as a rejected page and gives None."""
        try:
            return self.allocator.malloc(size)
        except AllocatorError:
            self.rejected_pages += 1
            return None
