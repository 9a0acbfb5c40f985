"""The CLI end to end: a hand-written trace through zram, and every bad input giving one
line on stderr, exit status 2 and nothing written."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.summary import SUMMARY_COLUMNS
from zdensity.cli import main

HAND_TRACE = """op,page,size
store,0,100
store,1,0
store,2,3700
store,2,3700
store,3,500
store,0,3000
free,3,
store,4,0
free,4,
compact,,
"""


def test_zram_counters_on_hand_trace(tmp_path, capsys):
    """Worked by hand with the ideal packer (pool = ceil(live bytes / 4096)):
    step 3 stores page 2 whole (3700 >= 3625); its overwrite allocates the new 4096 bytes
    before freeing the old (8292 live bytes -> 3 pages, the maximum); page 0's overwrite
    likewise; at the end pages 0 (3000 B), 1 (zero) and 2 (huge) are live: 7096 bytes in
    2 pages."""
    trace = tmp_path / "t.csv"
    trace.write_text(HAND_TRACE)
    out = tmp_path / "out"
    rc = main(["run", "--trace", str(trace), "--frontend", "zram:huge_threshold=3625",
               "--allocators", "ideal", "--out", str(out)])
    assert rc == 0
    df = pd.read_csv(out / "summary.csv")
    assert list(df.columns) == SUMMARY_COLUMNS
    row = df.iloc[0].to_dict()
    expect = {"workload": "t", "codec": "trace", "frontend": "zram:huge_threshold=3625", "allocator": "ideal",
              "page_size": 4096, "pages_in": 7, "zero_pages": 1, "same_pages": 0, "huge_pages": 1,
              "rejected_pages": 0, "stored_objects": 2, "compressed_bytes": 7096, "pool_pages": 2,
              "pool_bytes": 8192}
    assert {k: row[k] for k in expect} == expect
    assert row["density"] == pytest.approx(1.0)
    assert row["effective_ratio"] == pytest.approx(1.5)
    assert row["fragmentation"] == pytest.approx(1 - 7096 / 8192, rel=1e-5)
    counters = json.loads((out / "config.json").read_text())["runs"][0]["counters"]
    assert counters == {
        "orig_data_size": 3 * 4096, "compr_data_size": 7096, "mem_used_total": 8192, "mem_limit": 0,
        "mem_used_max": 3 * 4096, "same_pages": 1, "pages_compacted": 0, "huge_pages": 1,
        "huge_pages_since": 2, "notify_free": 2,
    }
    assert "ideal" in capsys.readouterr().out


def test_mem_limit_rejects_and_keeps_old(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("op,page,size\nstore,0,3000\nstore,1,3000\nstore,0,2000\n")
    out = tmp_path / "out"
    assert main(["run", "--trace", str(trace), "--frontend", "zram:mem_limit_pages=2",
                 "--allocators", "ideal", "--out", str(out)]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    # the overwrite needs 8000 live bytes (2 pages) -> allowed; no rejection
    assert row["rejected_pages"] == 0 and row["compressed_bytes"] == 5000
    trace.write_text("op,page,size\nstore,0,3000\nstore,1,3000\nstore,0,3000\n")
    out2 = tmp_path / "out2"
    assert main(["run", "--trace", str(trace), "--frontend", "zram:mem_limit_pages=2",
                 "--allocators", "ideal", "--out", str(out2)]) == 0
    row = pd.read_csv(out2 / "summary.csv").iloc[0]
    # 9000 live bytes = 3 pages > limit: the new object is freed, page 0 keeps its old data
    assert row["rejected_pages"] == 1 and row["compressed_bytes"] == 6000 and row["pool_pages"] == 2
    counters = json.loads((out2 / "config.json").read_text())["runs"][0]["counters"]
    assert counters["mem_used_max"] == 3 * 4096


def _bad(tmp_path, capsys, argv, pattern):
    out = tmp_path / "out"
    rc = main(argv + ["--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("zdensity: error:"), err
    assert pattern in lines[0], err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_dump(tmp_path, capsys):
    _bad(tmp_path, capsys, ["run", "--dump", str(tmp_path / "nope.bin")], "no such file")


def test_empty_dump(tmp_path, capsys):
    (tmp_path / "e.bin").write_bytes(b"")
    _bad(tmp_path, capsys, ["run", "--dump", str(tmp_path / "e.bin")], "empty dump")


def test_truncated_zst(tmp_path, capsys):
    import zstandard

    blob = zstandard.ZstdCompressor().compress(bytes(range(256)) * 16 * 40)
    (tmp_path / "t.zst").write_bytes(blob[: len(blob) // 2])
    _bad(tmp_path, capsys, ["run", "--dump", str(tmp_path / "t.zst"), "--no-cache"], "truncated")


def test_empty_directory_as_dump(tmp_path, capsys):
    # a directory of dumps is an input (each file one workload); an empty one is an error
    _bad(tmp_path, capsys, ["run", "--dump", str(tmp_path)], "directory has no dump files")


@pytest.mark.parametrize("body, where", [("store,1,-3\n", "t.csv:2"), ("store,1,9000\n", "t.csv:2"),
                                         ("store,1,10\nbogus,1,1\n", "t.csv:3")])
def test_malformed_trace(tmp_path, capsys, body, where):
    (tmp_path / "t.csv").write_text("op,page,size\n" + body)
    _bad(tmp_path, capsys, ["run", "--trace", str(tmp_path / "t.csv")], where)


@pytest.mark.parametrize("opt, value, pattern", [
    ("--codec", "snappy", "unknown codec 'snappy'; known: deflate, kernel, lz4, lzo, zstd"),
    ("--allocators", "nosuch", "unknown allocator 'nosuch'; known:"),
    ("--allocators", "ideal:bogus=1", "unknown parameter 'bogus'"),
    ("--frontend", "zcache", "unknown frontend 'zcache'; known:"),
])
def test_unknown_names(tmp_path, capsys, opt, value, pattern):
    (tmp_path / "t.csv").write_text("op,page,size\nstore,1,10\n")
    argv = ["run", opt, value] + (["--trace", str(tmp_path / "t.csv")] if opt != "--codec" else [])
    _bad(tmp_path, capsys, argv, pattern)


def test_page_size_not_power_of_two(tmp_path, capsys):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exc:
        main(["run", "--page-size", "5000", "--out", str(out)])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "not a power of two" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_help_explains_every_option(capsys):
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    text = capsys.readouterr().out
    for opt in ("--dump", "--trace", "--codec", "--frontend", "--allocators", "--page-size", "--jobs", "--out",
                "density = stored_objects / pool_pages"):
        assert opt in text


def test_frontend_allocator_pairs(tmp_path):
    """FRONTEND/ALLOCATOR entries run only behind their frontend; plain ones behind all."""
    trace = tmp_path / "t.csv"
    trace.write_text("op,page,size\nstore,0,100\nstore,1,3500\n")
    out = tmp_path / "out"
    assert main(["run", "--trace", str(trace), "--frontend", "zram",
                 "--allocators", "none/ideal,ideal:page_size=8192", "--out", str(out)]) == 0
    df = pd.read_csv(out / "summary.csv")
    assert list(zip(df.frontend, df.allocator)) == [("zram", "ideal:page_size=8192"), ("none", "ideal"),
                                                   ("none", "ideal:page_size=8192")]
    # behind 'none' the 3500-byte page is a plain object; behind zram (threshold from a
    # default zsmalloc, or the page size) it may be stored whole
    assert df.loc[df.frontend == "none", "compressed_bytes"].tolist() == [3600, 3600]


def test_kernel_preset_61_applies_to_allocator_and_zram(tmp_path):
    """--kernel 6.1: zsmalloc chain 4 / used-percent / v4 lists, and zram's huge threshold
    3257 (= 3264 - 7) also in front of allocators that are not zsmalloc."""
    trace = tmp_path / "t.csv"
    trace.write_text("op,page,size\nstore,0,3300\nstore,1,3200\n")
    out = tmp_path / "out"
    assert main(["run", "--trace", str(trace), "--kernel", "6.1", "--allocators",
                 "zsmalloc,ideal,zsmalloc:chain_size=8", "--out", str(out)]) == 0
    df = pd.read_csv(out / "summary.csv").set_index("allocator")
    assert df.loc["zsmalloc:chain_size=4:chain_rule=used-percent:era=v4", "huge_pages"] == 1
    assert df.loc["ideal", "huge_pages"] == 1  # 3300 >= 3257, 3200 < 3257
    # an explicit chain size overrides the preset: threshold becomes that pool's (3625)
    assert df.loc["zsmalloc:chain_rule=used-percent:era=v4", "huge_pages"] == 0


def test_unknown_kernel_release(tmp_path, capsys):
    (tmp_path / "t.csv").write_text("op,page,size\nstore,1,10\n")
    _bad(tmp_path, capsys, ["run", "--trace", str(tmp_path / "t.csv"), "--kernel", "2.4"], "unknown kernel release")


def test_raw_pages_of_legacy_zram_count_as_stored_objects(tmp_path):
    """3.4 zram keeps a page compressing above 3072 B whole in a page outside the pool:
    it is a stored zpage in a pageframe of mem_used_total, so density counts it."""
    trace = tmp_path / "t.csv"
    trace.write_text("op,page,size\nstore,0,3500\nstore,1,100\n")
    out = tmp_path / "out"
    assert main(["run", "--trace", str(trace), "--frontend", "zram-legacy", "--allocators", "ideal",
                 "--out", str(out)]) == 0
    row = pd.read_csv(out / "summary.csv").iloc[0]
    assert (row["stored_objects"], row["huge_pages"], row["pool_pages"], row["compressed_bytes"]) == (2, 1, 2, 4196)
    assert row["density"] == pytest.approx(1.0)
