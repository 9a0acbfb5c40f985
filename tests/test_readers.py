"""Readers: raw and .zst dumps (truncation, empty, partial pages), ELF64 core files written
by a small helper, directories, auto-detection."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import zstandard

from workloads.dumps import DumpSource, open_inputs
from workloads.elf import PN_XNUM, ElfCoreSource, read_segments
from workloads.errors import InputError
from workloads.measure import measure

PS = 4096


def pages_of(source) -> np.ndarray:
    return np.concatenate(list(source.chunks(chunk_pages=3)))


def page(tag: int) -> bytes:
    """A page whose every byte is ``tag`` except a counter in the first 8 bytes."""
    return struct.pack("<Q", tag) + bytes([tag % 251]) * (PS - 8)


def write_core(path, segments, byteorder="<", e_type=4, elf_class=2, xnum=False, data_align=PS):
    """An ELF64 core file: header, program headers (a PT_NOTE, then one PT_LOAD per
    ``(vaddr, content, memsz)``), then each segment's content at a page-aligned offset."""
    phdrs = [(4, 0, 0, 0, 0, 0, 0, 4)]  # PT_NOTE, empty
    n_ph = len(segments) + 1
    offset = -(-(64 + 56 * n_ph + 64) // data_align) * data_align
    blobs = []
    for vaddr, content, memsz in segments:
        phdrs.append((1, 6, offset, vaddr, 0, len(content), memsz, PS))
        blobs.append((offset, content))
        offset = -(-(offset + len(content)) // data_align) * data_align
    shoff = 64 + 56 * n_ph
    e_phnum = PN_XNUM if xnum else n_ph
    ident = b"\x7fELF" + bytes([elf_class, 1 if byteorder == "<" else 2, 1]) + bytes(9)
    head = struct.pack(byteorder + "16sHHIQQQIHHHHHH", ident, e_type, 62, 1, 0, 64, shoff if xnum else 0, 0, 64, 56,
                       e_phnum, 64, 1 if xnum else 0, 0)
    out = bytearray(head)
    for ph in phdrs:
        out += struct.pack(byteorder + "IIQQQQQQ", *ph)
    shdr0 = struct.pack(byteorder + "IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, n_ph if xnum else 0, 0, 0)
    out += shdr0
    for off, content in blobs:
        out += bytes(off - len(out)) + content
    path.write_bytes(bytes(out))
    return path


def test_raw_dump_pages(tmp_path):
    data = b"".join(page(i) for i in range(7))
    (tmp_path / "d.bin").write_bytes(data)
    src = DumpSource(tmp_path / "d.bin")
    assert pages_of(src).tobytes() == data and src.n_pages == 7 and src.tail_bytes == 0 and src.name == "d"


def test_raw_partial_tail_page_is_zero_padded_and_reported(tmp_path):
    (tmp_path / "d.bin").write_bytes(page(1) + page(2) + b"\x01" * 100)
    src = DumpSource(tmp_path / "d.bin")
    with pytest.warns(UserWarning, match="the last page holds only 100 bytes; zero-padded \\(3 pages\\)"):
        got = pages_of(src)
    assert got.shape == (3, PS) and src.tail_bytes == 100
    assert got[2, :100].tolist() == [1] * 100 and not got[2, 100:].any()


def test_a_partial_page_alone_is_one_padded_page(tmp_path):
    (tmp_path / "d.bin").write_bytes(b"\x05" * 100)
    src = DumpSource(tmp_path / "d.bin")
    with pytest.warns(UserWarning, match="zero-padded"):
        assert pages_of(src).shape == (1, PS)


@pytest.mark.parametrize("content, message", [(b"", "empty dump")])
def test_empty_inputs(tmp_path, content, message):
    (tmp_path / "e.bin").write_bytes(content)
    with pytest.raises(InputError, match=message):
        pages_of(DumpSource(tmp_path / "e.bin"))


def test_zst_multi_frame(tmp_path):
    a = b"".join(page(i) for i in range(5))
    b = b"".join(page(i) for i in range(5, 9))
    c = zstandard.ZstdCompressor()
    (tmp_path / "m.zst").write_bytes(c.compress(a) + c.compress(b))
    src = DumpSource(tmp_path / "m.zst")
    assert pages_of(src).tobytes() == a + b and src.name == "m"


@pytest.mark.parametrize("cut", [0.3, 0.5, 0.9])
def test_truncated_zst_is_one_line_error_with_pages_read(tmp_path, cut):
    rng = np.random.default_rng(0)
    data = b"".join(rng.bytes(PS // 2) + bytes(PS // 2) for _ in range(200))
    blob = zstandard.ZstdCompressor().compress(data)
    (tmp_path / "t.zst").write_bytes(blob[: int(len(blob) * cut)])
    with pytest.raises(InputError) as err:
        pages_of(DumpSource(tmp_path / "t.zst"))
    msg = str(err.value)
    assert "\n" not in msg and "truncated or corrupt zstd data" in msg
    read = int(msg.split("; ")[-1].split()[0])
    assert 0 <= read < 200


def test_corrupt_zst(tmp_path):
    blob = bytearray(zstandard.ZstdCompressor().compress(b"".join(page(i) for i in range(50))))
    blob[len(blob) // 2 :] = bytes(len(blob) - len(blob) // 2)
    (tmp_path / "c.zst").write_bytes(bytes(blob))
    with pytest.raises(InputError, match="truncated or corrupt zstd data"):
        pages_of(DumpSource(tmp_path / "c.zst"))


def test_elf_core_pages_in_segment_order(tmp_path):
    segs = [(0x1000, page(1) + page(2), 2 * PS), (0x7000, page(3), 4 * PS), (0x9000, b"", 8 * PS),
            (0x20000, page(4) + b"\x05" * 10, 2 * PS)]
    path = write_core(tmp_path / "a.core", segs)
    (src,) = open_inputs(path)
    assert isinstance(src, ElfCoreSource) and src.name == "a"
    got = pages_of(src)
    assert got.tobytes() == page(1) + page(2) + page(3) + page(4)
    d = src.describe()
    assert d["kind"] == "elf-core" and d["segments"] == 4 and d["pages"] == 4
    assert d["pages_not_in_file"] == 3 + 8 + 0 and d["partial_page_bytes_skipped"] == 10
    assert [s.vaddr for s in read_segments(path)] == [0x1000, 0x7000, 0x9000, 0x20000]


def test_elf_core_big_endian_and_pn_xnum(tmp_path):
    segs = [(0x1000, page(7), PS), (0x3000, page(8), PS)]
    be = write_core(tmp_path / "be.core", segs, byteorder=">")
    xn = write_core(tmp_path / "xn.core", segs, xnum=True)
    for path in (be, xn):
        assert pages_of(open_inputs(path)[0]).tobytes() == page(7) + page(8)


def test_elf_core_measured_like_the_raw_pages(tmp_path):
    rng = np.random.default_rng(3)
    content = b"".join(rng.bytes(PS // 4) + bytes(3 * PS // 4) for _ in range(6))
    core = write_core(tmp_path / "c.core", [(0x1000, content[: 2 * PS], 2 * PS), (0x8000, content[2 * PS :], 4 * PS)])
    (tmp_path / "c.bin").write_bytes(content)
    a = measure(open_inputs(core)[0], "lzo", jobs=1, cache=None, progress=False)
    b = measure(DumpSource(tmp_path / "c.bin"), "lzo", jobs=1, cache=None, progress=False)
    assert np.array_equal(a.sizes, b.sizes) and a.meta["source"]["kind"] == "elf-core"


@pytest.mark.parametrize("kwargs, message", [
    ({"elf_class": 1}, "ELF class 1 is not supported"),
    ({"e_type": 2}, "ELF file of type 2 is not a core file"),
])
def test_elf_rejects_non_core(tmp_path, kwargs, message):
    path = write_core(tmp_path / "x.core", [(0x1000, page(1), PS)], **kwargs)
    with pytest.raises(InputError, match=message):
        open_inputs(path)


def test_elf_truncated_core_names_pages_readable(tmp_path):
    path = write_core(tmp_path / "t.core", [(0x1000, page(1) + page(2), 2 * PS), (0x5000, page(3) + page(4) + page(5), 3 * PS)])
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - PS - 10])  # cut inside the 2nd segment's 2nd page
    with pytest.raises(InputError, match="truncated core file: segment 1 .* 3 whole pages readable"):
        open_inputs(path)


def test_elf_header_truncated(tmp_path):
    (tmp_path / "h.core").write_bytes(b"\x7fELF\x02\x01\x01" + bytes(20))
    with pytest.raises(InputError, match="truncated header"):
        open_inputs(tmp_path / "h.core")


def test_elf_core_without_memory(tmp_path):
    path = write_core(tmp_path / "n.core", [(0x1000, b"", 4 * PS)])
    with pytest.raises(InputError, match="no whole page"):
        open_inputs(path)


def test_directory_mixes_readers(tmp_path):
    d = tmp_path / "in"
    d.mkdir()
    write_core(d / "a.core", [(0x1000, page(1), PS)])
    (d / "b.bin").write_bytes(page(2) * 2)
    (d / "c.zst").write_bytes(zstandard.ZstdCompressor().compress(page(3) * 3))
    sources = open_inputs(d)
    assert [(type(s).__name__, s.name) for s in sources] == [("ElfCoreSource", "a"), ("DumpSource", "b"), ("DumpSource", "c")]
    assert [len(pages_of(s)) for s in sources] == [1, 2, 3]


@pytest.mark.skipif(shutil.which("gcore") is None or os.geteuid() != 0, reason="needs gdb's gcore and root")
def test_real_gcore_file(tmp_path):
    """A core file written by gdb's gcore of a child holding 64 pattern pages: detected by
    magic, and every pattern page is read whole."""
    child = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import mmap, struct, time
        ps = mmap.PAGESIZE
        m = mmap.mmap(-1, 64 * ps, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        for i in range(64):
            w = b"GCORET" + struct.pack("<H", i)
            for j in range(i * ps, (i + 1) * ps, 8):
                m[j:j + 8] = w
        print("READY", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"READY"
        subprocess.run(["gcore", "-o", str(tmp_path / "core"), str(child.pid)], check=True, capture_output=True, timeout=120)
    finally:
        child.kill()
        child.wait()
    (src,) = open_inputs(tmp_path / f"core.{child.pid}")
    assert isinstance(src, ElfCoreSource) and src.describe()["segments"] > 5
    pages = {row.tobytes() for chunk in src.chunks() for row in chunk}
    assert all((b"GCORET" + struct.pack("<H", i)) * (PS // 8) in pages for i in range(64))
