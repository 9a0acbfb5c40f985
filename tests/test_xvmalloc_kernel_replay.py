"""Kernel replay goldens for xvmalloc and zsmalloc-2012.

The expected values were produced by the kernel's own allocator code compiled in userspace
(a transcription of drivers/staging/zram/xvmalloc.c @ 020abf03 and of
drivers/staging/zsmalloc/zsmalloc-main.c @ 61989a80 over small page/list/kmap shims,
kept outside this repository): the same seeded malloc/free traces, one output line per
operation.  xvmalloc lines are ``page offset total_pages`` (``X total_pages`` when the
malloc fails, ``total_pages`` after a free); zsmalloc-2012 lines are ``zspage object
total_pages`` (zspages and pages numbered in allocation order).  The test replays the same
traces through the models and compares the sha256 of the lines, the peak and the final
pool size.  Regenerate only on purpose, from the kernel harness.
"""

from __future__ import annotations

import hashlib
import random

import pytest

import allocators as A

TRACES = {
    "uniform": lambda r: r.randint(1, 4096),
    "normal": lambda r: min(3072, max(1, int(r.gauss(1400, 800)))),
    "edges": lambda r: r.choice([1, 28, 32, 33, 36, 40, 100, 200, 208, 209, 988, 2048,
                                 3000, 3072, 3073, 4085, 4088, 4089, 4092, 4096]),
}
N_OPS = 20_000


def trace(name: str, seed: int = 2012) -> list[tuple[str, int]]:
    """``("m", size)`` allocates object number k (k counts mallocs, failed ones too);
    ``("f", k)`` frees it.  55 % mallocs; frees pick a random live object."""
    rng = random.Random(seed)
    size_of = TRACES[name]
    ops: list[tuple[str, int]] = []
    live: list[int] = []
    n = 0
    for _ in range(N_OPS):
        if not live or rng.random() < 0.55:
            ops.append(("m", size_of(rng)))
            live.append(n)
            n += 1
        else:
            i = rng.randrange(len(live))
            live[i], live[-1] = live[-1], live[i]
            ops.append(("f", live.pop()))
    return ops


def replay(name: str, ops: list[tuple[str, int]]) -> list[str]:
    alloc = A.create(name)
    handles: list[int | None] = []
    lines = []
    for op, arg in ops:
        if op == "f":
            if handles[arg] is not None:
                alloc.free(handles[arg])
            lines.append(f"{alloc.pool_pages()}")
            continue
        try:
            h = alloc.malloc(arg)
        except (A.AllocationFailed, A.ObjectTooLarge):  # the kernel's -ENOMEM
            handles.append(None)
            lines.append(f"X {alloc.pool_pages()}")
            continue
        handles.append(h)
        if name == "xvmalloc":
            (page,), offset, _ = alloc.locate(h)
            lines.append(f"{page} {offset} {alloc.pool_pages()}")
        else:
            lines.append(f"{h >> alloc._obj_bits} {h & alloc._obj_mask} {alloc.pool_pages()}")
    alloc.check_invariants()
    return lines


# (allocator, trace): (sha256 of the kernel's output, peak pages, final pages)
KERNEL = {
    ("xvmalloc", "uniform"): ("0735dee235ad6684b1ab52f4f89270811b2d7d5b77f99d2b04c3163892b82ed7", 980, 980),
    ("xvmalloc", "normal"): ("4771192b776044eacde37b36d46afdbedaf1024dcd6442c1e99ca6312568a64f", 703, 703),
    ("xvmalloc", "edges"): ("33994fe31243e772b4c2f17759b27ce5a1108109ef98f77a2a9e7dd19ebad609", 536, 533),
    ("zsmalloc-2012", "uniform"): ("0875a81ed20f18df7e62d1ac3de0ef28e0b537b95ca52b06042c2621cbda816d", 1325, 1322),
    ("zsmalloc-2012", "normal"): ("c388d5ef0bbbec0cbacb99c0f115198c329a9d844adf2b71bd303cb675e0aaa4", 989, 987),
    ("zsmalloc-2012", "edges"): ("9b66ca5eed6d8db97151947171ff37145a91a1f66a2cff8daf1a531fb2d49f4b", 758, 755),
}


@pytest.mark.parametrize("allocator,trace_name", sorted(KERNEL))
def test_model_replays_kernel_exactly(allocator, trace_name):
    lines = replay(allocator, trace(trace_name))
    text = "".join(line + "\n" for line in lines)
    pools = [int(line.split()[-1]) for line in lines]
    digest, peak, final = KERNEL[allocator, trace_name]
    assert (max(pools), pools[-1]) == (peak, final)
    assert hashlib.sha256(text.encode()).hexdigest() == digest
