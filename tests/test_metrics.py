"""Every metric formula on hand-computed tables."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analysis import metrics as M

SUMMARY = pd.DataFrame({
    "workload": ["w", "w", "w", "v"],
    "codec": ["lzo"] * 4,
    "frontend": ["zram"] * 4,
    "allocator": ["zsmalloc", "zbud", "ideal", "zbud"],
    "stored_objects": [300, 300, 300, 10],
    "zero_pages": [10, 10, 10, 0],
    "same_pages": [5, 5, 5, 0],
    "compressed_bytes": [409600, 409600, 409600, 4096],
    "pool_pages": [120, 200, 100, 0],
})
SUMMARY["pool_bytes"] = SUMMARY["pool_pages"] * 4096


def test_density_effective_ratio():
    assert M.density(SUMMARY).tolist()[:3] == [2.5, 1.5, 3.0]
    assert math.isnan(M.density(SUMMARY)[3])
    assert M.effective_ratio(SUMMARY).tolist()[:3] == [315 / 120, 315 / 200, 3.15]
    tl = pd.DataFrame({"live_pages": [7], "stored_objects": [5], "pool_pages": [2]})
    assert M.effective_ratio(tl).tolist() == [3.5]


def test_space_efficiency_fragmentation_mib():
    # 409600 B in 120 pages = 491520 B -> 0.8333
    assert M.space_efficiency(SUMMARY)[0] == pytest.approx(409600 / 491520)
    assert M.fragmentation(SUMMARY)[2] == pytest.approx(0.0)
    assert M.fragmentation(SUMMARY)[1] == pytest.approx(1 - 409600 / 819200)
    assert M.pool_mib(SUMMARY).tolist()[:3] == [120 * 4096 / 2**20, 200 * 4096 / 2**20, 100 * 4096 / 2**20]


def test_versus_baseline_within_group():
    v = M.versus(SUMMARY, "zsmalloc")
    assert v[0] == 0 and v[1] == pytest.approx(200 / 120 - 1) and v[2] == pytest.approx(100 / 120 - 1)
    assert math.isnan(v[3])  # workload v has no zsmalloc row
    d = M.versus(SUMMARY, "ideal", "stored_objects")
    assert d[:3].tolist() == [0, 0, 0]


def test_waste_shares_and_total():
    w = pd.DataFrame({"workload": ["w"], "codec": ["c"], "frontend": ["f"], "allocator": ["a"], "pool_bytes": [8192],
                      "payload_bytes": [4096], "header_bytes": [1024], "internal_frag_bytes": [1024],
                      "external_frag_bytes": [2048], "metadata_bytes": [0]})
    s = M.waste_shares(w)
    assert s.loc[0, ["payload_share", "header_share", "internal_frag_share", "external_frag_share",
                     "metadata_share"]].tolist() == [0.5, 0.125, 0.125, 0.25, 0.0]
    assert M.waste_total(w).tolist() == [0]
    w.loc[0, "metadata_bytes"] = 1
    assert M.waste_total(w).tolist() == [1]


def test_phase_changes():
    ph = pd.DataFrame({"workload": ["w"] * 3, "codec": ["c"] * 3, "frontend": ["f"] * 3, "allocator": ["a"] * 3,
                       "phase": ["fill", "churn", "compact"], "n_events": [10, 20, 21],
                       "pool_pages": [50, 70, 61], "density": [1.0, 1.0, 1.0]})
    assert M.phase_changes(ph)["pool_pages_change"].tolist() == [50, 20, -9]


def test_class_occupancy():
    cl = pd.DataFrame({"class": [0, 1, 2], "size": [32, 48, 64], "obj_allocated": [128, 0, 64],
                       "obj_used": [64, 0, 63], "pages_used": [1, 0, 1]})
    occ = M.class_occupancy(cl)
    assert occ["class"].tolist() == [0, 2]
    assert occ["occupancy"].tolist() == [0.5, 63 / 64]
    assert occ["objs_per_page"].tolist() == [64.0, 63.0]


def test_size_summary_and_cdf():
    sz = pd.DataFrame({"workload": ["w"] * 4, "codec": ["c"] * 4, "kind": ["data", "data", "zero", "same"],
                       "size_bytes": [100, 300, 0, 20], "n_stores": [3, 1, 2, 1]})
    s = M.size_summary(sz).iloc[0]
    assert (s["n_stores"], s["zero_stores"], s["same_stores"], s["data_stores"]) == (7, 2, 1, 4)
    assert s["mean_bytes"] == 150.0  # (3*100 + 300) / 4
    assert s["sd_bytes"] == pytest.approx(np.sqrt((3 * 50**2 + 150**2) / 4))
    cdf = M.size_cdf(sz)
    assert cdf["size_bytes"].tolist() == [100, 300] and cdf["cdf"].tolist() == [0.75, 1.0]


def test_versus_compares_within_page_size():
    df = pd.DataFrame({"workload": ["w"] * 4, "codec": ["c"] * 4, "frontend": ["f"] * 4, "page_size": [4096, 4096, 16384, 16384],
                       "allocator": ["zsmalloc", "zbud", "zsmalloc:page_size=16384", "zbud:page_size=16384"],
                       "pool_pages": [100, 150, 30, 60]})
    assert M.versus(df, "zsmalloc").tolist() == [0.0, 0.5, 0.0, 1.0]
    assert M.base_spec("zsmalloc:page_size=16384:chain_size=4") == "zsmalloc:chain_size=4"
