"""Trace format: round trip, and every malformed line reported as file:line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from allocators.frontends.base import PageKind
from workloads.errors import InputError
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace, read_trace, write_trace


def write(tmp_path, text, name="t.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_round_trip_with_sidecar(tmp_path):
    t = Trace.from_columns(
        [OP_STORE, OP_STORE, OP_STORE, OP_FREE, OP_COMPACT],
        [0, 1, 2, 0, -1],
        [100, 0, 44, 0, 0],
        [PageKind.DATA, PageKind.ZERO, PageKind.SAME, 0, 0],
        {"workload": "w", "codec": "lzo", "page_size": 4096, "phases": [["fill", 0], ["churn", 3]]},
    )
    p = tmp_path / "t.csv"
    write_trace(t, p)
    assert p.read_text().splitlines()[:4] == ["op,page,size,kind", "store,0,100,data", "store,1,0,zero", "store,2,44,same"]
    assert json.loads((tmp_path / "t.csv.json").read_text())["codec"] == "lzo"
    back = read_trace(p)
    for col in ("ops", "pages", "sizes", "kinds"):
        assert np.array_equal(getattr(back, col), getattr(t, col))
    assert back.phases == [("fill", 0), ("churn", 3)]


def test_three_column_trace_size_zero_is_same_filled(tmp_path):
    t = read_trace(write(tmp_path, "op,page,size\nstore,5,0\nstore,6,4200\nfree,5,\ncompact,,\n"))
    assert t.kinds.tolist() == [PageKind.ZERO, PageKind.DATA, 0, 0]
    assert t.sizes.tolist() == [0, 4200, 0, 0]
    assert t.ops.tolist() == [OP_STORE, OP_STORE, OP_FREE, OP_COMPACT]


@pytest.mark.parametrize(
    "body, message",
    [
        ("store,1,-5\n", r"t.csv:2: negative size -5"),
        ("store,1,8193\n", r"t.csv:2: size 8193 exceeds twice the page size"),
        ("store,1,abc\n", r"t.csv:2: size 'abc' is not an integer"),
        ("store,x,10\n", r"t.csv:2: page 'x' is not an integer"),
        ("store,-1,10\n", r"t.csv:2: negative page"),
        ("write,1,10\n", r"t.csv:2: unknown op 'write'"),
        ("store,1,10\nstore,1\n", r"t.csv:3: expected 3 or 4 fields"),
        ("free,1,12\n", r"t.csv:2: free takes no size"),
        ("compact,3,\n", r"t.csv:2: compact takes no page"),
        ("store,1,10,blue\n", r"t.csv:2: unknown kind 'blue'"),
        ("", r"trace has no events"),
    ],
)
def test_malformed_lines(tmp_path, body, message):
    header = "op,page,size\n" if body.count(",") < 3 * body.count("\n") or not body else "op,page,size,kind\n"
    with pytest.raises(InputError, match=message):
        read_trace(write(tmp_path, header + body))


def test_bad_header_and_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"t.csv:1: header must be op,page,size"):
        read_trace(write(tmp_path, "a,b,c\nstore,1,1\n"))
    with pytest.raises(InputError, match="empty trace"):
        read_trace(write(tmp_path, ""))
    with pytest.raises(InputError, match="no such file"):
        read_trace(tmp_path / "missing.csv")


def test_page_size_from_sidecar_bounds_sizes(tmp_path):
    p = write(tmp_path, "op,page,size\nstore,1,20000\n")
    (tmp_path / "t.csv.json").write_text(json.dumps({"page_size": 16384}))
    assert read_trace(p).sizes.tolist() == [20000]
    with pytest.raises(InputError, match="exceeds twice the page size"):
        read_trace(p, page_size=4096)
