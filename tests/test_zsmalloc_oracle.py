"""The zsmalloc model against Debian's real 6.1 (v4 era, chain 4, used-percent) and 6.12
(current era, chain 8) kernels: recorded oracle traces (tests/golden/zsmalloc/README.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from zdensity.commands.validate import compare_oracle, load_oracle

GOLDEN = Path(__file__).parent / "golden" / "zsmalloc"


@pytest.mark.parametrize("name,spec", [
    ("oracle-6.1-lzo.json.gz", "zsmalloc:chain_size=4:chain_rule=used-percent:era=v4"),
    ("oracle-6.12-lz4.json.gz", "zsmalloc"),
])
def test_oracle_trace_exact(name, spec):
    data = load_oracle(str(GOLDEN / name))
    fe, results = compare_oracle(data)
    assert fe.allocator.spec() == spec
    assert len(results) == 14 and sum(r["name"] == "compact" for r in results) == 5
    for r in results:
        assert r["mm_stat_diffs"] == 0 and r["cells_differ"] == 0 and r["cells"] > 600, r
    assert fe.pages_compacted > 0


def test_oracle_detects_wrong_era():
    """The same 6.1 trace replayed with the current era differs (the check has teeth)."""
    data = load_oracle(str(GOLDEN / "oracle-6.1-lzo.json.gz"))
    _, results = compare_oracle(data, allocator="zsmalloc:era=current")
    assert sum(r["cells_differ"] for r in results) > 0
