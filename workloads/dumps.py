"""Reading memory dumps as pages.

A dump is a raw file of page-aligned memory, or the same compressed with zstd (``.zst``,
one or more frames, decompressed while streaming), or an ELF core file (``workloads.elf``,
detected by its magic).  A trailing partial page of a raw dump is zero-padded to a whole
page, as zram would store it and as the kernel oracle pads it (its length is reported in
``DumpSource.tail_bytes`` and in a warning); whole pages are never invented: a
``.zst`` whose input ends inside a frame, or is corrupt, raises ``InputError`` naming the
whole pages read.  ``DumpSource.chunks()`` yields ``(n, page_size)`` uint8 arrays afresh on
each call.  ``open_inputs`` turns one ``--dump`` argument (file or directory) into sources.
"""

from __future__ import annotations

import hashlib
import os
import warnings
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
            for ext in (".zst", ".bin", ".raw", ".dump", ".core"):
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

    def _pieces(self) -> Iterator[bytes]:
        """The dump's bytes in pieces (decompressed for ``.zst``)."""
        with open(self.path, "rb") as fh:
            if self.compressed:
                yield from _zstd_pieces(fh)
            else:
                while piece := fh.read(1 << 22):
                    yield piece

    @property
    def random_access(self) -> bool:
        """True for a raw file: any range of pages can be read directly (workers of a
        parallel measurement read their own ranges instead of receiving the bytes)."""
        return not self.compressed

    def ranges(self, chunk_pages: int = CHUNK_PAGES) -> list[tuple[int, int]]:
        """``(first page, n pages)`` covering a raw file in chunks; sets ``n_pages`` and
        ``tail_bytes`` (and warns about a partial last page, which is zero-padded)."""
        ps = self.page_size
        size = self.path.stat().st_size
        if size == 0:
            raise InputError(f"{self.path}: empty dump")
        n_pages = -(-size // ps)
        self.n_pages, self.tail_bytes = n_pages, size % ps
        if self.tail_bytes:
            warnings.warn(f"zdensity: {self.path}: the last page holds only {self.tail_bytes} bytes; "
                          f"zero-padded ({n_pages} pages)", stacklevel=2)
        return [(first, min(chunk_pages, n_pages - first)) for first in range(0, n_pages, chunk_pages)]

    def read_range(self, first: int, n: int) -> np.ndarray:
        """Pages ``first .. first+n-1`` of a raw file as an ``(n, page_size)`` array (a
        partial last page zero-padded)."""
        ps = self.page_size
        with open(self.path, "rb") as fh:
            fh.seek(first * ps)
            data = fh.read(n * ps)
        if len(data) < n * ps:
            data += bytes(n * ps - len(data))
        return np.frombuffer(data, dtype=np.uint8).reshape(n, ps)

    def chunks(self, chunk_pages: int = CHUNK_PAGES) -> Iterator[np.ndarray]:
        """Yield ``(n, page_size)`` uint8 arrays of the pages, in file order."""
        if self.random_access:
            for first, n in self.ranges(chunk_pages):
                yield self.read_range(first, n)
            return
        ps = self.page_size
        want = chunk_pages * ps
        buf = bytearray()
        n_pages = 0
        try:
            for piece in self._pieces():
                buf += piece
                while len(buf) >= want:
                    yield np.frombuffer(bytes(buf[:want]), dtype=np.uint8).reshape(-1, ps)
                    del buf[:want]
                    n_pages += chunk_pages
        except _ZstdTruncated as exc:
            whole = n_pages + len(buf) // ps
            raise InputError(f"{self.path}: truncated or corrupt zstd data ({exc}); {whole} whole pages were read before it") from None
        self.tail_bytes = len(buf) % ps
        if self.tail_bytes:
            buf += bytes(ps - self.tail_bytes)
        if buf:
            yield np.frombuffer(bytes(buf), dtype=np.uint8).reshape(-1, ps)
            n_pages += len(buf) // ps
        if n_pages == 0:
            raise InputError(f"{self.path}: empty dump")
        if self.tail_bytes:
            warnings.warn(f"zdensity: {self.path}: the last page holds only {self.tail_bytes} bytes; "
                          f"zero-padded ({n_pages} pages)", stacklevel=2)
        self.n_pages = n_pages

    def fingerprint(self) -> str:
        """sha256 of the file as stored (the cache key's content part)."""
        return file_sha256(self.path)

    def describe(self) -> dict[str, Any]:
        return {"kind": "dump", "name": self.name, "file": self.path.name, "bytes": self.path.stat().st_size}


class _ZstdTruncated(Exception):
    pass


def _zstd_pieces(fh) -> Iterator[bytes]:
    """Decompressed pieces of every zstd frame in ``fh``; ``_ZstdTruncated`` when the
    input ends inside a frame or a frame is corrupt."""
    import zstandard

    dobj = zstandard.ZstdDecompressor().decompressobj()
    in_frame = False
    while data := fh.read(1 << 20):
        while data:
            in_frame = True
            try:
                out = dobj.decompress(data)
            except zstandard.ZstdError as exc:
                raise _ZstdTruncated(str(exc)) from None
            if out:
                yield out
            data = b""
            if dobj.eof:
                data = dobj.unused_data
                dobj = zstandard.ZstdDecompressor().decompressobj()
                in_frame = False
    if in_frame:
        raise _ZstdTruncated("input ends inside a frame")


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
    regular file inside (sorted by name; hidden files and ``.json`` sidecars skipped); a
    file gives one source (an ELF core file is detected by its magic)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix != ".json")
        if not files:
            raise InputError(f"{path}: directory has no dump files")
        return [s for f in files for s in open_inputs(f, page_size)]
    from workloads.elf import ElfCoreSource, is_elf

    source = DumpSource(path, page_size)  # checks existence, readability, emptiness
    return [ElfCoreSource(path, page_size) if is_elf(path) else source]
