"""A Hypothesis state machine shared by the allocator tests.

``AllocatorMachine`` frees a random live handle and, after every step, checks the model's
own ``check_invariants()`` (each allocator recounts its redundant state there), that the
live handles are distinct and as many as the allocator's ``n_objects``, and that the waste
breakdown adds up to the pool's bytes with no negative part.  A subclass builds
``self.alloc`` with ``make_allocator()`` and adds its own ``malloc`` rules and invariants.
"""

from __future__ import annotations

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from allocators.base import Allocator


class AllocatorMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.alloc: Allocator = self.make_allocator()
        self.live: list[int] = []

    def make_allocator(self) -> Allocator:
        raise NotImplementedError

    @precondition(lambda self: self.live)
    @rule(data=st.data())
    def free(self, data):
        self.alloc.free(self.live.pop(data.draw(st.integers(0, len(self.live) - 1))))

    @invariant()
    def consistent(self):
        a = self.alloc
        a.check_invariants()
        assert len(set(self.live)) == len(self.live) == a.n_objects
        w = a.waste_breakdown()
        assert sum(w.values()) == a.pool_pages() * a.page_size and min(w.values()) >= 0


def random_ops(alloc: Allocator, draw_size, seed: int, steps: int = 3000) -> None:
    """A seeded random malloc/free walk (45 % frees) with ``check_invariants()`` every
    100 steps; at the end the waste breakdown must add up to the pool's bytes, and
    freeing everything must leave an empty pool.  ``draw_size(rng)`` gives each size."""
    import random

    rng = random.Random(seed)
    live: list[int] = []
    for step in range(steps):
        if live and rng.random() < 0.45:
            alloc.free(live.pop(rng.randrange(len(live))))
        else:
            live.append(alloc.malloc(draw_size(rng)))
        if step % 100 == 0:
            alloc.check_invariants()
    alloc.check_invariants()
    assert sum(alloc.waste_breakdown().values()) == alloc.pool_pages() * alloc.page_size
    for h in live:
        alloc.free(h)
    assert alloc.pool_pages() == 0
