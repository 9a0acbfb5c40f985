"""Contract tests over every registered allocator."""

from __future__ import annotations

import json

import pytest

import allocators as A

NAMES = sorted(A.REGISTRY)


def test_names_unique_and_lowercase():
    assert len(A.REGISTRY) == len(A._ALLOCATORS)
    for name, cls in A.REGISTRY.items():
        assert name == cls.name == name.lower()
        assert cls.models


@pytest.mark.parametrize("name", NAMES)
def test_config_round_trip(name):
    alloc = A.create(name)
    config = json.loads(json.dumps(alloc.to_config()))
    again = A.from_config(config)
    assert type(again) is type(alloc) and again.params == alloc.params
    assert alloc.spec() == name


@pytest.mark.parametrize("name", NAMES)
def test_malloc_free_returns_to_empty(name):
    alloc = A.create(name)
    sizes = [1, 17, 100, 700, 1500, 2049, 3000, 3500]
    handles = [alloc.malloc(s) for s in sizes]
    assert len(set(handles)) == len(handles)
    assert alloc.n_objects == len(sizes) and alloc.stored_bytes == sum(sizes)
    assert alloc.pool_pages() >= -(-sum(sizes) // alloc.page_size)
    alloc.check_invariants()
    for h in reversed(handles):
        alloc.free(h)
        alloc.check_invariants()
    assert alloc.n_objects == 0 and alloc.stored_bytes == 0
    assert alloc.pool_pages() == 0


@pytest.mark.parametrize("name", NAMES)
def test_bad_sizes_and_handles(name):
    alloc = A.create(name)
    for bad in (0, -1):
        with pytest.raises(A.InvalidSize):
            alloc.malloc(bad)
    with pytest.raises(A.ObjectTooLarge):
        alloc.malloc(alloc.max_alloc_bytes + 1)
    h = alloc.malloc(64)
    alloc.free(h)
    with pytest.raises(A.InvalidHandle):
        alloc.free(h)
    with pytest.raises(A.InvalidHandle):
        alloc.free(123456789)
    assert alloc.pool_pages() == 0


def test_unknown_allocator_lists_known():
    with pytest.raises(A.SpecError, match="known: .*ideal"):
        A.create("nosuch")
