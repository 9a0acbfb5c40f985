"""ELF64 core files (``gcore``, kernel core dumps, crash dumps) as page sources.

The memory of a core file is in its ``PT_LOAD`` program headers: ``p_filesz`` bytes at
``p_offset`` in the file hold the first ``p_filesz`` bytes of the mapping at ``p_vaddr``;
the remaining ``p_memsz - p_filesz`` bytes are not in the file (mappings the dumper left
out, e.g. read-only file-backed text) and are skipped, never invented.  Only whole pages
are taken: a segment contributes ``p_filesz // page_size`` pages, in segment order; a
partial last page is skipped.  Counts of skipped pages and bytes are in ``describe()``.
Which mappings are in the file is the dumper's choice and is not filtered here: gdb's
``gcore`` writes the contents of every mapping, file-backed text and read-only data
included; the kernel's core dumps follow ``/proc/PID/coredump_filter`` (default:
anonymous private and shared mappings plus ELF headers).  For exactly what would be
swapped, capture the live process (``zdensity capture``).

Parsed with ``struct`` (both byte orders); ``e_phnum == PN_XNUM`` (0xffff, cores with
65535+ segments) takes the count from section header 0's ``sh_info``, as the ELF gABI
specifies.  ELF32 and non-core ELF files are rejected with ``InputError``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from workloads.dumps import CHUNK_PAGES, DumpSource
from workloads.errors import InputError

ELF_MAGIC = b"\x7fELF"
ELFCLASS64 = 2
ELFDATA2LSB, ELFDATA2MSB = 1, 2
ET_CORE = 4
PT_LOAD = 1
PN_XNUM = 0xFFFF
EHDR = "16sHHIQQQIHHHHHH"  # Elf64_Ehdr after the byte-order prefix (64 bytes)
PHDR = "IIQQQQQQ"  # Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align (56 bytes)
SHDR0_INFO_OFFSET = 44  # Elf64_Shdr.sh_info: after name, type (4+4), flags, addr, offset, size (8*4), link (4)


def is_elf(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(4) == ELF_MAGIC


@dataclass(frozen=True)
class Segment:
    """One ``PT_LOAD``: file offset, virtual address, bytes in the file, bytes in memory."""

    offset: int
    vaddr: int
    filesz: int
    memsz: int


def read_segments(path: Path) -> list[Segment]:
    """The ``PT_LOAD`` segments of an ELF64 core file; ``InputError`` on anything else."""
    with open(path, "rb") as fh:
        head = fh.read(64)
        if len(head) < 64 or head[:4] != ELF_MAGIC:
            raise InputError(f"{path}: not an ELF file (truncated header)")
        if head[4] != ELFCLASS64:
            raise InputError(f"{path}: ELF class {head[4]} is not supported (only ELF64 core files)")
        if head[5] not in (ELFDATA2LSB, ELFDATA2MSB):
            raise InputError(f"{path}: bad ELF byte order {head[5]}")
        bo = "<" if head[5] == ELFDATA2LSB else ">"
        (_, e_type, _, _, _, e_phoff, e_shoff, _, _, e_phentsize, e_phnum, _, _, _) = struct.unpack(bo + EHDR, head)
        if e_type != ET_CORE:
            raise InputError(f"{path}: ELF file of type {e_type} is not a core file (type {ET_CORE})")
        if e_phnum == PN_XNUM:
            fh.seek(e_shoff + SHDR0_INFO_OFFSET)
            raw = fh.read(4)
            if len(raw) < 4:
                raise InputError(f"{path}: truncated ELF section header 0 (needed for the segment count)")
            (e_phnum,) = struct.unpack(bo + "I", raw)
        if e_phnum and e_phentsize < struct.calcsize(PHDR):
            raise InputError(f"{path}: ELF program header size {e_phentsize} is too small")
        fh.seek(e_phoff)
        table = fh.read(e_phnum * e_phentsize)
        if len(table) < e_phnum * e_phentsize:
            raise InputError(f"{path}: truncated ELF program header table ({e_phnum} entries)")
    segments = []
    for i in range(e_phnum):
        p_type, _, offset, vaddr, _, filesz, memsz, _ = struct.unpack_from(bo + PHDR, table, i * e_phentsize)
        if p_type == PT_LOAD:
            segments.append(Segment(offset, vaddr, filesz, memsz))
    return segments


@dataclass
class ElfCoreSource(DumpSource):
    """The whole pages of a core file's ``PT_LOAD`` segments (see the module doc)."""

    segments: list[Segment] = field(default_factory=list, init=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.segments = read_segments(self.path)
        ps = self.page_size
        file_bytes = self.path.stat().st_size
        whole = 0
        for i, seg in enumerate(self.segments):
            end = seg.offset + seg.filesz
            if end > file_bytes:
                readable = max(0, file_bytes - seg.offset) // ps
                raise InputError(
                    f"{self.path}: truncated core file: segment {i} at 0x{seg.vaddr:x} needs bytes up to {end}, "
                    f"the file has {file_bytes}; {whole + readable} whole pages readable before the cut")
            whole += seg.filesz // ps
        if whole == 0:
            raise InputError(f"{self.path}: core file has no whole page of memory in its PT_LOAD segments")
        self.n_pages = whole

    @property
    def compressed(self) -> bool:
        return False

    def chunks(self, chunk_pages: int = CHUNK_PAGES) -> Iterator[np.ndarray]:
        ps = self.page_size
        with open(self.path, "rb") as fh:
            for seg in self.segments:
                n = seg.filesz // ps
                fh.seek(seg.offset)
                for first in range(0, n, chunk_pages):
                    want = min(chunk_pages, n - first) * ps
                    buf = fh.read(want)
                    if len(buf) < want:  # the file shrank since it was opened
                        raise InputError(f"{self.path}: core file changed while reading (short read)")
                    yield np.frombuffer(buf, dtype=np.uint8).reshape(-1, ps)

    def describe(self) -> dict[str, Any]:
        ps = self.page_size
        not_in_file = sum(max(0, -(-s.memsz // ps) - -(-s.filesz // ps)) for s in self.segments)
        partial_bytes = sum(s.filesz % ps for s in self.segments)
        return {**super().describe(), "kind": "elf-core", "segments": len(self.segments), "pages": self.n_pages,
                "pages_not_in_file": not_in_file, "partial_page_bytes_skipped": partial_bytes}
