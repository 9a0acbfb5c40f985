"""Kernel presets (allocators.presets)."""

from __future__ import annotations

import dataclasses

import pytest

import allocators as A
from allocators.frontends import FRONTENDS, create_frontend
from allocators.presets import TABLE, parse_release, preset_params, preset_values
from allocators.zsmalloc import ZsmallocParams


def test_6_1_is_v4_chain4_used_percent_and_zram_3257():
    p = preset_params("6.1", "zsmalloc", ZsmallocParams)
    assert (p.era, p.chain_size, p.chain_rule) == ("v4", 4, "used-percent")
    zs = A.create("zsmalloc", p)
    assert zs.huge_class_size == 3257
    zram_params = preset_params("6.1", "zram", FRONTENDS["zram"].Params)
    fe = create_frontend("zram", zs, zram_params)
    assert fe.huge_threshold == 3257


def test_6_3_hybrid_and_6_4_current():
    p = preset_params("6.3", "zsmalloc", ZsmallocParams)
    assert (p.era, p.chain_size, p.chain_rule) == ("v4", 8, "min-waste")
    for rel in ("6.4", "6.12", "6.18.44-fc-v657"):
        assert preset_params(rel, "zsmalloc", ZsmallocParams) == ZsmallocParams()


def test_old_zram_threshold_and_page_size():
    assert preset_values("4.9", "zram") == {"huge_threshold": 3073}
    assert preset_values("4.9", "zram", page_size=16384) == {"huge_threshold": 12289}
    assert preset_values("5.10", "zram") == {"huge_threshold": 0}
    p = preset_params("5.10", "zsmalloc", ZsmallocParams, page_size=16384)
    assert p.page_size == 16384 and p.chain_size == 4


def test_explicit_values_override_preset():
    base = preset_params("6.1", "zsmalloc", ZsmallocParams)
    zs = A.create("zsmalloc:chain_size=8", base)
    assert (zs.params.chain_size, zs.params.era) == (8, "v4")


def test_unknown_release_lists_known():
    for bad in ("banana", "3.10", "9.1", ""):
        with pytest.raises(A.SpecError, match="known: .*6.1"):
            parse_release(bad)
    assert preset_params("6.1", "nosuch", ZsmallocParams) is None


def test_table_rows_name_real_parameters():
    from allocators import REGISTRY
    for row in TABLE:
        cls = REGISTRY.get(row.name) or FRONTENDS.get(row.name)
        assert cls is not None, row.name
        fields = {f.name for f in dataclasses.fields(cls.Params)}
        assert set(row.values) <= fields, row
        assert row.change


def test_describe_cites_changes():
    from allocators.presets import describe
    rows = describe("6.1")
    assert any(r[:2] == ("zsmalloc", "4.1") for r in rows)
    assert all(since != "6.3" for _, since, _, _ in rows)
    assert {r[1] for r in describe("6.12") if r[0] == "zsmalloc"} == {"4.1", "6.3", "6.4"}
    assert all(change for _, _, change, _ in describe("6.12"))


def test_zram_free_first_window():
    assert preset_values("6.12", "zram").get("free_first", False) is False
    assert preset_values("6.15", "zram")["free_first"] is True
    assert preset_values("6.18", "zram")["free_first"] is False
