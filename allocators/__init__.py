"""Allocator models behind one interface, and the registry that names them.

Each allocator is registered exactly once, here, in ``_ALLOCATORS``.
"""

from __future__ import annotations

from typing import Any, Mapping

from allocators.base import (
    AllocationFailed,
    Allocator,
    AllocatorError,
    AllocatorParams,
    ClassStats,
    Handle,
    InvalidHandle,
    InvalidSize,
    InvariantViolation,
    ObjectTooLarge,
    PoolStats,
)
from allocators.ideal import Ideal
from allocators.xvmalloc import Xvmalloc
from allocators.zsmalloc_2012 import Zsmalloc2012
from allocators.zsmalloc import Zsmalloc
from allocators.spec import SpecError, build_params, lookup, split_spec
from allocators.z3fold import Z3fold
from allocators.zblock import Zblock
from allocators.zbud import Zbud, ZbudZcache

_ALLOCATORS: list[type[Allocator]] = [
    Ideal,
    Xvmalloc,
    Zsmalloc2012,
    Zsmalloc,
    Zbud,
    ZbudZcache,
    Z3fold,
    Zblock,
]

REGISTRY: dict[str, type[Allocator]] = {cls.name: cls for cls in _ALLOCATORS}


def create(spec: str, base_params: AllocatorParams | None = None) -> Allocator:
    """Build an allocator from ``NAME[:key=value...]``.  ``base_params`` (e.g. a kernel
    preset) is applied first, the spec's explicit values override it."""
    name, overrides = split_spec(spec)
    cls = lookup(REGISTRY, name, "allocator")
    return cls(build_params(cls.Params, name, overrides, base_params))


def from_config(config: Mapping[str, Any]) -> Allocator:
    """Inverse of ``Allocator.to_config()``."""
    config = dict(config)
    cls = lookup(REGISTRY, config.pop("allocator", ""), "allocator")
    return cls(cls.Params.from_config(config))


__all__ = [
    "REGISTRY", "create", "from_config", "SpecError",
    "Allocator", "AllocatorParams", "AllocatorError", "AllocationFailed", "ClassStats", "Handle",
    "InvalidHandle", "InvalidSize", "InvariantViolation", "ObjectTooLarge", "PoolStats",
]
