"""Synthetic workloads, deterministic for a seed.

Two families, each a registered class with a frozen ``Params`` dataclass (``pages``: how
many pages, ``seed``: the ``numpy.random.default_rng`` seed; never global random state):

Size generators (``SIZE_GENERATORS``) produce ``PageSizes`` directly: a compressed size in
bytes and a ``PageKind`` per page, no page contents and no codec (codec label
``synthetic``).  Sizes are integers clipped to ``[1, page_size]``; a zero page has kind
``ZERO`` and size 0 (as ``measure()`` reports real zero pages).

- ``uniform``: sizes uniform on the integers ``[lo, hi]``.
- ``normal``: ``round(N(mean, sd))`` clipped to ``[1, page_size]``.
- ``lognormal``: a lognormal with the given arithmetic ``mean`` and ``sd`` (bytes):
  ``sigma^2 = ln(1 + sd^2/mean^2)``, ``mu = ln(mean) - sigma^2/2``; rounded and clipped.
- ``fixed``: every page has ``size`` bytes.
- ``histogram``: sizes from a CSV file with header ``size,count`` (size 0 = zero page).
  ``pages=0`` (default) emits exactly ``count`` pages of each size in a seeded random
  order; ``pages=N`` draws ``N`` sizes with probability ``count / sum(count)``.
- ``kernbench-2013``: the zswap kernel-build distribution Dan Magenheimer reported
  (linux-mm, 2013-02-27): LZO sizes with mean 694 B and sd 474 B over all stored zpages,
  "almost 11 %" of them zero pages that 2013 zswap stored as 28-byte LZO objects.  Shaped
  as a mixture: with probability ``zero_fraction`` a zero page, else a lognormal size
  whose mean ``m`` and sd ``s`` are solved so that the mixture (zero pages counted at
  ``zero_size_bytes_2013`` = 28 B) has the reported mean and sd:
  ``m = (mean - z*28) / (1-z)``, ``s^2 = (sd^2 + mean^2 - z*28^2) / (1-z) - m^2``
  (z = 0.11: m = 776.3 B, s = 436.9 B).  The lognormal shape is a choice (compressed
  sizes are positive and right-skewed); the report gives only mean and sd.  Zero pages
  are emitted as kind ``ZERO`` (size 0) by default, so each frontend applies its own
  same-filled rule; ``zero_as_data=true`` emits them as 28-byte data objects, as the 2013
  zswap (no same-filled detection) stored them.
- ``zsmalloc-test``: the allocation loop of Sergey Senozhatsky's zsmalloc_test module
  (RFC, 2026-01-01): for ``size = min_size, min_size + step, ... <= max_size`` allocate
  ``per_size`` objects of that size, size-major order.  The module's parameters are
  UNVERIFIED; defaults: ``min_size`` 32 (zsmalloc's ZS_MIN_ALLOC_SIZE), ``step`` 16
  (ZS_SIZE_CLASS_DELTA for 4 KiB pages), ``max_size`` 3632 (the huge class size with the
  default chain of 8 in Documentation/mm/zsmalloc.rst), ``per_size`` 1000.  ``pages`` is
  ignored (the loop fixes the count).

Page recipes (``pages:RECIPE``, ``PagesSource``) synthesise real pages with a known entropy
mix, measured with the real codecs by ``measure()``:

- ``random``: every byte uniform random (incompressible);
- ``half``: first half zero bytes, second half random;
- ``quarter``: first three quarters zero, last quarter random;
- ``text``: English-like text (``TextModel``: words of a seeded 2000-word vocabulary of
  syllables drawn with a finite Zipf law of exponent 1.3, spaces, sentence ends, newlines);
- ``zero``: all zero bytes;
- ``mix``: each page's recipe drawn uniformly from random, half, quarter, text.

Zeros come first in ``half``/``quarter`` because LZO1X-1 speeds up its match search on
incompressible input and would otherwise swallow part of a following zero run as
literals; this order reproduces the 2013 LZO measurements (random 4116 B, half 2077 B,
quarter 1052 B; see tests/test_synthetic.py).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterator

import numpy as np

from allocators.frontends.base import PageKind
from allocators.spec import ConfigParams
from workloads.errors import InputError
from workloads.measure import PageSizes
from workloads.specs import format_spec

SYNTHETIC_CODEC = "synthetic"
CHUNK_PAGES = 256


@dataclass(frozen=True)
class GeneratorParams(ConfigParams):
    """``pages``: pages generated; ``seed``: seed of ``numpy.random.default_rng``."""

    pages: int = 100_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.pages < 0:
            raise ValueError(f"pages must be >= 0, got {self.pages}")


class Generator(ABC):
    """A named, configured workload generator.  ``positional``: the parameter a bare
    value in the spec sets (``pages:random`` sets ``recipe``)."""

    name: ClassVar[str]
    Params: ClassVar[type[GeneratorParams]] = GeneratorParams
    positional: ClassVar[str | None] = None

    def __init__(self, params: GeneratorParams, page_size: int = 4096) -> None:
        self.params = params
        self.page_size = page_size
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` (one line) for parameters that do not fit ``page_size``."""

    def spec(self) -> str:
        """Canonical spec (``workloads.specs.format_spec``)."""
        return format_spec(self.name, self.params, self.positional)

    def describe(self) -> dict[str, Any]:
        return {"kind": "generator", "name": self.name, "spec": self.spec(),
                "config": self.params.to_config(), "page_size": self.page_size}


class SizeGenerator(Generator):
    """Produces ``PageSizes`` without page contents."""

    @abstractmethod
    def generate(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(sizes, kinds)`` of the whole workload."""

    def draw(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` fresh independent pages from the same distribution (for rewrites)."""
        sizes, kinds = self.generate(rng)
        idx = rng.integers(0, len(sizes), n)
        return sizes[idx], kinds[idx]

    def page_sizes(self) -> PageSizes:
        sizes, kinds = self.generate(np.random.default_rng(self.params.seed))
        sizes = np.asarray(sizes, dtype=np.int32)
        kinds = np.asarray(kinds, dtype=np.uint8)
        meta = {
            "workload": self.spec(),
            "page_size": self.page_size,
            "n_pages": len(sizes),
            "tail_bytes": 0,
            "source": self.describe(),
            "source_hash": config_hash(self.describe()),
            "generator": self.describe(),
            "seed": self.params.seed,
            "codec": SYNTHETIC_CODEC,
            "level": 0,
            "library": "zdensity",
            "library_version": "synthetic sizes",
        }
        return PageSizes(sizes, kinds, meta)

    def _data(self, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Round and clip to ``[1, page_size]``; all kinds ``DATA``."""
        s = np.clip(np.rint(sizes), 1, self.page_size).astype(np.int32)
        return s, np.full(len(s), PageKind.DATA, dtype=np.uint8)


def config_hash(config: dict[str, Any]) -> str:
    """sha256 of a JSON config: the content identity of a generated workload."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class UniformParams(GeneratorParams):
    """Sizes uniform on ``[lo, hi]`` bytes."""

    lo: int = 32
    hi: int = 4096

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 1 <= self.lo <= self.hi:
            raise ValueError(f"need 1 <= lo <= hi, got lo={self.lo}, hi={self.hi}")


class Uniform(SizeGenerator):
    name = "uniform"
    Params = UniformParams

    def validate(self) -> None:
        if self.params.hi > self.page_size:
            raise ValueError(f"hi={self.params.hi} exceeds the page size {self.page_size}")

    def generate(self, rng):
        p = self.params
        return self._data(rng.integers(p.lo, p.hi + 1, p.pages))


@dataclass(frozen=True)
class MeanSdParams(GeneratorParams):
    """``mean`` and ``sd`` in bytes."""

    mean: float = 1024.0
    sd: float = 512.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.mean > 0 or not self.sd >= 0:
            raise ValueError(f"need mean > 0 and sd >= 0, got mean={self.mean}, sd={self.sd}")


class Normal(SizeGenerator):
    name = "normal"
    Params = MeanSdParams

    def generate(self, rng):
        p = self.params
        return self._data(rng.normal(p.mean, p.sd, p.pages))


def lognormal(rng: np.random.Generator, mean: float, sd: float, n: int) -> np.ndarray:
    """Lognormal samples with arithmetic ``mean`` and ``sd``."""
    sigma2 = math.log1p((sd / mean) ** 2)
    return rng.lognormal(math.log(mean) - sigma2 / 2, math.sqrt(sigma2), n)


class Lognormal(SizeGenerator):
    name = "lognormal"
    Params = MeanSdParams

    def generate(self, rng):
        p = self.params
        return self._data(lognormal(rng, p.mean, p.sd, p.pages))


@dataclass(frozen=True)
class FixedParams(GeneratorParams):
    size: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.size < 1:
            raise ValueError(f"size must be >= 1, got {self.size}")


class Fixed(SizeGenerator):
    name = "fixed"
    Params = FixedParams

    def validate(self) -> None:
        if self.params.size > self.page_size:
            raise ValueError(f"size={self.params.size} exceeds the page size {self.page_size}")

    def generate(self, rng):
        p = self.params
        return self._data(np.full(p.pages, p.size))


@dataclass(frozen=True)
class HistogramParams(GeneratorParams):
    """``csv``: path of a ``size,count`` CSV; ``pages=0``: exactly the counts."""

    pages: int = 0
    csv: str = ""


class Histogram(SizeGenerator):
    name = "histogram"
    Params = HistogramParams
    positional = "csv"

    def validate(self) -> None:
        if not self.params.csv:
            raise ValueError("histogram needs csv=FILE (a size,count CSV)")
        self.values, self.counts = read_histogram(Path(self.params.csv), self.page_size)

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        d["histogram"] = {"sizes": self.values.tolist(), "counts": self.counts.tolist()}
        return d

    def _emit(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kinds = np.where(values == 0, PageKind.ZERO, PageKind.DATA).astype(np.uint8)
        return values.astype(np.int32), kinds

    def generate(self, rng):
        if self.params.pages == 0:
            return self._emit(rng.permutation(np.repeat(self.values, self.counts)))
        return self.draw(self.params.pages, rng)

    def draw(self, n, rng):
        p = self.counts / self.counts.sum()
        return self._emit(self.values[rng.choice(len(self.values), n, p=p)])


def read_histogram(path: Path, page_size: int) -> tuple[np.ndarray, np.ndarray]:
    """``(sizes, counts)`` from a CSV with header ``size,count``; ``InputError`` naming
    ``file:line`` on bad rows."""
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    sizes: dict[int, int] = {}
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip().lower() for h in next(reader, [])]
        if header[:2] != ["size", "count"]:
            raise InputError(f"{path}:1: header must be size,count")
        for row in reader:
            if not row or not "".join(row).strip():
                continue
            where = f"{path}:{reader.line_num}"
            try:
                size, count = int(row[0]), int(row[1])
            except (ValueError, IndexError):
                raise InputError(f"{where}: expected two integers size,count") from None
            if not 0 <= size <= page_size or count < 0:
                raise InputError(f"{where}: need 0 <= size <= {page_size} and count >= 0")
            sizes[size] = sizes.get(size, 0) + count
    values = np.array(sorted(s for s, c in sizes.items() if c > 0), dtype=np.int64)
    if len(values) == 0:
        raise InputError(f"{path}: histogram has no pages")
    return values, np.array([sizes[int(v)] for v in values], dtype=np.int64)


@dataclass(frozen=True)
class KernbenchParams(GeneratorParams):
    """Reported statistics over all stored zpages (bytes) and the zero-page share."""

    mean: float = 694.0
    sd: float = 474.0
    zero_fraction: float = 0.11
    zero_as_data: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.zero_fraction < 1:
            raise ValueError(f"zero_fraction must be in [0, 1), got {self.zero_fraction}")


class Kernbench2013(SizeGenerator):
    name = "kernbench-2013"
    Params = KernbenchParams
    zero_size_bytes_2013 = 28  # LZO output for a zero page, as 2013 zswap stored it

    def _nonzero_moments(self) -> tuple[float, float]:
        """Mean and variance of the non-zero pages' sizes (see the module doc)."""
        p, z, c = self.params, self.params.zero_fraction, self.zero_size_bytes_2013
        m = (p.mean - z * c) / (1 - z)
        return m, (p.sd**2 + p.mean**2 - z * c * c) / (1 - z) - m * m

    def nonzero_mean_sd(self) -> tuple[float, float]:
        """Mean and sd (bytes) of the non-zero pages' lognormal."""
        m, var = self._nonzero_moments()
        return m, math.sqrt(var)

    def validate(self) -> None:
        m, var = self._nonzero_moments()
        if m <= 0 or var <= 0:
            raise ValueError("mean/sd/zero_fraction leave no positive mean and variance for the non-zero pages")

    def generate(self, rng):
        return self.draw(self.params.pages, rng)

    def draw(self, n, rng):
        m, s = self.nonzero_mean_sd()
        zero = rng.random(n) < self.params.zero_fraction
        sizes, kinds = self._data(lognormal(rng, m, s, n))
        if self.params.zero_as_data:
            sizes[zero] = self.zero_size_bytes_2013
        else:
            sizes[zero] = 0
            kinds[zero] = PageKind.ZERO
        return sizes, kinds


@dataclass(frozen=True)
class ZsmallocTestParams(GeneratorParams):
    """Sizes ``min_size..max_size`` step ``step`` (bytes), ``per_size`` objects each."""

    min_size: int = 32
    max_size: int = 3632
    step: int = 16
    per_size: int = 1000

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (1 <= self.min_size <= self.max_size and self.step >= 1 and self.per_size >= 1):
            raise ValueError("need 1 <= min_size <= max_size, step >= 1, per_size >= 1")


class ZsmallocTest(SizeGenerator):
    name = "zsmalloc-test"
    Params = ZsmallocTestParams

    def validate(self) -> None:
        if self.params.max_size > self.page_size:
            raise ValueError(f"max_size={self.params.max_size} exceeds the page size {self.page_size}")

    def sizes(self) -> np.ndarray:
        p = self.params
        return np.arange(p.min_size, p.max_size + 1, p.step)

    def generate(self, rng):
        return self._data(np.repeat(self.sizes(), self.params.per_size))

    def draw(self, n, rng):
        return self._data(rng.choice(self.sizes(), n))


RECIPES = ("random", "half", "quarter", "text", "zero", "mix")
MIX_RECIPES = ("random", "half", "quarter", "text")


@dataclass(frozen=True)
class PagesParams(GeneratorParams):
    """``recipe``: one of ``RECIPES``."""

    pages: int = 1024
    recipe: str = "mix"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.recipe not in RECIPES:
            raise ValueError(f"unknown recipe {self.recipe!r}; known: {', '.join(RECIPES)}")


class PagesSource(Generator):
    """A ``PageSource`` of synthesised pages (see the module doc); ``chunks()`` yields the
    same pages on every call."""

    name = "pages"
    Params = PagesParams
    positional = "recipe"

    def chunks(self, chunk_pages: int = CHUNK_PAGES) -> Iterator[np.ndarray]:
        rng = np.random.default_rng(self.params.seed)
        text = TextModel(np.random.default_rng([self.params.seed, 1]))
        left = self.params.pages
        while left > 0:
            n = min(chunk_pages, left)
            yield np.stack([self._page(rng, text) for _ in range(n)])
            left -= n

    def _page(self, rng: np.random.Generator, text: TextModel) -> np.ndarray:
        ps = self.page_size
        recipe = self.params.recipe
        if recipe == "mix":
            recipe = MIX_RECIPES[int(rng.integers(len(MIX_RECIPES)))]
        page = np.zeros(ps, dtype=np.uint8)
        if recipe == "text":
            page[:] = np.frombuffer(text.text(rng, ps), dtype=np.uint8)
        elif recipe != "zero":
            k = {"random": ps, "half": ps // 2, "quarter": ps // 4}[recipe]
            page[ps - k:] = np.frombuffer(rng.bytes(k), dtype=np.uint8)
        return page

    @property
    def n_pages(self) -> int:
        return self.params.pages

    def fingerprint(self) -> str:
        return config_hash({"format": 1, **self.describe()})

    def with_seed(self, seed: int, pages: int) -> "PagesSource":
        """The same recipe with another seed and page count (fresh pages for rewrites)."""
        return PagesSource(dataclasses.replace(self.params, seed=seed, pages=pages), self.page_size)


class TextModel:
    """English-like text: ``n_words`` seeded syllable words drawn with a finite Zipf law
    (P(rank r) proportional to ``r ** -zipf_exponent``); after a word a space (92 %),
    ". " (6 %) or ".\n" (2 %)."""

    ENDINGS = (b" ", b". ", b".\n")

    def __init__(self, rng: np.random.Generator, n_words: int = 2000, zipf_exponent: float = 1.3) -> None:
        syllables = [a + b for a in ("", "b", "c", "d", "f", "g", "l", "m", "n", "p", "r", "s", "t", "th", "st")
                     for b in ("a", "e", "i", "o", "u", "ea", "ou")]
        words = ["".join(syllables[j] for j in rng.integers(len(syllables), size=int(rng.integers(1, 4)))).encode()
                 for _ in range(n_words)]
        self.variants = [[w + end for w in words] for end in self.ENDINGS]
        weights = np.arange(1, n_words + 1, dtype=float) ** -zipf_exponent
        self.cdf = np.cumsum(weights) / weights.sum()

    def text(self, rng: np.random.Generator, n_bytes: int) -> bytes:
        out = b""
        while len(out) < n_bytes:
            k = n_bytes // 4 + 16
            ranks = np.minimum(np.searchsorted(self.cdf, rng.random(k)), len(self.cdf) - 1).tolist()
            u = rng.random(k)
            ends = np.where(u < 0.02, 2, np.where(u < 0.08, 1, 0)).tolist()
            out += b"".join([self.variants[e][r] for r, e in zip(ranks, ends)])
        return out[:n_bytes]


_GENERATORS: list[type[Generator]] = [
    Uniform,
    Normal,
    Lognormal,
    Fixed,
    Histogram,
    Kernbench2013,
    ZsmallocTest,
    PagesSource,
]

GENERATORS: dict[str, type[Generator]] = {cls.name: cls for cls in _GENERATORS}
