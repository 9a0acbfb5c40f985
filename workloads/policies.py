"""Policies turn per-page sizes into event streams (traces).

``fill``: store every page once, in page order (the default; what writing a dump into a
zram device or swapping a process out page by page does).
"""

from __future__ import annotations

import numpy as np

from workloads.measure import PageSizes
from workloads.trace import OP_STORE, Trace


def fill(ps: PageSizes) -> Trace:
    """One ``store`` per page, page ``i`` at index ``i``."""
    n = ps.n_pages
    meta = {**ps.meta, "policy": "fill", "phases": [["fill", 0]]}
    return Trace.from_columns(np.full(n, OP_STORE), np.arange(n), ps.sizes, ps.kinds, meta)
