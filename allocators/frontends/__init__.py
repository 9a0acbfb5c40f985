"""Frontends (zram, zswap, ... and ``none``) and their registry, filled here only."""

from __future__ import annotations

from allocators.base import Allocator
from allocators.frontends.base import Frontend, FrontendParams, FrontendSummary, PageKind, Slot
from allocators.frontends.none import NoFrontend
from allocators.frontends.zram import Zram
from allocators.frontends.zram_legacy import ZramLegacy
from allocators.frontends.zswap import Zswap, ZswapLegacy
from allocators.spec import build_params, lookup, split_spec

_FRONTENDS: list[type[Frontend]] = [
    Zram,
    ZramLegacy,
    NoFrontend,
    Zswap,
    ZswapLegacy,
]

FRONTENDS: dict[str, type[Frontend]] = {cls.name: cls for cls in _FRONTENDS}


def create_frontend(spec: str, allocator: Allocator, base_params: FrontendParams | None = None) -> Frontend:
    """Build a frontend from ``NAME[:key=value...]`` around ``allocator``."""
    name, overrides = split_spec(spec)
    cls = lookup(FRONTENDS, name, "frontend")
    return cls(allocator, build_params(cls.Params, name, overrides, base_params))


__all__ = ["FRONTENDS", "create_frontend", "Frontend", "FrontendParams", "FrontendSummary", "PageKind", "Slot"]
