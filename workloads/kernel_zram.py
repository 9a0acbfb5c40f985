"""The running kernel's zram as a measuring instrument (needs root and zram).

``ZramDevice`` creates a fresh device through ``/sys/class/zram-control/hot_add``, sets the
algorithm and disk size, writes 4 KiB pages with ``O_DIRECT`` (each write is one
``zram_write_page``), reads ``mm_stat``, triggers compaction, and always removes the device
again (``reset`` + ``hot_remove``), also on error.

``kernel_page_sizes(pages, alg)`` is an exact-codec trace source: it writes the pages in
order into a fresh device and reads ``mm_stat`` after every write, so each page's
``compr_data_size`` delta is the kernel's own compressed length.  Per page it returns
``(size, kind)``: kind ``ZERO``/``SAME`` with size 0 for same-filled pages (every 8-byte
word equal), ``DATA`` with the compressed length otherwise; a page the kernel stored whole
(huge) gets size ``page_size`` (its real compressed length is unknown; it is at least
zsmalloc's ``huge_class_size``) and is flagged in ``huge``.
Speed: one ``pwrite`` + one ``pread`` of ``mm_stat`` per page: measured 15.6k pages/s
(lzo-rle) and 15.9k pages/s (lz4), i.e. about 62 MiB/s, on the 2-core development machine
(kernel 6.18, load average 4.5); a 64 MiB dump takes about 1 s.
"""

from __future__ import annotations

import gzip
import mmap
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from allocators.frontends.base import PageKind
from workloads.errors import InputError

ZRAM_CONTROL = Path("/sys/class/zram-control")
MM_STAT_FIELDS = ("orig_data_size", "compr_data_size", "mem_used_total", "mem_limit", "mem_used_max",
                  "same_pages", "pages_compacted", "huge_pages", "huge_pages_since")


class ZramUnavailable(RuntimeError):
    """Not root, not Linux, or no zram control interface."""


def unavailable_reason() -> str | None:
    """None when a zram device can be created here, else a one-line reason."""
    if platform.system() != "Linux":
        return "not Linux"
    if os.geteuid() != 0:
        return "not root"
    if not (ZRAM_CONTROL / "hot_add").exists():
        return f"no zram control interface ({ZRAM_CONTROL}; zram module not loaded?)"
    return None


def kernel_chain_size() -> tuple[int | None, str]:
    """CONFIG_ZSMALLOC_CHAIN_SIZE of the running kernel and where it was read, or
    (None, reason) when no config is readable (the caller assumes the default 8)."""
    release = platform.release()
    candidates = [Path("/proc/config.gz"), Path(f"/boot/config-{release}")]
    for path in candidates:
        try:
            raw = path.read_bytes()
        except OSError:
            continue
        text = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8", "replace")
        m = re.search(r"^CONFIG_ZSMALLOC_CHAIN_SIZE=(\d+)$", text, re.M)
        if m:
            return int(m.group(1)), str(path)
        if re.search(r"^CONFIG_ZSMALLOC=[ym]$", text, re.M):
            return 4, f"{path} (zsmalloc without CHAIN_SIZE: fixed 4 pages, pre-6.3)"
    return None, "no kernel config found (/proc/config.gz, /boot/config-*)"


@dataclass(frozen=True)
class MmStat:
    """One reading of ``/sys/block/zramN/mm_stat`` (bytes, except the counts)."""

    orig_data_size: int
    compr_data_size: int
    mem_used_total: int
    mem_limit: int
    mem_used_max: int
    same_pages: int
    pages_compacted: int
    huge_pages: int
    huge_pages_since: int

    @classmethod
    def parse(cls, text: str) -> "MmStat":
        values = [int(x) for x in text.split()[: len(MM_STAT_FIELDS)]]
        values += [0] * (len(MM_STAT_FIELDS) - len(values))  # older kernels: fewer fields
        return cls(*values)

    def as_dict(self) -> dict[str, int]:
        return {f: getattr(self, f) for f in MM_STAT_FIELDS}


class ZramDevice:
    """A fresh zram device for the duration of a ``with`` block.

    ``write_page(index, page)`` writes one page (bytes-like of ``page_size`` bytes) with
    O_DIRECT; ``mm_stat()`` reads the counters; ``compact()`` writes to ``compact``."""

    def __init__(self, n_pages: int, algorithm: str, page_size: int = 4096) -> None:
        reason = unavailable_reason()
        if reason:
            raise ZramUnavailable(reason)
        self.n_pages = n_pages
        self.algorithm = algorithm
        self.page_size = page_size
        self.dev_id: int | None = None
        self._fd = -1
        self._stat_fd = -1
        self._buf: mmap.mmap | None = None

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> "ZramDevice":
        try:
            self.dev_id = int((ZRAM_CONTROL / "hot_add").read_text().strip())
            algs = self._sys("comp_algorithm").read_text().replace("[", "").replace("]", "").split()
            if self.algorithm not in algs:
                raise InputError(f"this kernel's zram has no algorithm {self.algorithm!r} (available: {', '.join(algs)})")
            self._sys("comp_algorithm").write_text(self.algorithm)
            self._sys("disksize").write_text(str(self.n_pages * self.page_size))
            self._fd = os.open(f"/dev/zram{self.dev_id}", os.O_RDWR | os.O_DIRECT)
            self._stat_fd = os.open(self._sys("mm_stat"), os.O_RDONLY)
            self._buf = mmap.mmap(-1, self.page_size)  # page-aligned, as O_DIRECT needs
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the files and remove the device (idempotent)."""
        for fd in (self._fd, self._stat_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._stat_fd = -1
        if self._buf is not None:
            self._buf.close()
            self._buf = None
        if self.dev_id is not None:
            dev_id, self.dev_id = self.dev_id, None
            try:
                (Path("/sys/block") / f"zram{dev_id}" / "reset").write_text("1")
            finally:
                (ZRAM_CONTROL / "hot_remove").write_text(str(dev_id))

    def _sys(self, name: str) -> Path:
        return Path("/sys/block") / f"zram{self.dev_id}" / name

    # ------------------------------------------------------------------ I/O
    def write_page(self, index: int, page) -> None:
        buf = self._buf
        buf.seek(0)
        buf.write(page)
        n = os.pwrite(self._fd, buf, index * self.page_size)
        if n != self.page_size:
            raise OSError(f"zram{self.dev_id}: short write of page {index} ({n} bytes)")

    def mm_stat(self) -> MmStat:
        return MmStat.parse(os.pread(self._stat_fd, 4096, 0).decode())

    def compact(self) -> None:
        self._sys("compact").write_text("1")


@dataclass
class KernelSizes:
    """Per-page result of ``kernel_page_sizes``: ``sizes`` (int32 bytes: 0 for same-filled,
    ``page_size`` for huge), ``kinds`` (``PageKind`` values, uint8), ``huge`` (bool), and the
    ``mm_stat`` after the last write."""

    sizes: np.ndarray
    kinds: np.ndarray
    huge: np.ndarray
    final: MmStat


def measure_into(dev: ZramDevice, pages: Iterable[np.ndarray], start: int = 0) -> Iterator[tuple[int, int, bool]]:
    """Write ``pages`` (uint8 arrays of ``page_size``) at indices ``start``, ``start+1``, ...
    and yield ``(size, kind, huge)`` per page from the ``mm_stat`` deltas."""
    prev = dev.mm_stat()
    index = start
    for page in pages:
        dev.write_page(index, page)
        cur = dev.mm_stat()
        if cur.same_pages > prev.same_pages:
            kind = PageKind.ZERO if not page.any() else PageKind.SAME
            yield 0, int(kind), False
        else:
            size = cur.compr_data_size - prev.compr_data_size
            yield size, int(PageKind.DATA), cur.huge_pages > prev.huge_pages
        prev = cur
        index += 1


def kernel_page_sizes(pages: Iterable[np.ndarray], algorithm: str, n_pages: int,
                      page_size: int = 4096) -> KernelSizes:
    """The running kernel's zram compressed size of each page (see the module docstring).
    ``pages`` yields ``n_pages`` uint8 arrays of ``page_size`` bytes.  Raises
    ``ZramUnavailable`` without root/zram, ``InputError`` for an algorithm the kernel lacks."""
    sizes = np.zeros(n_pages, dtype=np.int32)
    kinds = np.zeros(n_pages, dtype=np.uint8)
    huge = np.zeros(n_pages, dtype=bool)
    with ZramDevice(n_pages, algorithm, page_size) as dev:
        for i, (size, kind, is_huge) in enumerate(measure_into(dev, pages)):
            sizes[i], kinds[i], huge[i] = size, kind, is_huge
        final = dev.mm_stat()
    return KernelSizes(sizes, kinds, huge, final)


def iter_pages(chunks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
    """Flatten ``(n, page_size)`` chunks into single pages."""
    for chunk in chunks:
        yield from chunk
