"""The summary table: one row per (workload, codec, frontend, allocator).

Columns, in this order (a stable contract):
``workload, codec, frontend, allocator, page_size, pages_in, zero_pages, same_pages,
huge_pages, rejected_pages, stored_objects, compressed_bytes, pool_pages, pool_bytes,
density, effective_ratio, fragmentation`` where

- ``pool_bytes = pool_pages * page_size``
- ``density = stored_objects / pool_pages`` (zpages per pageframe, the 2013 LKML
  definition; NaN for an empty pool)
- ``effective_ratio = live_pages / pool_pages``, live pages including zero and
  same-filled pages
- ``fragmentation = 1 - compressed_bytes / pool_bytes``
"""

from __future__ import annotations

import math

from allocators.frontends.base import FrontendSummary

SUMMARY_COLUMNS = [
    "workload", "codec", "frontend", "allocator", "page_size", "pages_in", "zero_pages",
    "same_pages", "huge_pages", "rejected_pages", "stored_objects", "compressed_bytes",
    "pool_pages", "pool_bytes", "density", "effective_ratio", "fragmentation",
]


def summary_row(workload: str, codec: str, frontend: str, allocator: str, page_size: int, s: FrontendSummary) -> dict:
    """One summary.csv row from a run's ``FrontendSummary`` (formulas in the module doc)."""
    pool_bytes = s.pool_pages * page_size
    nan = math.nan
    return {
        "workload": workload,
        "codec": codec,
        "frontend": frontend,
        "allocator": allocator,
        "page_size": page_size,
        "pages_in": s.pages_in,
        "zero_pages": s.zero_pages,
        "same_pages": s.same_pages,
        "huge_pages": s.huge_pages,
        "rejected_pages": s.rejected_pages,
        "stored_objects": s.stored_objects,
        "compressed_bytes": s.compressed_bytes,
        "pool_pages": s.pool_pages,
        "pool_bytes": pool_bytes,
        "density": s.stored_objects / s.pool_pages if s.pool_pages else nan,
        "effective_ratio": s.live_pages / s.pool_pages if s.pool_pages else nan,
        "fragmentation": 1 - s.compressed_bytes / pool_bytes if pool_bytes else nan,
    }
