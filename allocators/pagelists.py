"""Kernel-style intrusive doubly linked lists over integer node ids (``struct list_head``).

zbud, z3fold and zblock keep their pages/blocks on many small lists (unbuddied[i],
active/full lists) and need O(1) insert at HEAD or TAIL, O(1) unlink of an arbitrary node
and O(1) "first non-empty list at or above / at or below i".  Python lists and dicts give
none of these in O(1) for all cases, so this helper stores ``prev``/``next`` as plain int
lists, like ``list_head`` pointers:

* node ids ``0 .. n_lists-1`` are the list heads (sentinels); page/block ids start at
  ``n_lists`` and are recycled after ``release_node``;
* ``owner[node]`` is the list a node is on (-1: on no list), ``count[lst]`` its length;
* ``nonempty`` is a bitmask with bit ``lst`` set while list ``lst`` has a node, so a best-fit
  search is one or two integer operations instead of a loop over the lists.

Callers keep their own per-node arrays indexed by the same ids (grown when ``new_node``
returns ``len(array)``) and read the head of list ``lst`` as ``next[lst]`` (the list is
empty when that is ``lst`` itself).
"""

from __future__ import annotations

from collections.abc import Iterator


class NodeLists:
    __slots__ = ("_free_ids", "count", "n_lists", "next", "nonempty", "owner", "prev")

    def __init__(self, n_lists: int) -> None:
        self.n_lists = n_lists
        self.prev: list[int] = list(range(n_lists))
        self.next: list[int] = list(range(n_lists))
        self.owner: list[int] = [-1] * n_lists
        self.count: list[int] = [0] * n_lists
        self.nonempty = 0
        self._free_ids: list[int] = []

    # --------------------------------------------------------------- node ids
    def new_node(self) -> int:
        """A fresh node id on no list (recycled ids first, most recently released first)."""
        if self._free_ids:
            return self._free_ids.pop()
        node = len(self.prev)
        self.prev.append(node)
        self.next.append(node)
        self.owner.append(-1)
        return node

    def release_node(self, node: int) -> None:
        """Give ``node`` back; it must be on no list."""
        self._free_ids.append(node)

    def n_nodes(self) -> int:
        """Node ids handed out and not released."""
        return len(self.prev) - self.n_lists - len(self._free_ids)

    # --------------------------------------------------------------- list ops
    def add_head(self, lst: int, node: int) -> None:
        """``list_add``: insert right after the head."""
        nxt = self.next
        prv = self.prev
        after = nxt[lst]
        nxt[lst] = node
        prv[node] = lst
        nxt[node] = after
        prv[after] = node
        self.owner[node] = lst
        count = self.count
        c = count[lst] = count[lst] + 1
        if c == 1:
            self.nonempty |= 1 << lst

    def add_tail(self, lst: int, node: int) -> None:
        """``list_add_tail``: insert right before the head (at the end)."""
        nxt = self.next
        prv = self.prev
        before = prv[lst]
        prv[lst] = node
        nxt[node] = lst
        prv[node] = before
        nxt[before] = node
        self.owner[node] = lst
        count = self.count
        c = count[lst] = count[lst] + 1
        if c == 1:
            self.nonempty |= 1 << lst

    def remove(self, node: int) -> int:
        """``list_del_init``: unlink ``node`` if listed; return the list it was on (or -1).
        (The node's own links are left stale; ``owner`` says it is on no list.)"""
        owner = self.owner
        lst = owner[node]
        if lst < 0:
            return -1
        prv = self.prev
        nxt = self.next
        p = prv[node]
        n = nxt[node]
        nxt[p] = n
        prv[n] = p
        owner[node] = -1
        count = self.count
        c = count[lst] = count[lst] - 1
        if not c:
            self.nonempty &= ~(1 << lst)
        return lst

    def lowest_nonempty_from(self, lo: int, hi: int) -> int:
        """Smallest list index in ``[lo, hi)`` that has a node, or -1."""
        m = (self.nonempty >> lo) & ((1 << (hi - lo)) - 1) if hi > lo else 0
        if not m:
            return -1
        return lo + (m & -m).bit_length() - 1

    def highest_nonempty_in(self, lo: int, hi: int) -> int:
        """Largest list index in ``[lo, hi]`` that has a node, or -1."""
        if hi < lo:
            return -1
        m = self.nonempty & ((2 << hi) - 1) & ~((1 << lo) - 1)
        return m.bit_length() - 1 if m else -1

    def iter_list(self, lst: int) -> Iterator[int]:
        """Nodes of ``lst`` from head to tail (for invariants and statistics only)."""
        node = self.next[lst]
        while node != lst:
            yield node
            node = self.next[node]

    def check(self) -> list[str]:
        """Cross-check links, owners, counts and the non-empty mask; return the problems."""
        problems: list[str] = []
        seen: set[int] = set()
        for lst in range(self.n_lists):
            n = 0
            prev = lst
            node = self.next[lst]
            while node != lst:
                if node < self.n_lists or node in seen:
                    problems.append(f"list {lst}: bad or repeated node {node}")
                    break
                seen.add(node)
                if self.prev[node] != prev:
                    problems.append(f"list {lst}: node {node} prev link broken")
                if self.owner[node] != lst:
                    problems.append(f"list {lst}: node {node} owner {self.owner[node]}")
                prev = node
                node = self.next[node]
                n += 1
            if self.prev[lst] != prev:
                problems.append(f"list {lst}: tail link broken")
            if n != self.count[lst]:
                problems.append(f"list {lst}: count {self.count[lst]} but {n} nodes")
            if bool(n) != bool(self.nonempty >> lst & 1):
                problems.append(f"list {lst}: non-empty bit wrong")
        for node in range(self.n_lists, len(self.owner)):
            if self.owner[node] >= 0 and node not in seen:
                problems.append(f"node {node} claims list {self.owner[node]} but is not on it")
        return problems
