"""Length-only compressors in a name-keyed registry.

Each codec maps one page (bytes) to the length in bytes of its compressed form with the
algorithm, format and settings of the kernel's compressor of the same name.  The kernel
carries its own ports of these libraries, so sizes agree closely but not on every page
(measured on the bundled sample against this machine's zram, 8319 pages: ``lzo`` equal on
89.8 % of pages, mean difference +0.3 B; ``lz4`` equal on 17.9 %, mean -2.9 B; the
resulting zsmalloc density differs by < 1 %).  ``kernel:ALG`` gives the kernel's exact
sizes where the machine allows:

- ``lzo``: LZO1X-1, the real ``lzo1x_1_compress`` of the LZO library (miniLZO 2.10 bundled
  by the ``minilzo`` package), raw output without any header: the algorithm behind the
  kernel's ``lzo`` (lib/lzo/lzo1x_compress.c is a port of it).  The kernel's ``lzo-rle``
  differs on runs of zeros and has no userspace binding; use ``kernel:lzo-rle`` for it.
- ``lz4``: LZ4 block format, ``LZ4_compress_default`` (acceleration 1), as the kernel's
  ``lz4`` (``LZ4_compress_default`` in crypto/lz4.c and zram's backend_lz4.c).
- ``zstd``: a zstd frame at ``level`` (default 3 = ZSTD_CLEVEL_DEFAULT, zram's default),
  without checksum; the frame header records the content size as the kernel's
  ``zstd_compress_cctx`` does.
- ``deflate``: raw deflate as zram's backend_deflate.c sets it up:
  ``zlib_deflateInit2(level=Z_DEFAULT_COMPRESSION (6), Z_DEFLATED, windowBits=-11
  (2 KiB window, no zlib header), memLevel=MAX_MEM_LEVEL (9), Z_DEFAULT_STRATEGY)``,
  compressed with ``Z_FINISH``.

- ``kernel:ALG`` (e.g. ``kernel:lzo-rle``, ``kernel:lzo``, ``kernel:lz4``): sizes measured
  by the running kernel's zram (``workloads.kernel_zram``: each chunk of pages is written
  into a fresh zram device with algorithm ALG and each page's ``compr_data_size`` delta is
  its size; same-filled pages are ZERO/SAME with size 0, pages zram stores whole get
  ``page_size``).  Needs root and zram; runs in this process (jobs=1); the kernel release
  is the "library version" of the cache key.

Codecs are configured by ``name[:level=N]`` (``workloads.specs`` syntax: a bare value sets
the codec's positional parameter, ``kernel:lz4``); ``Codec.describe()`` gives library and
version for trace sidecars and config.json.
"""

from __future__ import annotations

import importlib.metadata
import platform
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from allocators.spec import ConfigParams, SpecError


@dataclass(frozen=True)
class CodecParams(ConfigParams):
    """``level``: compression level; 0 = the codec's kernel default (ignored by codecs
    without levels)."""

    level: int = 0


class Codec(ABC):
    """``in_process``: the codec measures whole chunks (``measure_pages``) in the calling
    process, never in worker processes."""

    name: ClassVar[str]
    library: ClassVar[str]
    default_level: ClassVar[int] = 0
    Params: ClassVar[type[CodecParams]] = CodecParams
    positional: ClassVar[str | None] = None
    in_process: ClassVar[bool] = False

    def __init__(self, params: CodecParams | None = None) -> None:
        self.params = params or CodecParams()
        self.level = self.params.level or self.default_level

    @abstractmethod
    def compressed_size(self, page: bytes) -> int:
        """Bytes of compressed output for ``page``."""

    def library_version(self) -> str:
        return importlib.metadata.version(self.library)

    def spec(self) -> str:
        return self.name if self.level == self.default_level else f"{self.name}:level={self.level}"

    def describe(self) -> dict[str, Any]:
        return {"codec": self.name, "level": self.level, "library": self.library, "library_version": self.library_version()}


class Lzo(Codec):
    name = "lzo"
    library = "minilzo"

    def __init__(self, params: CodecParams | None = None) -> None:
        super().__init__(params)
        import _minilzo

        self._compress = _minilzo.compress

    def compressed_size(self, page: bytes) -> int:
        return len(self._compress(page))

    def library_version(self) -> str:
        return f"minilzo {importlib.metadata.version('minilzo')} (miniLZO 2.10, lzo1x_1_compress)"


class Lz4(Codec):
    name = "lz4"
    library = "lz4"

    def __init__(self, params: CodecParams | None = None) -> None:
        super().__init__(params)
        import lz4.block

        self._compress = lz4.block.compress

    def compressed_size(self, page: bytes) -> int:
        return len(self._compress(page, mode="default", store_size=False))

    def library_version(self) -> str:
        import lz4

        return f"lz4 {importlib.metadata.version('lz4')} (liblz4 {lz4.library_version_string()})"


class Zstd(Codec):
    name = "zstd"
    library = "zstandard"
    default_level = 3

    def __init__(self, params: CodecParams | None = None) -> None:
        super().__init__(params)
        import zstandard

        self._cctx = zstandard.ZstdCompressor(level=self.level, write_checksum=False, write_content_size=True)

    def compressed_size(self, page: bytes) -> int:
        return len(self._cctx.compress(page))

    def library_version(self) -> str:
        import zstandard

        return f"zstandard {importlib.metadata.version('zstandard')} (libzstd {zstandard.ZSTD_VERSION})"


class Deflate(Codec):
    name = "deflate"
    library = "zlib"
    default_level = 6
    WINDOW_BITS = -11
    MEM_LEVEL = 9

    def compressed_size(self, page: bytes) -> int:
        c = zlib.compressobj(self.level, zlib.DEFLATED, self.WINDOW_BITS, self.MEM_LEVEL, zlib.Z_DEFAULT_STRATEGY)
        return len(c.compress(page)) + len(c.flush(zlib.Z_FINISH))

    def library_version(self) -> str:
        return f"zlib {zlib.ZLIB_RUNTIME_VERSION}"


@dataclass(frozen=True)
class KernelParams(CodecParams):
    """``alg``: the zram algorithm name as the running kernel lists it in comp_algorithm."""

    alg: str = "lzo-rle"


USERSPACE_ALTERNATIVE = {"lzo-rle": "lzo", "lzo": "lzo", "lz4": "lz4", "lz4hc": "lz4", "zstd": "zstd", "deflate": "deflate"}


class KernelZram(Codec):
    name = "kernel"
    library = "linux zram"
    Params = KernelParams
    positional = "alg"
    in_process = True

    def __init__(self, params: KernelParams | None = None) -> None:
        super().__init__(params)
        from workloads.kernel_zram import unavailable_reason

        self.alg = self.params.alg
        reason = unavailable_reason()
        if reason:
            raise SpecError(f"codec {self.spec()} measures with this machine's zram, which is unavailable ({reason}); "
                            f"use the userspace codec instead: --codec {USERSPACE_ALTERNATIVE.get(self.alg, 'lzo')}")

    def spec(self) -> str:
        return f"kernel:{self.alg}"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "codec": self.spec()}

    def library_version(self) -> str:
        return f"linux {platform.release()} zram {self.alg}"

    def measure_pages(self, pages) -> tuple[Any, Any]:
        """``(sizes, kinds)`` of a ``(n, page_size)`` uint8 array, from a fresh zram device."""
        import resource

        from workloads.errors import InputError
        from workloads.kernel_zram import ZramUnavailable, iter_pages, kernel_page_sizes

        if pages.shape[1] != resource.getpagesize():
            raise InputError(f"codec {self.spec()} measures {resource.getpagesize()}-byte pages (this kernel's page "
                             f"size); got page size {pages.shape[1]}")
        try:
            ks = kernel_page_sizes(iter_pages([pages]), self.alg, pages.shape[0], pages.shape[1])
        except ZramUnavailable as exc:
            raise InputError(f"codec {self.spec()}: {exc}") from None
        return ks.sizes, ks.kinds

    def compressed_size(self, page: bytes) -> int:
        import numpy as np

        return int(self.measure_pages(np.frombuffer(page, dtype=np.uint8).reshape(1, -1))[0][0])


_CODECS: list[type[Codec]] = [Lzo, Lz4, Zstd, Deflate, KernelZram]

CODECS: dict[str, type[Codec]] = {cls.name: cls for cls in _CODECS}


def create_codec(spec: str) -> Codec:
    """Build a codec from ``NAME[:level=N]`` or ``kernel:ALG``."""
    from workloads.specs import parse_spec

    cls, params = parse_spec(spec, CODECS, "codec")
    return cls(params)


__all__ = ["CODECS", "Codec", "CodecParams", "create_codec", "SpecError"]
