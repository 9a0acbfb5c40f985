"""Policies turn per-page sizes (``PageSizes``) into event streams (``Trace``): what
happens to the pages over time.  Each policy is a registered class with a frozen
``Params``; every policy accepts ``compact_every=N`` (insert a ``compact`` event after
every ``N`` store/free events; 0 = never).  Policies mark phases in
``meta["phases"] = [[name, first_event_index], ...]`` so recorders snapshot at phase ends.

- ``fill`` (default): store every page once, page ``i`` as slot ``i``, in page order (what
  writing a dump into a zram device or swapping a process out page by page does).
- ``compact-every:N``: ``fill`` with a ``compact`` after every ``N`` events.
- ``churn:free=F,rewrite=R,seed=S,rounds=K``: after the fill, ``K`` churn rounds.  Each
  round takes the live pages in a seeded random order; the first ``round(F*live)`` are
  freed, the next ``round(R*live)`` are rewritten (stored again in their slot with new
  contents: frontends free or replace the old object as their kernel does); the frees and
  rewrites of a round are interleaved in a seeded random order.  New contents: for a dump,
  the size and kind of a page drawn uniformly from the whole dump with the seed; for a
  generator, fresh draws from its distribution.  ``F + R <= 1``.  Phases ``fill``,
  ``churn`` (or ``churn-1``..``churn-K``).
- ``swap:ratio=X,rounds=K,hot=H,hot_access=A,write=W,seed=S``: a process whose anonymous
  memory is the workload's pages, in a RAM that holds ``n - round(X*n)`` of them;
  zram/zswap holds the rest.  RAM is managed with an exact LRU list.  Phase ``fill``: the
  process touches pages 0..n-1 in order; each touch makes the page most recently used and,
  when RAM is full, the least recently used page is swapped out (``store`` of its current
  contents).  Then ``K`` rounds (phases ``round-1``..``round-K``) of ``n`` accesses each:
  an access picks a page of the hot set (a seeded random ``H`` share of the pages) with
  probability ``A``, else any page uniformly.  An access to a swapped-out page swaps it in:
  ``free`` of its slot (zram frees the slot on swap-in through swap_slot_free_notify,
  zswap invalidates the entry on load) and, RAM being full, the LRU page is swapped out.
  With probability ``W`` the access writes the page, giving it new contents (drawn as for
  ``churn``) that its next swap-out stores.  Pages never leave the process (no exits).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import numpy as np

from allocators.spec import ConfigParams
from workloads.measure import PageSizes
from workloads.specs import format_spec
from workloads.trace import OP_COMPACT, OP_FREE, OP_STORE, Trace

Resample = Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]
"""``(n, rng) -> (sizes, kinds)``: new contents for ``n`` rewritten pages."""


def resample_from(ps: PageSizes) -> Resample:
    """New contents drawn uniformly (with replacement) from the pages of ``ps``."""

    def draw(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.integers(0, ps.n_pages, n)
        return ps.sizes[idx], ps.kinds[idx]

    return draw


@dataclass(frozen=True)
class PolicyParams(ConfigParams):
    """``compact_every``: a ``compact`` event after every N store/free events (0 = never)."""

    compact_every: int = 0

    def __post_init__(self) -> None:
        if self.compact_every < 0:
            raise ValueError(f"compact_every must be >= 0, got {self.compact_every}")


class Policy(ABC):
    name: ClassVar[str]
    Params: ClassVar[type[PolicyParams]] = PolicyParams
    positional: ClassVar[str | None] = None

    def __init__(self, params: PolicyParams | None = None) -> None:
        self.params = params or self.Params()

    def spec(self) -> str:
        """Canonical spec (``workloads.specs.format_spec``)."""
        return format_spec(self.name, self.params, self.positional)

    def apply(self, ps: PageSizes, resample: Resample | None = None) -> Trace:
        """The event stream for ``ps``; ``resample`` gives rewritten pages' contents
        (default: drawn from ``ps`` itself)."""
        ev = Events()
        self.events(ev, ps, resample or resample_from(ps))
        meta = {**ps.meta, "policy": self.spec(), "policy_config": self.params.to_config()}
        return ev.trace(meta, self.params.compact_every)

    @abstractmethod
    def events(self, ev: "Events", ps: PageSizes, resample: Resample) -> None:
        """Append this policy's events and phases to ``ev``."""


class Events:
    """Accumulates event columns in segments, and phase starts."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.n = 0
        self.phases: list[list[Any]] = []

    def phase(self, name: str) -> None:
        self.phases.append([name, self.n])

    def add(self, ops, pages, sizes, kinds) -> None:
        cols = (np.asarray(ops, dtype=np.uint8), np.asarray(pages, dtype=np.int64),
                np.asarray(sizes, dtype=np.int32), np.asarray(kinds, dtype=np.uint8))
        self.parts.append(cols)
        self.n += len(cols[0])

    def trace(self, meta: dict[str, Any], compact_every: int = 0) -> Trace:
        cols = [np.concatenate([p[i] for p in self.parts]) if self.parts else np.zeros(0) for i in range(4)]
        phases = [list(p) for p in self.phases]
        if compact_every:
            at = np.arange(compact_every, self.n + 1, compact_every)
            cols = [np.insert(cols[0], at, OP_COMPACT), np.insert(cols[1], at, -1),
                    np.insert(cols[2], at, 0), np.insert(cols[3], at, 0)]
            for p in phases:
                p[1] += p[1] // compact_every
        return Trace.from_columns(*cols, {**meta, "phases": phases})


def _fill(ev: Events, ps: PageSizes) -> None:
    ev.phase("fill")
    ev.add(np.full(ps.n_pages, OP_STORE), np.arange(ps.n_pages), ps.sizes, ps.kinds)


class Fill(Policy):
    name = "fill"

    def events(self, ev, ps, resample):
        _fill(ev, ps)


@dataclass(frozen=True)
class CompactEveryParams(PolicyParams):
    compact_every: int = 1000

    def __post_init__(self) -> None:
        if self.compact_every < 1:
            raise ValueError(f"compact-every needs N >= 1, got {self.compact_every}")


class CompactEvery(Policy):
    name = "compact-every"
    Params = CompactEveryParams
    positional = "compact_every"

    def events(self, ev, ps, resample):
        _fill(ev, ps)


def _fraction(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


@dataclass(frozen=True)
class ChurnParams(PolicyParams):
    """``free``/``rewrite``: shares of the live pages per round; ``rounds``; ``seed``."""

    free: float = 0.3
    rewrite: float = 0.2
    rounds: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        _fraction("free", self.free)
        _fraction("rewrite", self.rewrite)
        if self.free + self.rewrite > 1:
            raise ValueError(f"free + rewrite must be <= 1, got {self.free} + {self.rewrite}")
        if self.rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {self.rounds}")


class Churn(Policy):
    name = "churn"
    Params = ChurnParams

    def events(self, ev, ps, resample):
        p: ChurnParams = self.params
        rng = np.random.default_rng(p.seed)
        _fill(ev, ps)
        live = np.arange(ps.n_pages)
        for r in range(p.rounds):
            ev.phase("churn" if p.rounds == 1 else f"churn-{r + 1}")
            order = rng.permutation(live)
            n_free = round(p.free * len(live))
            n_rewrite = round(p.rewrite * len(live))
            freed, rewritten = order[:n_free], order[n_free:n_free + n_rewrite]
            sizes, kinds = resample(n_rewrite, rng)
            ops = np.concatenate([np.full(n_free, OP_FREE), np.full(n_rewrite, OP_STORE)])
            mix = rng.permutation(len(ops))
            ev.add(ops[mix], np.concatenate([freed, rewritten])[mix],
                   np.concatenate([np.zeros(n_free, dtype=np.int32), sizes])[mix],
                   np.concatenate([np.zeros(n_free, dtype=np.uint8), kinds])[mix])
            live = np.sort(order[n_free:])


@dataclass(frozen=True)
class SwapParams(PolicyParams):
    """``ratio``: share of the pages that do not fit in RAM; ``rounds``; ``hot``: share
    of pages in the hot set; ``hot_access``: probability an access goes to the hot set;
    ``write``: probability an access writes the page; ``seed``."""

    ratio: float = 0.5
    rounds: int = 4
    hot: float = 0.2
    hot_access: float = 0.8
    write: float = 0.3
    seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("ratio", "hot", "hot_access", "write"):
            _fraction(name, getattr(self, name))
        if self.rounds < 0:
            raise ValueError(f"rounds must be >= 0, got {self.rounds}")


class Swap(Policy):
    name = "swap"
    Params = SwapParams

    def events(self, ev, ps, resample):
        p: SwapParams = self.params
        rng = np.random.default_rng(p.seed)
        n = ps.n_pages
        capacity = n - round(p.ratio * n)
        # Contents are ids into the concatenation of ps and each round's new draws; the
        # loop logs ``page`` for a swap-out (and the content id it stores) and ``~page``
        # for a swap-in, and the columns are built from the logs afterwards.
        sizes, kinds = [ps.sizes], [ps.kinds]
        cur = list(range(n))  # content id of each page
        next_id = n
        ev.phase("fill")  # touching 0..n-1 in order evicts 0..n-capacity-1, in order
        evicted = np.arange(n - capacity)
        ev.add(np.full(len(evicted), OP_STORE), evicted, ps.sizes[evicted], ps.kinds[evicted])
        resident: OrderedDict[int, None] = OrderedDict.fromkeys(range(n - capacity, n))
        hot_set = rng.permutation(n)[: max(1, round(p.hot * n))]
        for r in range(p.rounds):
            ev.phase(f"round-{r + 1}")
            in_hot = rng.random(n) < p.hot_access
            picks = np.where(in_hot, hot_set[rng.integers(0, len(hot_set), n)], rng.integers(0, n, n)).tolist()
            writes = rng.random(n) < p.write
            new_sizes, new_kinds = resample(int(writes.sum()), rng)
            sizes.append(np.asarray(new_sizes)), kinds.append(np.asarray(new_kinds))
            log: list[int] = []
            stored: list[int] = []
            log_append, stored_append = log.append, stored.append
            move, evict = resident.move_to_end, resident.popitem
            for page, w in zip(picks, writes.tolist()):
                if page in resident:
                    move(page)
                else:  # swap-in, then the LRU page is swapped out (RAM was full)
                    log_append(~page)
                    resident[page] = None
                    victim = evict(last=False)[0]
                    log_append(victim)
                    stored_append(cur[victim])
                if w:
                    cur[page] = next_id
                    next_id += 1
            self._add_round(ev, np.array(log, dtype=np.int64), np.array(stored, dtype=np.int64),
                            np.concatenate(sizes), np.concatenate(kinds))

    @staticmethod
    def _add_round(ev: Events, log: np.ndarray, stored: np.ndarray, sizes: np.ndarray, kinds: np.ndarray) -> None:
        store = log >= 0
        out_sizes = np.zeros(len(log), dtype=np.int32)
        out_kinds = np.zeros(len(log), dtype=np.uint8)
        out_sizes[store], out_kinds[store] = sizes[stored], kinds[stored]
        ev.add(np.where(store, OP_STORE, OP_FREE), np.where(store, log, ~log), out_sizes, out_kinds)


_POLICIES: list[type[Policy]] = [
    Fill,
    CompactEvery,
    Churn,
    Swap,
]

POLICIES: dict[str, type[Policy]] = {cls.name: cls for cls in _POLICIES}


def fill(ps: PageSizes) -> Trace:
    """One ``store`` per page, page ``i`` at index ``i`` (the ``fill`` policy)."""
    return Fill().apply(ps)
