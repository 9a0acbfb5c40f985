"""The one Allocator base class every model derives from.

The interface is the kernel's zpool shape: ``malloc(size) -> handle``, ``free(handle)``
and the pool size in pages.  Accounting that is the same for every allocator (live object
count, live payload bytes, size checks, invariant checks) lives here; subclasses contain only
placement policy, in ``_malloc`` / ``_free`` / ``_pool_pages`` (template methods).

Units: every ``*_bytes`` is bytes, every ``*_pages`` counts pages of ``params.page_size``
bytes, ``n_*`` counts objects.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

from allocators.spec import ConfigParams

Handle = int
"""An opaque object handle.  Only the allocator that returned it may interpret it."""

WASTE_KINDS = ("payload_bytes", "header_bytes", "internal_frag_bytes", "external_frag_bytes", "metadata_bytes")
"""The keys of ``Allocator.waste_breakdown()``, in display order."""


class AllocatorError(Exception):
    """Base class of every error an allocator raises for a request it refuses."""


class InvalidSize(AllocatorError, ValueError):
    """The size is not a positive integer (the kernel's ``-EINVAL``)."""


class ObjectTooLarge(AllocatorError):
    """The size exceeds what the allocator can ever store (the kernel's ``-ENOSPC``)."""


class AllocationFailed(AllocatorError):
    """The allocator tried and failed, e.g. xvmalloc's odd sizes that grow the pool and
    still fail (the kernel's ``-ENOMEM``)."""


class InvalidHandle(AllocatorError, KeyError):
    """``free`` of a handle that is not live (unknown or already freed)."""


class InvariantViolation(AssertionError):
    """``check_invariants`` found the model's state inconsistent (a bug in the model)."""


@dataclass(frozen=True)
class AllocatorParams(ConfigParams):
    """Parameters shared by every allocator.  Subclasses add fields; all fields need
    defaults, and the defaults are the kernel's.

    ``page_size``: bytes per page (a power of two; 4096 unless stated).
    """

    page_size: int = 4096

    def __post_init__(self) -> None:
        ps = self.page_size
        if not isinstance(ps, int) or ps < 512 or ps & (ps - 1):
            raise ValueError(f"page_size must be a power of two >= 512, got {ps!r}")


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of an allocator's pool.

    ``pool_pages``: pages the allocator holds (what the kernel reports as the pool size).
    ``n_objects``: live objects.  ``stored_bytes``: sum of the sizes passed to ``malloc``
    for the live objects.  ``pool_bytes = pool_pages * page_size``.
    ``free_bytes_by_kind``: where the unused bytes of the pool are, by kind (allocator
    specific keys, e.g. ``listed_free``, ``fragments``, ``headers``); may be empty.
    """

    pool_pages: int
    n_objects: int
    stored_bytes: int
    page_size: int
    free_bytes_by_kind: Mapping[str, int] = field(default_factory=dict)

    @property
    def pool_bytes(self) -> int:
        return self.pool_pages * self.page_size


@dataclass(frozen=True)
class ClassStats:
    """One row of an allocator's per-class table, in the kernel's debugfs terms.

    ``class_index``/``size``: class number and slot size in bytes; ``obj_allocated``:
    slots in allocated units; ``obj_used``: live objects; ``pages_used``: pages held by
    the class; ``pages_per_unit``/``objs_per_unit``: pages and slots of one unit (zspage,
    block, ...).  ``extra`` holds allocator-specific columns (fullness buckets, list
    occupancy) under the kernel's names, in display order.
    """

    class_index: int
    size: int
    obj_allocated: int
    obj_used: int
    pages_used: int
    pages_per_unit: int
    objs_per_unit: int
    extra: Mapping[str, int] = field(default_factory=dict)

    def to_row(self) -> dict[str, int]:
        """Flat dict with debugfs-style column names."""
        row = {
            "class": self.class_index,
            "size": self.size,
            "obj_allocated": self.obj_allocated,
            "obj_used": self.obj_used,
            "pages_used": self.pages_used,
            "pages_per_unit": self.pages_per_unit,
            "objs_per_unit": self.objs_per_unit,
        }
        row.update(self.extra)
        return row


class Allocator(ABC):
    """Base class of every allocator model.

    Subclasses set the class attributes and implement ``_malloc``, ``_free`` and
    ``_pool_pages`` (and optionally ``_compact``, ``_check_invariants``, ``class_stats``,
    ``free_bytes_by_kind``, ``locate``).

    Class attributes:
      ``name``: the kernel's lowercase name, the registry key.
      ``Params``: the frozen parameter dataclass (subclass of ``AllocatorParams``).
      ``capabilities``: flags such as ``"compaction"`` (``compact()`` does work),
        ``"spans_pages"`` (objects may straddle page boundaries), ``"classes"``
        (``class_stats()`` is non-empty).
      ``models``: which kernel version(s) and source file the model reproduces.
    """

    name: ClassVar[str]
    Params: ClassVar[type[AllocatorParams]] = AllocatorParams
    capabilities: ClassVar[frozenset[str]] = frozenset()
    models: ClassVar[str] = ""

    def __init__(self, params: AllocatorParams | None = None) -> None:
        if params is None:
            params = self.Params()
        if not isinstance(params, self.Params):
            raise TypeError(f"{self.name} takes {self.Params.__name__}, not {type(params).__name__}")
        self.params = params
        self.page_size: int = params.page_size
        self.n_objects: int = 0
        self.stored_bytes: int = 0
        self._next_handle: Handle = 1

    # ----------------------------------------------------------------- public API
    @property
    def max_alloc_bytes(self) -> int:
        """Largest size ``malloc`` accepts (bytes); larger raises ``ObjectTooLarge``."""
        return self.page_size

    def malloc(self, size: int) -> Handle:
        """Store an object of ``size`` bytes and return its handle.

        Raises ``InvalidSize`` (size < 1), ``ObjectTooLarge`` (size > ``max_alloc_bytes``)
        or ``AllocationFailed``; on any error the pool is unchanged except where the kernel
        itself changes it (documented by the subclass).
        """
        if not isinstance(size, int) or size < 1:
            raise InvalidSize(f"{self.name}: invalid size {size!r}")
        if size > self.max_alloc_bytes:
            raise ObjectTooLarge(f"{self.name}: size {size} > {self.max_alloc_bytes}")
        handle = self._malloc(size)
        self.n_objects += 1
        self.stored_bytes += size
        return handle

    def free(self, handle: Handle) -> None:
        """Free a live object.  Raises ``InvalidHandle`` on an unknown or freed handle."""
        size = self._free(handle)
        self.n_objects -= 1
        self.stored_bytes -= size

    def pool_pages(self) -> int:
        """Pages the pool holds now, as the kernel reports it (e.g. zs_get_total_pages)."""
        return self._pool_pages()

    def compact(self) -> int:
        """Run the kernel's compaction once; return the pages freed (0 if unsupported)."""
        return self._compact()

    def stats(self) -> PoolStats:
        return PoolStats(
            pool_pages=self._pool_pages(),
            n_objects=self.n_objects,
            stored_bytes=self.stored_bytes,
            page_size=self.page_size,
            free_bytes_by_kind=self.free_bytes_by_kind(),
        )

    def class_stats(self) -> list[ClassStats]:
        """The per-class table (empty for allocators without classes)."""
        return []

    def free_bytes_by_kind(self) -> dict[str, int]:
        """Unused pool bytes split by kind; empty when the model does not break it down."""
        return {}

    def waste_breakdown(self) -> dict[str, int]:
        """Where the pool's bytes go, by ``WASTE_KINDS``; the values add up to
        ``pool_pages() * page_size`` exactly.

        ``payload_bytes``: sizes passed to malloc of the live objects; ``header_bytes``:
        per-object headers/handles stored in the pool; ``internal_frag_bytes``: rounding
        inside occupied slots; ``external_frag_bytes``: free slots/blocks in partly used
        pages; ``metadata_bytes``: per-page/per-unit metadata inside the pool.  This
        default puts every unused byte under external fragmentation; allocators override
        it with their own layout."""
        pool_bytes = self._pool_pages() * self.page_size
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": 0,
            "internal_frag_bytes": 0,
            "external_frag_bytes": pool_bytes - self.stored_bytes,
            "metadata_bytes": 0,
        }

    def check_invariants(self) -> None:
        """Raise ``InvariantViolation`` if the model's state is inconsistent."""
        if self.n_objects < 0 or self.stored_bytes < 0:
            raise InvariantViolation(f"{self.name}: negative counters")
        if self.n_objects == 0 and self.stored_bytes != 0:
            raise InvariantViolation(f"{self.name}: bytes without objects")
        if self._pool_pages() < 0:
            raise InvariantViolation(f"{self.name}: negative pool")
        self._check_invariants()

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        """(page ids, byte offset in the first page, length) of an object; for tests and
        pictures only."""
        raise NotImplementedError(f"{self.name} does not implement locate()")

    def to_config(self) -> dict[str, Any]:
        """``{"allocator": name, **params}``; round-trips through ``registry.from_config``."""
        return {"allocator": self.name, **self.params.to_config()}

    def spec(self) -> str:
        """Normalised spec string: the name, then the non-default parameters in field
        order, e.g. ``zsmalloc:chain_size=4``."""
        return format_spec(self.name, self.params)

    # ------------------------------------------------------------ for subclasses
    def _new_handle(self) -> Handle:
        h = self._next_handle
        self._next_handle = h + 1
        return h

    @abstractmethod
    def _malloc(self, size: int) -> Handle:
        """Place an object of ``size`` bytes (already checked to be in range)."""

    @abstractmethod
    def _free(self, handle: Handle) -> int:
        """Remove the object; return its size as passed to malloc.  Raise
        ``InvalidHandle`` for an unknown handle."""

    @abstractmethod
    def _pool_pages(self) -> int:
        """Pages held now."""

    def _compact(self) -> int:
        return 0

    def _check_invariants(self) -> None:
        """Subclass-specific consistency checks."""


def format_spec(name: str, params: AllocatorParams) -> str:
    """``NAME`` followed by ``:key=value`` for each non-default parameter."""
    parts = [name] + [f"{k}={_fmt(v)}" for k, v in params.non_defaults().items()]
    return ":".join(parts)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def params_json(params: AllocatorParams) -> str:
    return json.dumps(params.to_config(), sort_keys=False)
