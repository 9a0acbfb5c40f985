"""The mailing-list report: width, ASCII, content, formats and the CLI."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from analysis import load_run, run_experiment, write_results
from analysis.report import WIDTH, ascii_text, format_report, report_table
from workloads.errors import InputError
from workloads.trace import OP_STORE, Trace
from zdensity.cli import main as cli_main

SIZES = [700, 1500, 2500, 3000, 300, 100, 0, 4000]


def tiny_trace() -> Trace:
    kinds = [0 if s else 1 for s in SIZES]
    return Trace.from_columns([OP_STORE] * len(SIZES), range(len(SIZES)), SIZES, kinds,
                              {"workload": "tiny", "page_size": 4096, "phases": [["fill", 0]]})


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    allocs = ["ideal", "zsmalloc", "zsmalloc:chain_size=4:class_delta=16:chain_rule=used-percent"]
    exp = run_experiment(traces={("tiny", "lzo"): tiny_trace()}, frontends="zram", allocators=allocs)
    exp.config["command"] = "zdensity run --trace tiny.csv --frontend zram --allocators " + ",".join(allocs)
    out = tmp_path_factory.mktemp("run")
    write_results(exp, out)
    return out


def test_text_width_ascii_and_content(run_dir):
    run = load_run(run_dir)
    text = format_report(run)
    lines = text.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert text.isascii()
    assert "command: zdensity run --trace tiny.csv" in text
    assert "workload: tiny, codec lzo, frontend zram, 4096 B pages" in text
    # 8 stores: 1 zero page, 1 huge (4000 >= 3625), 6 objects
    assert "8 pages in: 1 zero, 0 same-filled, 1 huge" in text
    assert "model zram:" in text and "model zsmalloc:" in text
    s = run["summary"].set_index("allocator")
    row = next(line for line in lines if line.startswith("ideal "))
    assert f"{s.loc['ideal', 'density']:.3f}" in row
    ideal_vs = s.loc["ideal", "pool_pages"] / s.loc["zsmalloc", "pool_pages"] - 1
    assert f"{ideal_vs * 100:+.1f}%" in row
    assert next(line for line in lines if line.startswith("zsmalloc ")).split()[4] == "+0.0%"
    # a spec longer than the name column gets its own line
    assert "zsmalloc:chain_size=4:class_delta=16:chain_rule=used-percent" in lines


def test_baseline_choice(run_dir):
    run = load_run(run_dir)
    t = report_table(run, "ideal")
    assert t.attrs["baseline"] == "ideal"
    assert t.loc[t["allocator"] == "ideal", "pool_vs_baseline"].tolist() == [0.0]
    assert "vs ideal" in format_report(run, baseline="ideal")
    with pytest.raises(InputError, match="not in this run"):
        format_report(run, baseline="nope")


def test_markdown_and_csv(run_dir):
    run = load_run(run_dir)
    md = format_report(run, "markdown")
    assert "| allocator | density | pool MiB | frag | vs zsmalloc | rejected |" in md
    assert md.count("| `") == 3
    csv = pd.read_csv(io.StringIO(format_report(run, "csv")))
    assert list(csv.columns) == ["workload", "codec", "frontend", "allocator", "density", "pool_mib",
                                 "fragmentation", "pool_vs_baseline", "rejected_pages"]
    assert len(csv) == 3
    with pytest.raises(InputError):
        format_report(run, "html")


def test_ascii_text():
    assert ascii_text("3.4\u20133.13 caf\u00e9 \u201cq\u201d \u2713") == '3.4-3.13 cafe "q" ?'


def test_cli_report(run_dir, tmp_path, capsys):
    assert cli_main(["report", str(run_dir)]) == 0
    assert "density report" in capsys.readouterr().out
    out = tmp_path / "r.md"
    assert cli_main(["report", str(run_dir), "--format", "markdown", "--out", str(out)]) == 0
    assert out.read_text().startswith("## zdensity density report")
    assert cli_main(["report", str(tmp_path / "missing")]) == 2
    assert "no summary.csv" in capsys.readouterr().err
