"""Plain-text tables for terminals and mailing-list posts (ASCII only)."""

from __future__ import annotations

import pandas as pd

SHORT_COLUMNS = ["workload", "codec", "frontend", "allocator", "stored_objects", "rejected_pages", "pool_pages", "density",
                 "effective_ratio", "fragmentation"]


def format_summary(summary: pd.DataFrame) -> str:
    """A compact fixed-width view of summary.csv for the terminal."""
    df = summary[SHORT_COLUMNS].copy()
    for col in ("density", "effective_ratio"):
        df[col] = df[col].map(lambda v: f"{v:.3f}")
    df["fragmentation"] = df["fragmentation"].map(lambda v: f"{v:.1%}")
    return df.to_string(index=False)
