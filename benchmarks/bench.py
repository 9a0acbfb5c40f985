"""zdensity benchmark: codec pass throughput, cache effect, allocator replay speed and
memory per live object.  Prints numbers; asserts nothing.  Run with ``make bench``.

    python benchmarks/bench.py [--mib 64] [--jobs N] [--allocators a,b]

1. A deterministic dump of ``--mib`` MiB is generated (a mix of text-like, structured,
   random, zero and same-filled pages, like a process heap).
2. Codec pass (lzo, lz4): pages/s with 1 process and with ``--jobs`` processes, next to
   the raw library speed (a bare loop over the same pages), no cache.
3. Cache: a second measurement of the same dump with a warm cache, as a percentage of the
   first (cold) one.
4. Replay: every registered allocator behind the ``none`` frontend on a churn trace built
   from the dump's lzo sizes (fill, then frees and rewrites): malloc/free ops/s on one
   core, and Python memory per live object (tracemalloc).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import allocators as A  # noqa: E402
from workloads.codecs import create_codec  # noqa: E402
from workloads.dumps import DumpSource  # noqa: E402
from workloads.measure import SizeCache, measure  # noqa: E402

PAGE = 4096


def make_dump(path: Path, mib: int, seed: int = 1) -> None:
    """Write ``mib`` MiB of heap-like pages: 45% text, 25% structured records, 10% random,
    12% zero, 3% same-filled, 5% sparse (mostly zero)."""
    rng = np.random.default_rng(seed)
    vocab = [bytes(rng.choice(list(b"etaoinshrdlucmfwyp"), rng.integers(2, 9))) for _ in range(3000)]
    n = mib * 256
    kinds = rng.choice(6, size=n, p=[0.45, 0.25, 0.10, 0.12, 0.03, 0.05])
    with open(path, "wb") as fh:
        for k in kinds.tolist():
            if k == 0:
                words = [vocab[i] for i in rng.zipf(1.3, 900) % len(vocab)]
                page = b" ".join(words)[:PAGE].ljust(PAGE, b" ")
            elif k == 1:
                recs = np.zeros(PAGE // 32, dtype=[("id", "<u8"), ("ptr", "<u8"), ("val", "<f8"), ("flag", "<u8")])
                base = int(rng.integers(1 << 40))
                recs["id"] = np.arange(len(recs)) + base
                recs["ptr"] = 0x7F0000000000 + rng.integers(0, 1 << 20, len(recs)) * 16
                recs["val"] = rng.normal(size=len(recs)).round(2)
                recs["flag"] = rng.integers(0, 4, len(recs))
                page = recs.tobytes()
            elif k == 2:
                page = rng.bytes(PAGE)
            elif k == 3:
                page = bytes(PAGE)
            elif k == 4:
                page = np.full(PAGE // 8, rng.integers(1, 1 << 63), dtype=np.uint64).tobytes()
            else:
                arr = np.zeros(PAGE, dtype=np.uint8)
                idx = rng.integers(0, PAGE, 64)
                arr[idx] = rng.integers(1, 255, 64)
                page = arr.tobytes()
            fh.write(page)


def bench_codecs(dump: Path, jobs: int) -> None:
    src = DumpSource(dump)
    pages = [p.tobytes() for chunk in src.chunks() for p in chunk]
    n = len(pages)
    print(f"\n== codec pass: {n} pages ({n * PAGE >> 20} MiB), {jobs} jobs ==")
    print(f"{'codec':8} {'raw lib p/s':>12} {'1 proc p/s':>12} {f'{jobs} procs p/s':>14} {'per core':>10} {'scaling':>8}")
    for name in ("lzo", "lz4"):
        codec = create_codec(name)
        t = time.perf_counter()
        for p in pages:
            codec.compressed_size(p)
        raw = n / (time.perf_counter() - t)
        t = time.perf_counter()
        measure(src, name, jobs=1, cache=None, progress=False)
        one = n / (time.perf_counter() - t)
        t = time.perf_counter()
        measure(src, name, jobs=jobs, cache=None, progress=False)
        many = n / (time.perf_counter() - t)
        print(f"{name:8} {raw:12,.0f} {one:12,.0f} {many:14,.0f} {many / jobs:10,.0f} {many / one:7.2f}x")


def bench_cache(dump: Path, jobs: int) -> None:
    src = DumpSource(dump)
    with tempfile.TemporaryDirectory() as d:
        cache = SizeCache(d)
        t = time.perf_counter()
        measure(src, "lzo", jobs=jobs, cache=cache, progress=False)
        cold = time.perf_counter() - t
        t = time.perf_counter()
        measure(src, "lzo", jobs=jobs, cache=cache, progress=False)
        warm = time.perf_counter() - t
    print(f"\n== cache: cold {cold:.2f} s, warm {warm:.3f} s ({100 * warm / cold:.1f}% of cold) ==")


def bench_replay(dump: Path, names: list[str]) -> None:
    ps = measure(DumpSource(dump), "lzo", jobs=os.cpu_count(), cache=None, progress=False)
    sizes = ps.sizes[ps.sizes > 0]
    sizes = np.minimum(sizes, PAGE).tolist()
    rng = np.random.default_rng(2)
    order: list[int] = list(range(len(sizes)))
    rounds = [rng.choice(len(sizes), size=len(sizes) * 3 // 10, replace=False).tolist() for _ in range(3)]
    n_ops = len(sizes) + sum(2 * len(r) for r in rounds)
    print(f"\n== replay: {len(sizes)} objects (lzo sizes), fill + 3 x (free 30%, rewrite 30%) = {n_ops} ops ==")
    print(f"{'allocator':16} {'ops/s':>10} {'pool pages':>11} {'B/live obj':>11}")
    for name in names:
        alloc = A.create(name)
        limit = alloc.max_alloc_bytes
        clipped = [min(s, limit) for s in sizes]
        handles: list[int] = [0] * len(clipped)
        malloc, free = alloc.malloc, alloc.free
        t = time.perf_counter()
        for i in order:
            handles[i] = _try(malloc, clipped[i])
        for r in rounds:
            for i in r:
                if handles[i]:
                    free(handles[i])
            for i in r:
                handles[i] = _try(malloc, clipped[i])
        rate = n_ops / (time.perf_counter() - t)
        pages = alloc.pool_pages()
        tracemalloc.start()
        alloc2 = A.create(name)
        base = tracemalloc.get_traced_memory()[0]
        hs = [_try(alloc2.malloc, s) for s in clipped]
        per_obj = (tracemalloc.get_traced_memory()[0] - base - sys.getsizeof(hs)) / max(1, sum(1 for h in hs if h))
        tracemalloc.stop()
        print(f"{name:16} {rate:10,.0f} {pages:11,d} {per_obj:11.0f}")


def _try(fn, size):
    try:
        return fn(size)
    except A.AllocatorError:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--allocators", default=",".join(sorted(A.REGISTRY)))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        dump = Path(d) / "bench.bin"
        t = time.perf_counter()
        make_dump(dump, args.mib)
        print(f"generated {args.mib} MiB dump in {time.perf_counter() - t:.1f} s")
        bench_codecs(dump, args.jobs)
        bench_cache(dump, args.jobs)
        bench_replay(dump, [a for a in args.allocators.split(",") if a])


if __name__ == "__main__":
    main()
