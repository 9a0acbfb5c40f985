"""Traces: event streams on disk and in memory.

CSV with header ``op,page,size`` and an optional fourth column ``kind``
(``data``/``zero``/``same``); Parquet with the same columns when the file ends in
``.parquet``.

- ``store``: page, compressed size in bytes.  Without a ``kind`` column, size 0 means a
  same-filled (zero) page; sizes >= the frontend's huge threshold are incompressible pages;
  sizes above the page size are valid (codecs expand incompressible data, e.g. LZO up to
  4096 + 4096/16 + 67); a size above twice the page size (zswap's compression buffer) is
  malformed.  With ``kind``, ``zero`` pages have size 0 and ``same`` pages carry their
  compressed size (for frontends that compress non-zero same-filled pages).
- ``free``: page; size empty or 0.
- ``compact``: page and size empty.

A sidecar ``TRACE.json`` (same name + ``.json``) records codec, library version, level,
page size, source hash, generator and phases (``[[name, first_event_index], ...]``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from allocators.frontends.base import PageKind
from workloads.atomic import atomic_open
from workloads.errors import InputError

OP_STORE, OP_FREE, OP_COMPACT = 0, 1, 2
OP_NAMES = {"store": OP_STORE, "free": OP_FREE, "compact": OP_COMPACT}
OP_TEXT = {v: k for k, v in OP_NAMES.items()}
KIND_NAMES = {"data": PageKind.DATA, "zero": PageKind.ZERO, "same": PageKind.SAME}
KIND_TEXT = {int(v): k for k, v in KIND_NAMES.items()}


@dataclass
class Trace:
    """Events as parallel numpy columns: ``ops`` (uint8 ``OP_*``), ``pages`` (int64, -1
    for compact), ``sizes`` (int32 bytes), ``kinds`` (uint8 ``PageKind``).  ``meta`` is
    the sidecar dict (``workload``, ``page_size``, ``codec``, ``phases``, ...)."""

    ops: np.ndarray
    pages: np.ndarray
    sizes: np.ndarray
    kinds: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.ops.shape[0])

    @property
    def name(self) -> str:
        return str(self.meta.get("workload", "trace"))

    @property
    def page_size(self) -> int:
        return int(self.meta.get("page_size", 4096))

    @property
    def phases(self) -> list[tuple[str, int]]:
        """``(name, first event index)`` of each phase, in order (one ``run`` phase when
        the trace has none)."""
        phases = self.meta.get("phases") or [["run", 0]]
        return [(str(n), int(i)) for n, i in phases]

    def events(self) -> Iterator[tuple[int, int, int, int]]:
        """``(op, page, size, kind)`` tuples of plain ints."""
        return zip(self.ops.tolist(), self.pages.tolist(), self.sizes.tolist(), self.kinds.tolist())

    @classmethod
    def from_columns(cls, ops, pages, sizes, kinds, meta: dict[str, Any] | None = None) -> "Trace":
        return cls(
            np.asarray(ops, dtype=np.uint8),
            np.asarray(pages, dtype=np.int64),
            np.asarray(sizes, dtype=np.int32),
            np.asarray(kinds, dtype=np.uint8),
            dict(meta or {}),
        )


def sidecar_path(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def write_trace(trace: Trace, path: str | Path) -> None:
    """Write ``trace`` as CSV (or Parquet for ``.parquet``) plus its sidecar, atomically."""
    path = Path(path)
    if path.suffix == ".parquet":
        df = trace_frame(trace)
        with atomic_open(path, "wb") as fh:
            df.to_parquet(fh, index=False)
    else:
        with atomic_open(path, "w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["op", "page", "size", "kind"])
            for op, page, size, kind in trace.events():
                if op == OP_COMPACT:
                    w.writerow(["compact", "", "", ""])
                elif op == OP_FREE:
                    w.writerow(["free", page, "", ""])
                else:
                    w.writerow(["store", page, size, KIND_TEXT[kind]])
    with atomic_open(sidecar_path(path), "w") as fh:
        json.dump(trace.meta, fh, indent=2, sort_keys=True, default=str)
        fh.write("\n")


def trace_frame(trace: Trace):
    import pandas as pd

    store = trace.ops == OP_STORE
    # as in the CSV: no page for compact, no size or kind for free and compact
    return pd.DataFrame(
        {
            "op": [OP_TEXT[o] for o in trace.ops.tolist()],
            "page": pd.Series(trace.pages, dtype="Int64").where(trace.ops != OP_COMPACT),
            "size": pd.Series(trace.sizes, dtype="Int64").where(store),
            "kind": [KIND_TEXT[k] if s else None for k, s in zip(trace.kinds.tolist(), store.tolist())],
        }
    )


def read_trace(path: str | Path, page_size: int | None = None) -> Trace:
    """Read and validate a trace; raise ``InputError`` naming ``file:line`` on bad input.

    ``page_size``: used for validation and recorded in ``meta`` (default: the sidecar's,
    else 4096)."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file")
    if not path.is_file():
        raise InputError(f"{path}: not a regular file")
    meta: dict[str, Any] = {}
    side = sidecar_path(path)
    if side.exists():
        try:
            meta = json.loads(side.read_text())
            if not isinstance(meta, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            raise InputError(f"{side}: malformed sidecar JSON ({exc})") from None
    ps = int(page_size or meta.get("page_size") or 4096)
    meta["page_size"] = ps
    meta.setdefault("workload", path.name.split(".")[0])
    rows = _parquet_rows(path) if path.suffix == ".parquet" else _csv_rows(path)
    ops, pages, sizes, kinds = [], [], [], []
    max_size = 2 * ps
    for lineno, row in rows:
        where = f"{path}:{lineno}"
        if len(row) < 3 or len(row) > 4:
            raise InputError(f"{where}: expected 3 or 4 fields (op,page,size[,kind]), got {len(row)}")
        op_text = row[0].strip()
        op = OP_NAMES.get(op_text)
        if op is None:
            raise InputError(f"{where}: unknown op {op_text!r} (expected store, free or compact)")
        page_text, size_text = row[1].strip(), row[2].strip()
        kind_text = row[3].strip() if len(row) == 4 else ""
        if op == OP_COMPACT:
            if page_text or size_text:
                raise InputError(f"{where}: compact takes no page or size")
            ops.append(op), pages.append(-1), sizes.append(0), kinds.append(0)
            continue
        page = _int(page_text, where, "page")
        if page < 0:
            raise InputError(f"{where}: negative page {page}")
        if op == OP_FREE:
            if size_text not in ("", "0"):
                raise InputError(f"{where}: free takes no size")
            ops.append(op), pages.append(page), sizes.append(0), kinds.append(0)
            continue
        size = _int(size_text, where, "size")
        if size < 0:
            raise InputError(f"{where}: negative size {size}")
        if size > max_size:
            raise InputError(f"{where}: size {size} exceeds twice the page size ({max_size})")
        if kind_text:
            if kind_text not in KIND_NAMES:
                raise InputError(f"{where}: unknown kind {kind_text!r} (expected data, zero or same)")
            kind = KIND_NAMES[kind_text]
            if kind == PageKind.DATA and size == 0:
                raise InputError(f"{where}: a data page needs a size > 0")
        else:
            kind = PageKind.ZERO if size == 0 else PageKind.DATA
        ops.append(op), pages.append(page), sizes.append(size), kinds.append(int(kind))
    if not ops:
        raise InputError(f"{path}: trace has no events")
    return Trace.from_columns(ops, pages, sizes, kinds, meta)


def _int(text: str, where: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(f"{where}: {what} {text!r} is not an integer") from None


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            if header is None:
                raise InputError(f"{path}: empty trace")
            names = [h.strip().lower() for h in header]
            if names[:3] != ["op", "page", "size"] or names[3:] not in ([], ["kind"]):
                raise InputError(f"{path}:1: header must be op,page,size[,kind], got {','.join(header)}")
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip()):
                    continue
                yield reader.line_num, row
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text CSV file") from None
    except csv.Error as exc:
        raise InputError(f"{path}: malformed CSV ({exc})") from None


def _parquet_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    import pandas as pd

    try:
        df = pd.read_parquet(path)
    except Exception as exc:
        raise InputError(f"{path}: cannot read Parquet ({exc})") from None
    cols = [c.lower() for c in df.columns]
    if cols[:3] != ["op", "page", "size"]:
        raise InputError(f"{path}: columns must be op,page,size[,kind]")
    df = df.astype(object).where(df.notna(), "")
    for i, row in enumerate(df.itertuples(index=False), start=2):
        yield i, ["" if v is None else str(v) for v in row]
