"""Codecs: the lzo codec is the real LZO1X-1, byte for byte; the others are configured as
the kernel's backends."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import zlib

import numpy as np
import pytest

from workloads.codecs import CODECS, create_codec
from workloads.dumps import BUNDLED_SAMPLE, DumpSource
from allocators.spec import SpecError

LZO1X_1_MEM_COMPRESS = 16384 * 8  # lzo1x.h: 16384 * lzo_sizeof_dict_t (8 on 64-bit)


def _liblzo2():
    name = ctypes.util.find_library("lzo2")
    if not name:
        return None
    lib = ctypes.CDLL(name)
    # lzo_init() is a macro for __lzo_init_v2(LZO_VERSION, sizeof(short), sizeof(int),
    # sizeof(long), sizeof(lzo_uint32_t), sizeof(lzo_uint), lzo_sizeof_dict_t,
    # sizeof(char *), sizeof(lzo_voidp), sizeof(lzo_callback_t)) (lzoconf.h, LP64)
    sizes = (2, 4, 8, 4, 8, 8, 8, 8, 6 * 8)
    assert lib.__lzo_init_v2(ctypes.c_uint(0x20A0), *[ctypes.c_int(s) for s in sizes]) == 0
    return lib


def real_pages(n: int = 64) -> list[bytes]:
    """``n`` distinct data pages spread over the bundled sample (a real process's memory)."""
    pages = np.concatenate(list(DumpSource(BUNDLED_SAMPLE).chunks()))
    words = pages.view(np.uint64)
    data = np.flatnonzero(~(words == words[:, :1]).all(axis=1))
    pick = data[np.linspace(0, len(data) - 1, n).astype(int)]
    return [pages[i].tobytes() for i in pick]


def test_lzo_is_byte_identical_to_liblzo2():
    lib = _liblzo2()
    if lib is None:
        pytest.skip("liblzo2 is not installed (Debian: liblzo2-2); .ci/run installs it when root")
    import _minilzo

    wrkmem = ctypes.create_string_buffer(LZO1X_1_MEM_COMPRESS)
    out = ctypes.create_string_buffer(4096 + 4096 // 16 + 64 + 3)
    out_len = ctypes.c_size_t()
    pages = real_pages(64) + [os.urandom(4096), bytes(4096), b"ab" * 2048]
    for page in pages:
        assert lib.lzo1x_1_compress(page, ctypes.c_size_t(len(page)), out, ctypes.byref(out_len), wrkmem) == 0
        reference = out.raw[: out_len.value]
        assert _minilzo.compress(page) == reference
        assert create_codec("lzo").compressed_size(page) == len(reference)


def test_lzo_worst_case_expansion_bound():
    # LZO1X worst case: n + n/16 + 64 + 3; random data expands a little
    size = create_codec("lzo").compressed_size(np.random.default_rng(1).bytes(4096))
    assert 4096 < size <= 4096 + 4096 // 16 + 64 + 3


def test_lz4_block_is_decodable_and_unframed():
    import lz4.block

    page = real_pages(1)[0]
    n = create_codec("lz4").compressed_size(page)
    blob = lz4.block.compress(page, store_size=False)
    assert len(blob) == n
    assert lz4.block.decompress(blob, uncompressed_size=4096) == page


def test_deflate_matches_kernel_backend_settings():
    """Raw deflate (no zlib header), 2 KiB window: a stream that inflates with wbits=-11."""
    page = real_pages(1)[0]
    codec = create_codec("deflate")
    c = zlib.compressobj(6, zlib.DEFLATED, -11, 9, zlib.Z_DEFAULT_STRATEGY)
    blob = c.compress(page) + c.flush()
    assert codec.compressed_size(page) == len(blob)
    assert zlib.decompress(blob, -11) == page
    # a zlib-wrapped stream would be 6 bytes longer (2 header + 4 adler32)
    assert len(zlib.compress(page, 6)) != len(blob)


def test_zstd_level_parameter_changes_size():
    page = b"".join(real_pages(4))[:4096]
    assert create_codec("zstd").level == 3
    sizes = {lvl: create_codec(f"zstd:level={lvl}").compressed_size(page) for lvl in (1, 19)}
    assert sizes[19] <= sizes[1]


def test_codec_registry_and_errors():
    assert set(CODECS) == {"lzo", "lz4", "zstd", "deflate", "kernel"}
    for name, cls in CODECS.items():
        try:
            d = create_codec(name).describe()
        except SpecError:  # kernel:ALG without root or zram
            assert cls.in_process
            continue
        assert d["codec"].split(":")[0] == name and d["library_version"]
    with pytest.raises(SpecError, match="known: deflate, kernel, lz4, lzo, zstd"):
        create_codec("snappy")
    with pytest.raises(SpecError, match="bad value"):
        create_codec("zstd:level=high")
