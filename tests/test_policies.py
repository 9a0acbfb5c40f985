"""Policies: event streams that are consistent (frees only of live slots), counts as
specified, phases, compaction points, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from allocators.frontends.base import PageKind
from allocators.spec import SpecError
from workloads.measure import PageSizes
from workloads.policies import POLICIES, fill
from workloads.resolve import build_policy
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace


def page_sizes(n: int, seed: int = 0) -> PageSizes:
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 4097, n).astype(np.int32)
    kinds = np.where(rng.random(n) < 0.1, PageKind.ZERO, PageKind.DATA).astype(np.uint8)
    sizes[kinds == PageKind.ZERO] = 0
    return PageSizes(sizes, kinds, {"workload": "w", "page_size": 4096})


def replay_slots(tr: Trace) -> dict[str, int]:
    """Replays slot liveness independently of the policy: every free must hit a live slot;
    returns counts of stores into empty slots, overwrites, frees, compacts and live slots."""
    live: set[int] = set()
    n = {"new": 0, "overwrite": 0, "free": 0, "compact": 0}
    for op, page, size, kind in tr.events():
        if op == OP_STORE:
            n["overwrite" if page in live else "new"] += 1
            live.add(page)
            assert (size == 0) == (kind == PageKind.ZERO)
        elif op == OP_FREE:
            assert page in live, f"free of a slot that is not live: {page}"
            live.remove(page)
            n["free"] += 1
        else:
            assert op == OP_COMPACT and page == -1
            n["compact"] += 1
    n["live"] = len(live)
    return n


def check_phases(tr: Trace, names: list[str]) -> None:
    assert [name for name, _ in tr.phases] == names
    starts = [i for _, i in tr.phases]
    assert starts == sorted(starts) and starts[0] == 0 and starts[-1] <= len(tr)


def test_fill_stores_each_page_once_in_order():
    ps = page_sizes(100)
    tr = fill(ps)
    assert tr.ops.tolist() == [OP_STORE] * 100 and tr.pages.tolist() == list(range(100))
    assert np.array_equal(tr.sizes, ps.sizes) and np.array_equal(tr.kinds, ps.kinds)
    check_phases(tr, ["fill"])
    assert tr.meta["policy"] == "fill" and tr.meta["workload"] == "w"


def test_churn_counts_worked_example():
    """1000 pages, free=0.3, rewrite=0.2: 300 frees and 200 overwrites of distinct live
    slots after the fill; 700 slots live at the end."""
    tr = build_policy("churn:free=0.3,rewrite=0.2,seed=1").apply(page_sizes(1000))
    check_phases(tr, ["fill", "churn"])
    assert tr.phases[1][1] == 1000
    churn = slice(1000, None)
    assert len(tr) == 1500
    assert (tr.ops[churn] == OP_FREE).sum() == 300 and (tr.ops[churn] == OP_STORE).sum() == 200
    assert len(set(tr.pages[churn].tolist())) == 500  # freed and rewritten slots are disjoint
    assert replay_slots(tr) == {"new": 1000, "overwrite": 200, "free": 300, "compact": 0, "live": 700}


def test_churn_rounds_operate_on_live_pages():
    tr = build_policy("churn:free=0.5:rewrite=0.25:rounds=3:seed=4").apply(page_sizes(800))
    check_phases(tr, ["fill", "churn-1", "churn-2", "churn-3"])
    n = replay_slots(tr)
    assert n["live"] == 100 and n["free"] == 400 + 200 + 100 and n["overwrite"] == 200 + 100 + 50


def test_churn_rewrites_use_resample():
    ps = page_sizes(100)
    tr = build_policy("churn:free=0,rewrite=1").apply(ps, lambda n, rng: (np.full(n, 5), np.zeros(n)))
    assert (tr.sizes[100:] == 5).all() and len(tr) == 200


def test_churn_default_resample_draws_from_the_dump():
    ps = page_sizes(50)
    tr = build_policy("churn:free=0,rewrite=1,seed=3").apply(ps)
    assert set(tr.sizes[50:].tolist()) <= set(ps.sizes.tolist())


def test_compact_every_positions_and_phases():
    """10 stores, compact every 4: S S S S C S S S S C S S."""
    tr = build_policy("compact-every:4").apply(page_sizes(10))
    assert "".join("SFC"[o] for o in tr.ops.tolist()) == "SSSSCSSSSCSS"
    assert tr.pages[tr.ops == OP_COMPACT].tolist() == [-1, -1]
    check_phases(tr, ["fill"])


def test_compact_every_shifts_later_phases():
    tr = build_policy("churn:free=0.5,rewrite=0,compact_every=5").apply(page_sizes(10))
    # fill: 10 stores with compacts after the 5th and 10th -> churn starts at 12
    assert tr.phases == [("fill", 0), ("churn", 12)]
    assert tr.ops[11] == OP_COMPACT and tr.ops[12] != OP_COMPACT
    assert replay_slots(tr)["compact"] == 3  # after events 5, 10, 15


def test_swap_worked_example_lru():
    """4 pages, RAM for 2 (ratio 0.5): the fill swaps out pages 0 and 1 (LRU)."""
    tr = build_policy("swap:ratio=0.5,rounds=0").apply(page_sizes(4))
    assert tr.ops.tolist() == [OP_STORE, OP_STORE] and tr.pages.tolist() == [0, 1]


def test_swap_balances_stores_and_frees():
    n_pages = 400
    tr = build_policy("swap:ratio=0.25,rounds=3,seed=2").apply(page_sizes(n_pages))
    check_phases(tr, ["fill", "round-1", "round-2", "round-3"])
    n = replay_slots(tr)
    assert n["overwrite"] == 0  # a page is either in RAM or in the pool
    assert n["live"] == 100  # the pool holds exactly the pages that do not fit in RAM
    assert n["free"] > 0 and n["new"] == n["free"] + 100


def test_swap_hot_set_is_mostly_resident():
    """With all accesses in a hot set smaller than RAM, swap-ins happen only until the hot
    set is resident: far fewer than the accesses."""
    tr = build_policy("swap:ratio=0.5,rounds=2,hot=0.1,hot_access=1,write=0").apply(page_sizes(1000))
    assert replay_slots(tr)["free"] <= 100


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**16),
    spec=st.sampled_from([
        "fill", "compact-every:3", "churn:free=0.4,rewrite=0.3,rounds=2", "churn:free=1,rewrite=0",
        "swap:ratio=0.3,rounds=2", "swap:ratio=1,rounds=1,write=1", "swap:ratio=0,rounds=1",
    ]),
)
def test_policies_give_consistent_streams(n, seed, spec):
    policy = build_policy(f"{spec},seed={seed}" if not spec.startswith(("fill", "compact")) else spec)
    ps = page_sizes(n, seed)
    tr = policy.apply(ps)
    a = policy.apply(ps)
    assert np.array_equal(tr.pages, a.pages) and np.array_equal(tr.sizes, a.sizes)
    counts = replay_slots(tr)
    assert counts["live"] == counts["new"] - counts["free"] and 0 <= counts["live"] <= n
    assert tr.pages[tr.ops != OP_COMPACT].max(initial=-1) < n
    names = [p for p, _ in tr.phases]
    assert names[0] == "fill" and len(names) == len(set(names))


def test_policy_seed_changes_stream():
    ps = page_sizes(300)
    a = build_policy("churn:seed=1").apply(ps)
    b = build_policy("churn:seed=2").apply(ps)
    assert not np.array_equal(a.pages, b.pages)


@pytest.mark.parametrize("spec, message", [
    ("nosuch", "unknown policy 'nosuch'; known: churn, compact-every, fill, swap"),
    ("churn:free=0.8,rewrite=0.5", "free \\+ rewrite must be <= 1"),
    ("churn:free=2", "free must be in \\[0, 1\\]"),
    ("compact-every:0", "N >= 1"),
    ("compact-every:x", "bad value for compact_every"),
    ("swap:ratio=-1", "ratio must be in"),
    ("fill:3", "expected key=value"),
    ("churn:rounds=0", "rounds must be >= 1"),
])
def test_bad_policy_specs(spec, message):
    with pytest.raises(SpecError, match=message):
        build_policy(spec)


def test_registry_names_unique():
    from workloads import policies

    assert len(POLICIES) == len(policies._POLICIES)


def naive_swap(ps: PageSizes, ratio, rounds, hot, hot_access, write, seed, resample):
    """Reference for ``swap``: the same random draws, RAM as a plain list in LRU order."""
    rng = np.random.default_rng(seed)
    n = ps.n_pages
    capacity = n - round(ratio * n)
    content = {i: (int(ps.sizes[i]), int(ps.kinds[i])) for i in range(n)}
    ram: list[int] = []
    events = []

    def touch(page):
        if page in ram:
            ram.remove(page)
        ram.append(page)
        if len(ram) > capacity:
            victim = ram.pop(0)
            events.append((OP_STORE, victim, *content[victim]))

    for page in range(n):
        touch(page)
    hot_set = rng.permutation(n)[: max(1, round(hot * n))]
    for _ in range(rounds):
        in_hot = rng.random(n) < hot_access
        hot_picks = hot_set[rng.integers(0, len(hot_set), n)]
        any_picks = rng.integers(0, n, n)
        writes = rng.random(n) < write
        new_sizes, new_kinds = resample(int(writes.sum()), rng)
        k = 0
        for i in range(n):
            page = int(hot_picks[i] if in_hot[i] else any_picks[i])
            if page not in ram:
                events.append((OP_FREE, page, 0, 0))
            touch(page)
            if writes[i]:
                content[page] = (int(new_sizes[k]), int(new_kinds[k]))
                k += 1
    return events


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), ratio=st.sampled_from([0.0, 0.1, 0.5, 0.9, 1.0]), rounds=st.integers(0, 3),
       hot=st.sampled_from([0.1, 0.5]), write=st.sampled_from([0.0, 0.5, 1.0]), seed=st.integers(0, 1000))
def test_swap_matches_naive_lru(n, ratio, rounds, hot, write, seed):
    ps = page_sizes(n, seed)
    policy = build_policy(f"swap:ratio={ratio},rounds={rounds},hot={hot},hot_access=0.7,write={write},seed={seed}")

    def resample(k, rng):
        return rng.integers(1, 4097, k), np.zeros(k, dtype=np.uint8)

    tr = policy.apply(ps, resample)
    assert list(tr.events()) == naive_swap(ps, ratio, rounds, hot, 0.7, write, seed, resample)
