"""Reading memory dumps as pages.

A dump is a raw file of page-aligned memory, or the same compressed with zstd (``.zst``,
decompressed while streaming).  A trailing partial page is zero-padded and reported in
``DumpSource.tail_bytes``.  ``DumpSource.chunks()`` yields ``(n, page_size)`` uint8 arrays
afresh on each call.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from workloads.errors import InputError

CHUNK_PAGES = 1024
BUNDLED_SAMPLE = Path(__file__).resolve().parent / "data" / "sample.zst"


def check_page_size(page_size: int) -> int:
    if not isinstance(page_size, int) or page_size < 512 or page_size & (page_size - 1):
        raise InputError(f"page size {page_size} is not a power of two >= 512")
    return page_size


@dataclass
class DumpSource:
    """Pages of one dump file.  ``name`` is the workload name used in results (the file
    name without ``.zst``/``.bin``)."""

    path: Path
    page_size: int = 4096
    name: str = ""
    tail_bytes: int = field(default=0, init=False)
    n_pages: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        check_page_size(self.page_size)
        if not self.name:
            stem = self.path.name
            for ext in (".zst", ".bin", ".raw", ".dump"):
                if stem.endswith(ext):
                    stem = stem[: -len(ext)]
            self.name = stem or self.path.name
        if not self.path.exists():
            raise InputError(f"{self.path}: no such file")
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a regular file")
        if not os.access(self.path, os.R_OK):
            raise InputError(f"{self.path}: not readable")
        if self.path.stat().st_size == 0:
            raise InputError(f"{self.path}: empty dump")

    @property
    def compressed(self) -> bool:
        return self.path.suffix == ".zst"

    def _raw_stream(self):
        fh = open(self.path, "rb")
        if not self.compressed:
            return fh
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True)

    def chunks(self, chunk_pages: int = CHUNK_PAGES) -> Iterator[np.ndarray]:
        """Yield ``(n, page_size)`` uint8 arrays; the last partial page is zero-padded."""
        ps = self.page_size
        want = chunk_pages * ps
        n_pages = 0
        tail = 0
        try:
            with self._raw_stream() as stream:
                while True:
                    buf = _read_full(stream, want)
                    if not buf:
                        break
                    if len(buf) % ps:
                        tail = len(buf) % ps
                        buf = buf + bytes(ps - tail)
                    arr = np.frombuffer(buf, dtype=np.uint8).reshape(-1, ps)
                    n_pages += arr.shape[0]
                    yield arr
                    if len(buf) < want:
                        break
        except InputError:
            raise
        except Exception as exc:  # zstd errors, truncated frames
            if type(exc).__name__ == "ZstdError" or "zstd" in type(exc).__module__:
                raise InputError(f"{self.path}: corrupt or truncated zstd data after {n_pages} pages ({exc})") from None
            raise
        if n_pages == 0:
            raise InputError(f"{self.path}: empty dump")
        self.n_pages = n_pages
        self.tail_bytes = tail

    def fingerprint(self) -> str:
        """sha256 of the file as stored (the cache key's content part)."""
        return file_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        return {"kind": "dump", "name": self.name, "file": self.path.name, "bytes": self.path.stat().st_size}


def _read_full(stream, n: int) -> bytes:
    parts = []
    got = 0
    while got < n:
        b = stream.read(n - got)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while True:
            b = fh.read(1 << 22)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def open_inputs(path: Path, page_size: int = 4096) -> list[DumpSource]:
    """The page sources a ``--dump`` argument names: a directory gives one source per
    regular file inside (sorted by name, hidden files skipped); a file gives one source."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise InputError(f"{path}: directory has no dump files")
        return [s for f in files for s in open_inputs(f, page_size)]
    return [DumpSource(path, page_size)]
