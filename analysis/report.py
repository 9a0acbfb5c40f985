"""The mailing-list report: a results directory as a table that fits an email.

``format_report(run, fmt, baseline)`` with ``run`` from ``load_run``:

- ``text``: fixed width, ASCII only, no line longer than ``WIDTH`` (72) characters; a
  header (command that reproduces the run, page size, kernel preset, the kernel code each
  frontend and allocator models) then one block per (workload, codec, frontend): the
  input (pages in, zero/same-filled, huge, compressed-size mean and sd) and one line per
  allocator with density, pool MiB, fragmentation, pool size against the baseline
  allocator and rejected pages.
- ``markdown``: the same as bullet lists and pipe tables.
- ``csv``: the per-allocator lines as CSV (keys, the figures, ``pool_vs_baseline``).

Figures: ``density = stored_objects / pool_pages``; ``pool MiB = pool_bytes / 2**20``;
``frag = fragmentation = 1 - compressed_bytes / pool_bytes``; ``vs BASE = pool_pages /
pool_pages[BASE] - 1`` (positive: more memory than the baseline).
"""

from __future__ import annotations

import io
import textwrap
import unicodedata
from typing import Any

import pandas as pd

from analysis import metrics as M
from workloads.errors import InputError

WIDTH = 72
FORMATS = ("text", "markdown", "csv")
DEFAULT_BASELINE = "zsmalloc"
NAME_WIDTH = 20


def resolve_baseline(summary: pd.DataFrame, baseline: str | None) -> str:
    """``baseline`` if some row's allocator is it (ignoring a ``page_size=N`` part, see
    ``metrics.base_spec``); with no explicit choice, ``zsmalloc`` if present, else the
    first allocator of the table.  An explicit baseline that is not in the run raises
    ``InputError``."""
    present = list(dict.fromkeys(summary["allocator"].map(M.base_spec)))
    if baseline is None:
        return DEFAULT_BASELINE if DEFAULT_BASELINE in present else present[0]
    if baseline not in present:
        raise InputError(f"baseline {baseline!r} is not in this run; allocators: {', '.join(present)}")
    return baseline


def report_table(run: dict[str, Any], baseline: str | None = None) -> pd.DataFrame:
    """One row per run: keys, ``density``, ``pool_mib``, ``fragmentation``,
    ``pool_vs_baseline`` (formulas in the module docstring), ``rejected_pages``."""
    s = run["summary"]
    base = resolve_baseline(s, baseline)
    out = s[["workload", "codec", "frontend", "allocator"]].copy()
    out["density"] = M.density(s)
    out["pool_mib"] = M.pool_mib(s)
    out["fragmentation"] = s["fragmentation"]
    out["pool_vs_baseline"] = M.versus(s, base)
    out["rejected_pages"] = s["rejected_pages"]
    out.attrs["baseline"] = base
    return out


def format_report(run: dict[str, Any], fmt: str = "text", baseline: str | None = None) -> str:
    """The report of a loaded run in ``fmt`` (``text``, ``markdown`` or ``csv``)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    table = report_table(run, baseline)
    if fmt == "csv":
        buf = io.StringIO()
        table.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
        return buf.getvalue()
    return _text(run, table) if fmt == "text" else _markdown(run, table)


_NOTE = ("density = objects / pool pages; frag = 1 - compressed / pool bytes; "
         "vs {base} = pool pages / {base}'s pool pages - 1.")
_REJECTED = ("rows with rejected pages did not store those pages, so their pool is smaller "
             "than it would be; compare them with care.")


# ---------------------------------------------------------------- shared content
def _header_items(run: dict[str, Any]) -> list[tuple[str, str]]:
    cfg = run.get("config", {})
    s = run["summary"]
    items = [("command", cfg.get("command") or "(not recorded: run by the Python API)"),
             ("page size", ", ".join(f"{p} B" for p in sorted(set(s["page_size"]))))]
    items.append(("kernel", f"rules of Linux {cfg['kernel_preset']}" if cfg.get("kernel_preset")
                  else "current rules (no --kernel preset)"))
    models: dict[str, str] = {}
    for r in cfg.get("runs", []):
        for kind in ("frontend", "allocator"):
            name = str(r.get(kind, "")).split(":")[0]
            if r.get(f"{kind}_models"):
                models.setdefault(name, r[f"{kind}_models"])
    items += [(f"model {name}", text) for name, text in models.items()]
    return items


def _input_items(run: dict[str, Any], group: pd.DataFrame) -> list[tuple[str, str]]:
    first = group.iloc[0]
    pages = (f"{first['pages_in']} pages in: {first['zero_pages']} zero, "
             f"{first['same_pages']} same-filled, {first['huge_pages']} huge")
    items = [("input", pages)]
    sizes = run.get("sizes")
    if sizes is not None and not sizes.empty:
        ss = M.size_summary(sizes[(sizes["workload"] == first["workload"]) & (sizes["codec"] == first["codec"])])
        if not ss.empty and ss.loc[0, "data_stores"]:
            items.append(("sizes", f"mean {ss.loc[0, 'mean_bytes']:.0f} B, sd {ss.loc[0, 'sd_bytes']:.0f} B "
                                   f"over {ss.loc[0, 'data_stores']} compressed pages"))
    return items


def _groups(run: dict[str, Any], table: pd.DataFrame):
    s = run["summary"]
    for key, idx in s.groupby(M.comparison_keys(s), sort=False).groups.items():
        yield key, s.loc[idx], table.loc[idx]


def _pct(v: float) -> str:
    return "n/a" if pd.isna(v) else f"{v * 100:+.1f}%"


def _cells(row: pd.Series) -> list[str]:
    return [
        "n/a" if pd.isna(row["density"]) else f"{row['density']:.3f}",
        f"{row['pool_mib']:.2f}",
        "n/a" if pd.isna(row["fragmentation"]) else f"{row['fragmentation'] * 100:.1f}%",
        _pct(row["pool_vs_baseline"]),
        str(int(row["rejected_pages"])),
    ]


# ---------------------------------------------------------------- text
_ASCII = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2018": "'", "\u2019": "'",
                        "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00d7": "x"})


def ascii_text(text: str) -> str:
    """``text`` with dashes, quotes and ellipses spelled in ASCII and any other non-ASCII
    character decomposed (accents dropped) or replaced by ``?``."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return "".join(c if c.isascii() else "?" for c in text if not unicodedata.combining(c))


def _wrap(label: str, text: str) -> list[str]:
    prefix = f"{label}: "
    return textwrap.wrap(ascii_text(text), WIDTH, initial_indent=prefix, subsequent_indent="  ",
                         break_long_words=True, break_on_hyphens=False) or [prefix.rstrip()]


def _text(run: dict[str, Any], table: pd.DataFrame) -> str:
    base = table.attrs["baseline"]
    lines = ["zdensity density report"]
    for label, text in _header_items(run):
        lines += _wrap(label, text)
    heads = ["density", "pool MiB", "frag", f"vs {base}"[:11], "rejected"]
    widths = [8, 9, 6, 11, 8]
    for (workload, codec, frontend, page_size), group, rows in _groups(run, table):
        lines += ["", *_wrap("workload", f"{workload}, codec {codec}, frontend {frontend}, {page_size} B pages")]
        for label, text in _input_items(run, group):
            lines += _wrap(label, text)
        lines.append("")
        lines.append(f"{'allocator':<{NAME_WIDTH}}" + "".join(f" {h:>{w}}" for h, w in zip(heads, widths)))
        lines.append("-" * NAME_WIDTH + "".join(" " + "-" * w for w in widths))
        for _, row in rows.iterrows():
            name = str(row["allocator"])
            cells = "".join(f" {c:>{w}}" for c, w in zip(_cells(row), widths))
            if len(name) > NAME_WIDTH:
                lines.append(name if len(name) <= WIDTH else name[:WIDTH])
                name = ""
            lines.append(f"{name:<{NAME_WIDTH}}{cells}")
    lines += ["", *_wrap("note", _NOTE.format(base=base))]
    if (table["rejected_pages"] > 0).any():
        lines += _wrap("warning", _REJECTED)
    lines = [ascii_text(line)[:WIDTH].rstrip() for line in lines]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- markdown
def _markdown(run: dict[str, Any], table: pd.DataFrame) -> str:
    base = table.attrs["baseline"]
    out = ["## zdensity density report", ""]
    out += [f"- {label}: `{text}`" if label == "command" else f"- {label}: {text}"
            for label, text in _header_items(run)]
    for (workload, codec, frontend, page_size), group, rows in _groups(run, table):
        out += ["", f"### {workload}, codec {codec}, frontend {frontend}, {page_size} B pages", ""]
        out += [f"- {label}: {text}" for label, text in _input_items(run, group)]
        out += ["", f"| allocator | density | pool MiB | frag | vs {base} | rejected |",
                "|---|---:|---:|---:|---:|---:|"]
        out += [f"| `{row['allocator']}` | " + " | ".join(_cells(row)) + " |" for _, row in rows.iterrows()]
    out += ["", _NOTE.format(base=base)]
    if (table["rejected_pages"] > 0).any():
        out += ["", f"**Warning**: {_REJECTED}"]
    return "\n".join(out) + "\n"
