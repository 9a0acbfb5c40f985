"""Pages -> per-page compressed sizes and kinds, in parallel and cached.

Each page is classified (``zero``: all bytes 0; ``same``: all 8-byte words equal, value
!= 0; ``data``: anything else).  ``data`` and ``same`` pages are compressed with the codec
(frontends that store same-filled pages without an allocation ignore the size); zero pages
get size 0.

Compression runs over ``jobs`` worker processes (default: all cores).  Results are cached
on disk keyed by (content hash of the input, codec spec, codec library version, page
size), so a second run of the same dump and codec does no compression; a stat index
(path, size, mtime, inode -> content hash) avoids even re-hashing an unchanged file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import warnings
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import numpy as np

from allocators.frontends.base import PageKind
from workloads.atomic import atomic_open
from workloads.codecs import Codec, create_codec
from workloads.dumps import CHUNK_PAGES

CACHE_FORMAT = 1


class PageSource(Protocol):
    """Anything that yields pages: ``name``, ``page_size``, ``chunks()`` of
    ``(n, page_size)`` uint8 arrays (fresh iteration each call), ``fingerprint()`` (a
    content hash, or "" for no caching) and ``describe()``."""

    name: str
    page_size: int

    def chunks(self) -> Iterator[np.ndarray]: ...

    def fingerprint(self) -> str: ...

    def describe(self) -> dict[str, Any]: ...


@dataclass
class PageSizes:
    """Compressed size (bytes, int32) and kind (``PageKind``, uint8) of every page of a
    workload, in page order, plus metadata (workload, codec, page size, source)."""

    sizes: np.ndarray
    kinds: np.ndarray
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def n_pages(self) -> int:
        return int(self.sizes.shape[0])

    @property
    def name(self) -> str:
        return self.meta.get("workload", "workload")

    @property
    def page_size(self) -> int:
        return int(self.meta.get("page_size", 4096))


def classify(pages: np.ndarray) -> np.ndarray:
    """``PageKind`` per row of a ``(n, page_size)`` uint8 array."""
    words = pages.view(np.uint64)
    same = (words == words[:, :1]).all(axis=1)
    zero = same & (words[:, 0] == 0)
    kinds = np.full(pages.shape[0], PageKind.DATA, dtype=np.uint8)
    kinds[same] = PageKind.SAME
    kinds[zero] = PageKind.ZERO
    return kinds


def measure_chunk(codec: Codec, pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and kinds of one chunk of pages."""
    if codec.in_process:
        return codec.measure_pages(pages)
    kinds = classify(pages)
    sizes = np.zeros(pages.shape[0], dtype=np.int32)
    raw = _bytes_of(pages)
    ps = pages.shape[1]
    compressed_size = codec.compressed_size
    for i in np.flatnonzero(kinds != PageKind.ZERO).tolist():
        sizes[i] = compressed_size(raw[i * ps : (i + 1) * ps])
    return sizes, kinds


def _bytes_of(pages: np.ndarray) -> bytes:
    """The ``bytes`` object an array was made from with ``np.frombuffer`` (readers return
    such arrays), else a copy: codecs take ``bytes``."""
    owner = pages
    while isinstance(owner, np.ndarray):
        owner = owner.base
    if isinstance(owner, bytes) and len(owner) == pages.nbytes and pages.flags.c_contiguous:
        return owner
    return pages.tobytes()


_worker_codec: Codec | None = None


def _worker_init(codec_spec: str) -> None:
    global _worker_codec
    _worker_codec = create_codec(codec_spec)


def _worker_measure(pages: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    assert _worker_codec is not None
    return measure_chunk(_worker_codec, pages)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "zdensity"


class SizeCache:
    """On-disk cache of ``PageSizes`` (one ``.npz`` per key, written atomically, validated
    on read: a corrupt entry is reported with a warning and recomputed)."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.dir = Path(directory) if directory else default_cache_dir()

    def key(self, fingerprint: str, codec: Codec, page_size: int) -> str:
        ident = json.dumps(
            {"format": CACHE_FORMAT, "content": fingerprint, "codec": codec.spec(),
             "library": codec.library_version(), "page_size": page_size},
            sort_keys=True,
        )
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    def get(self, key: str) -> PageSizes | None:
        path = self.dir / f"{key}.npz"
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                sizes, kinds = z["sizes"].astype(np.int32), z["kinds"].astype(np.uint8)
                meta = json.loads(str(z["meta"]))
            if sizes.shape != kinds.shape or sizes.ndim != 1:
                raise ValueError("shape mismatch")
            return PageSizes(sizes, kinds, meta)
        except Exception as exc:  # corrupt entry: recompute
            warnings.warn(f"zdensity: cache entry {path.name} is corrupt ({exc}); recomputing", stacklevel=2)
            return None

    def put(self, key: str, ps: PageSizes) -> None:
        buf = io.BytesIO()
        np.savez(buf, sizes=ps.sizes, kinds=ps.kinds, meta=np.array(json.dumps(ps.meta)))
        with atomic_open(self.dir / f"{key}.npz", "wb") as fh:
            fh.write(buf.getvalue())

    def fingerprint(self, source: PageSource) -> str:
        """The source's content hash, looked up by file stat when the source is a file."""
        path = getattr(source, "path", None)
        if path is None:
            return source.fingerprint()
        st = Path(path).stat()
        stat_key = hashlib.sha256(f"{Path(path).resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}".encode()).hexdigest()[:32]
        index = self.dir / "stat" / stat_key
        try:
            return index.read_text().strip()
        except OSError:
            pass
        fp = source.fingerprint()
        try:
            with atomic_open(index, "w") as fh:
                fh.write(fp)
        except OSError:
            pass
        return fp


def _progress(total: int | None, desc: str, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="page", unit_scale=True, leave=False, file=sys.stderr)


def estimate_pages(source: PageSource) -> int | None:
    path = getattr(source, "path", None)
    if path is None or getattr(source, "n_pages", 0):  # generators, core files: known up front
        return getattr(source, "n_pages", None) or None
    if str(path).endswith(".zst"):
        try:
            import zstandard

            with open(path, "rb") as fh:
                size = zstandard.frame_content_size(fh.read(18))
            return -(-size // source.page_size) if size > 0 else None
        except Exception:
            return None
    return -(-Path(path).stat().st_size // source.page_size)


def measure(
    source: PageSource,
    codec: Codec | str,
    jobs: int | None = None,
    cache: SizeCache | None = None,
    progress: bool | None = None,
) -> PageSizes:
    """Per-page compressed sizes and kinds of ``source`` with ``codec``.

    ``jobs``: worker processes (None = all cores, 1 = in this process).  ``cache``: a
    ``SizeCache`` or None for no caching.  ``progress``: show a progress bar (default: when
    stderr is a terminal).
    """
    if isinstance(codec, str):
        codec = create_codec(codec)
    key = None
    if cache is not None:
        fp = cache.fingerprint(source)
        if fp:
            key = cache.key(fp, codec, source.page_size)
            hit = cache.get(key)
            if hit is not None:
                hit.meta["workload"] = source.name
                hit.meta["cached"] = True
                return hit
    jobs = 1 if codec.in_process else jobs or os.cpu_count() or 1
    estimate = estimate_pages(source)
    if estimate is not None and estimate < 2 * CHUNK_PAGES * jobs:
        jobs = 1  # a small input: starting workers costs more than it saves
    fp_future = None

    def start_hashing() -> None:
        """Hash the input (for the metadata) in a thread while the pages are compressed;
        called once any worker processes exist (never fork beside a running thread)."""
        nonlocal fp_future
        if key is None:
            from concurrent.futures import ThreadPoolExecutor

            hasher = ThreadPoolExecutor(1)
            fp_future = hasher.submit(source.fingerprint)
            hasher.shutdown(wait=False)
    sizes_parts: list[np.ndarray] = []
    kinds_parts: list[np.ndarray] = []
    bar = _progress(estimate, f"{source.name} {codec.spec()}", progress)
    try:
        for s, k in _run_chunks(source, codec, jobs, start_hashing):
            sizes_parts.append(s)
            kinds_parts.append(k)
            if bar is not None:
                bar.update(len(s))
    finally:
        if bar is not None:
            bar.close()
    meta = {
        "workload": source.name,
        "page_size": source.page_size,
        "n_pages": int(sum(len(s) for s in sizes_parts)),
        "tail_bytes": int(getattr(source, "tail_bytes", 0)),
        "source": source.describe(),
        "source_hash": fp_future.result() if fp_future else (fp if key is not None else source.fingerprint()),
        **codec.describe(),
    }
    result = PageSizes(np.concatenate(sizes_parts), np.concatenate(kinds_parts), meta)
    if key is not None:
        cache.put(key, result)
    result.meta["cached"] = False
    return result


def _run_chunks(source: PageSource, codec: Codec, jobs: int, started: Callable[[], None]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Sizes and kinds chunk by chunk, in page order; ``started()`` is called once the
    workers (if any) exist.  With several jobs, workers read their own page ranges of a
    random-access source (a raw file); otherwise this process reads the pages and ships
    each chunk to a worker."""
    if jobs <= 1:
        started()
        for chunk in source.chunks():
            yield measure_chunk(codec, chunk)
        return
    ctx = get_context("fork")
    with ctx.Pool(jobs, initializer=_worker_init, initargs=(codec.spec(),)) as pool:
        started()
        if getattr(source, "random_access", False):
            tasks = [(source, first, n) for first, n in source.ranges()]
            yield from pool.imap(_worker_measure_range, tasks, chunksize=1)
        else:
            yield from pool.imap(_worker_measure, source.chunks(), chunksize=1)


def _worker_measure_range(task: tuple[Any, int, int]) -> tuple[np.ndarray, np.ndarray]:
    source, first, n = task
    return _worker_measure(source.read_range(first, n))
