"""Cross-check over the whole registry: on the same trace, the ``ideal`` packer
(``ceil(stored_bytes / page_size)``) never holds more pages than any registered allocator."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import allocators as A
from allocators.ideal import Ideal

NAMES = sorted(A.REGISTRY)

# ops: a positive int is a malloc of that many bytes (clamped to the allocator's maximum),
# a negative int -k frees the k-th live object (modulo the live count)
OPS = st.lists(st.one_of(st.integers(1, 4096), st.integers(1, 400), st.integers(-10_000, -1)),
               min_size=1, max_size=150)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(ops=OPS)
def test_ideal_never_uses_more_pages(name, ops):
    alloc = A.create(name)
    ideal = Ideal()
    live: list[tuple[int, int]] = []
    for op in ops:
        if op > 0:
            size = min(op, alloc.max_alloc_bytes)
            try:
                handle = alloc.malloc(size)
            except A.AllocationFailed:
                continue  # refused after trying (e.g. xvmalloc's sizes that grow and fail)
            live.append((handle, ideal.malloc(size)))
        elif live:
            handle, ideal_handle = live.pop(-op % len(live))
            alloc.free(handle)
            ideal.free(ideal_handle)
        assert ideal.stored_bytes == alloc.stored_bytes
        assert ideal.pool_pages() <= alloc.pool_pages(), f"{name}: {alloc.pool_pages()} pages < ideal"
