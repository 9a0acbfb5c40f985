"""Metrics: pure functions of the result tables (DataFrames in, Series/DataFrames out).

Every function states its formula.  Ratios whose denominator is zero are NaN.  Runs are
identified by ``KEYS`` (workload, codec, frontend, allocator); comparisons between
allocators are made within one (workload, codec, frontend) group.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from allocators.base import WASTE_KINDS
from analysis.recorders import KEYS

GROUP = ["workload", "codec", "frontend"]
"""One comparison: the runs of every allocator on the same input through the same frontend."""

MIB = 1 << 20


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    den = den.astype(float)
    return num.astype(float) / den.where(den != 0)


def density(df: pd.DataFrame) -> pd.Series:
    """``stored_objects / pool_pages``: objects (zpages) per pageframe (the 2013 LKML
    definition)."""
    return _ratio(df["stored_objects"], df["pool_pages"])


def effective_ratio(df: pd.DataFrame) -> pd.Series:
    """``live_pages / pool_pages`` when the table has ``live_pages`` (timeline, phases),
    else ``(stored_objects + zero_pages + same_pages) / pool_pages`` (summary: live
    pages are the stored objects plus the pages held without an allocation)."""
    live = df["live_pages"] if "live_pages" in df else df["stored_objects"] + df["zero_pages"] + df["same_pages"]
    return _ratio(live, df["pool_pages"])


def space_efficiency(df: pd.DataFrame) -> pd.Series:
    """``compressed_bytes / pool_bytes``: zram.rst's ``compr_data_size / mem_used_total``."""
    return _ratio(df["compressed_bytes"], df["pool_bytes"])


def fragmentation(df: pd.DataFrame) -> pd.Series:
    """``1 - compressed_bytes / pool_bytes``: the share of the pool not holding accounted
    compressed bytes."""
    return 1 - space_efficiency(df)


def pool_mib(df: pd.DataFrame) -> pd.Series:
    """``pool_bytes / 2**20``."""
    return df["pool_bytes"].astype(float) / MIB


def comparison_keys(df: pd.DataFrame) -> list[str]:
    """``GROUP`` plus ``page_size`` when the table has that column: allocators are compared
    only on the same input, frontend and page size."""
    return GROUP + (["page_size"] if "page_size" in df else [])


def base_spec(spec: str) -> str:
    """An allocator spec without its ``page_size=N`` part (``zsmalloc:page_size=16384:
    chain_size=4`` -> ``zsmalloc:chain_size=4``): the same allocator at another page size."""
    return ":".join(p for p in str(spec).split(":") if not p.startswith("page_size="))


def versus(df: pd.DataFrame, baseline: str, column: str = "pool_pages") -> pd.Series:
    """``column / column[baseline] - 1`` within each group of ``comparison_keys`` (e.g.
    +0.05 = 5 % more pool pages than the baseline allocator on the same input, frontend
    and page size); the baseline row is the one whose ``base_spec(allocator)`` is
    ``baseline``; NaN where a group has none."""
    keys = comparison_keys(df)
    is_base = df["allocator"].map(base_spec) == base_spec(baseline)
    base = df.loc[is_base, keys + [column]].drop_duplicates(keys)
    ref = df[keys].merge(base.rename(columns={column: "_ref"}), on=keys, how="left")["_ref"]
    ref.index = df.index
    return _ratio(df[column], ref) - 1


def waste_shares(waste: pd.DataFrame) -> pd.DataFrame:
    """Each ``WASTE_KINDS`` column divided by ``pool_bytes`` (the shares add up to 1),
    with the key columns kept; columns named ``*_share`` (``payload_share``, ...)."""
    out = waste[[k for k in KEYS if k in waste]].copy()
    for kind in WASTE_KINDS:
        out[kind.removesuffix("_bytes") + "_share"] = _ratio(waste[kind], waste["pool_bytes"])
    return out


def waste_total(waste: pd.DataFrame) -> pd.Series:
    """``sum(WASTE_KINDS) - pool_bytes`` per row: 0 for a correct breakdown."""
    return waste[list(WASTE_KINDS)].sum(axis=1) - waste["pool_bytes"]


def phase_changes(phases: pd.DataFrame) -> pd.DataFrame:
    """Per run and phase end: ``pool_pages`` and ``pool_pages_change = pool_pages -
    pool_pages at the previous phase end`` (the first phase's change is its own
    ``pool_pages``, the pool starting empty); a compaction phase's change is minus what
    compaction recovered."""
    out = phases[KEYS + ["phase", "n_events", "pool_pages", "density"]].copy()
    prev = out.groupby(KEYS, sort=False)["pool_pages"].shift(1).fillna(0)
    out["pool_pages_change"] = (out["pool_pages"] - prev).astype(int)
    return out


def class_occupancy(classes: pd.DataFrame) -> pd.DataFrame:
    """Per class row: ``occupancy = obj_used / obj_allocated`` (NaN for a class without
    units) and ``objs_per_page = obj_used / pages_used``; only classes holding pages."""
    out = classes[classes["pages_used"] > 0].copy()
    out["occupancy"] = _ratio(out["obj_used"], out["obj_allocated"])
    out["objs_per_page"] = _ratio(out["obj_used"], out["pages_used"])
    return out


def size_summary(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per (workload, codec) from the ``sizes`` histogram: ``n_stores`` (all kinds),
    ``zero_stores``, ``same_stores``, ``data_stores``, ``mean_bytes`` and ``sd_bytes``
    (population standard deviation) of the data stores' sizes, weighted by ``n_stores``."""
    rows = []
    for (workload, codec), g in sizes.groupby(["workload", "codec"], sort=False):
        by_kind = g.groupby("kind")["n_stores"].sum()
        data = g[g["kind"] == "data"]
        n = data["n_stores"].sum()
        mean = (data["size_bytes"] * data["n_stores"]).sum() / n if n else np.nan
        var = (data["n_stores"] * (data["size_bytes"] - mean) ** 2).sum() / n if n else np.nan
        rows.append({"workload": workload, "codec": codec, "n_stores": int(g["n_stores"].sum()),
                     "zero_stores": int(by_kind.get("zero", 0)), "same_stores": int(by_kind.get("same", 0)),
                     "data_stores": int(n), "mean_bytes": mean, "sd_bytes": float(np.sqrt(var))})
    return pd.DataFrame(rows, columns=["workload", "codec", "n_stores", "zero_stores", "same_stores",
                                       "data_stores", "mean_bytes", "sd_bytes"])


def size_cdf(sizes: pd.DataFrame) -> pd.DataFrame:
    """Per (workload, codec), over the data stores: ``size_bytes`` ascending and ``cdf`` =
    (stores with size <= size_bytes) / data stores."""
    data = sizes[sizes["kind"] == "data"].sort_values(["workload", "codec", "size_bytes"])
    out = data[["workload", "codec", "size_bytes", "n_stores"]].copy()
    cum = out.groupby(["workload", "codec"], sort=False)["n_stores"].cumsum()
    total = out.groupby(["workload", "codec"], sort=False)["n_stores"].transform("sum")
    out["cdf"] = cum / total
    return out.reset_index(drop=True)
