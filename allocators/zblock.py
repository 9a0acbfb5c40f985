"""zblock: blocks of 2^order pages cut into equal slots, one block list per block type
(the 2025 ``mm/zblock.c`` proposal by Vitaly Wool; never in a mainline release).

Reference: ../shared/reference/zblock.md (normative).  The block-type table differs between
patch revisions, so ``variant`` selects one (PAGE_SIZE 4096 only; the revisions' tables
for other page sizes are not documented):

* ``A`` — vwool/linux-mm @ 1a377e8f / zblock.h @ 1d26f45b: header 32 B, 29 types;
* ``B`` — sjp38/linux zblock.h @ 4f873f1a: header 40 B (SLOT_BITS 7), 31 types;
* ``C`` — Kuroringo97 android tree @ e9897225: B's table with a 48-byte header (type 20
  becomes 1808 B).

``SLOT_SIZE(n, order) = round_down(((PAGE_SIZE << order) - header) / n, 8)``; slot ``i`` lives at
``header + i * slot_size``.

Rules:

* ``size == 0`` → ``-EINVAL``; ``size > PAGE_SIZE`` → ``-ENOSPC``; the type is the first
  whose slot size is STRICTLY greater than ``size``; none (B/C: 4080..4095) → ``-ENOSPC``;
  B/C with ``size == PAGE_SIZE`` match no rbtree node → WARN, ``-EINVAL`` (``InvalidSize``).
* allocation takes the HEAD of the type's ``active_list``, claims its lowest free slot and
  moves the block to ``full_list`` when it has no free slot left; an empty
  ``active_list`` gets a new block (slot 0) at its HEAD (``block_count += 1``);
* free clears the slot; a block left empty is freed at once; a block going from full to
  one free slot moves to the TAIL of ``active_list``.
* pool size = ``sum(block_count << order)`` pages.

Handles are ``block_id * 64 + slot`` (no table has more than 63 slots per block).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from allocators.base import (
    Allocator,
    AllocatorParams,
    ClassStats,
    Handle,
    InvalidHandle,
    InvalidSize,
    InvariantViolation,
    ObjectTooLarge,
)
from allocators.pagelists import NodeLists

_B_TABLE = (
    (63, 0), (32, 0), (21, 0), (15, 0), (12, 0), (10, 0), (9, 0), (8, 0),
    (29, 2), (13, 1), (6, 0), (11, 1), (5, 0), (9, 1), (8, 1), (29, 3),
    (13, 2), (12, 2), (11, 2), (10, 2), (9, 2), (17, 3), (8, 2), (15, 3),
    (14, 3), (13, 3), (6, 2), (11, 3), (10, 3), (9, 3), (4, 2),
)
VARIANTS: dict[str, tuple[int, tuple[tuple[int, int], ...]]] = {
    # variant: (header bytes on x86_64, ((slots per block, order), ...) in table order)
    "A": (32, (
        (32, 0), (22, 0), (17, 0), (13, 0), (11, 0), (9, 0), (8, 0),
        (14, 1), (12, 1), (11, 1), (10, 1), (9, 1), (8, 1),
        (15, 2), (14, 2), (13, 2), (12, 2), (11, 2), (10, 2), (9, 2), (8, 2),
        (15, 3), (14, 3), (13, 3), (12, 3), (11, 3), (10, 3), (9, 3), (7, 3),
    )),
    "B": (40, _B_TABLE),
    "C": (48, _B_TABLE),
}
_SLOT_BITS = 6  # handle = block << 6 | slot


@dataclass(frozen=True)
class ZblockParams(AllocatorParams):
    """``variant``: the patch revision's block-type table, ``A``, ``B`` or ``C`` (see the
    module docstring).  The reference asks to choose explicitly; the default ``A`` is the
    author's own tree (vwool/linux-mm)."""

    variant: str = "A"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {', '.join(VARIANTS)}, got {self.variant!r}")
        if self.page_size != 4096:
            raise ValueError("zblock tables are defined for page_size 4096 only")


class Zblock(Allocator):
    """The 2025 zblock proposal; rules in the module docstring.

    ``class_stats()``: one row per block type with blocks (the debugfs ``zblock/blocks``
    line "N blocks of P pages"): ``class`` = type, ``size`` = slot size,
    ``pages_per_unit`` = pages per block, ``objs_per_unit`` = slots per block, ``extra``:
    ``blocks``, ``active`` and ``full`` block counts.
    """

    name = "zblock"
    Params = ZblockParams
    capabilities = frozenset({"classes"})
    models = "2025 zblock patch series (mm/zblock.c; tables of revisions A/B/C)"

    def __init__(self, params: ZblockParams | None = None) -> None:
        super().__init__(params)
        p: ZblockParams = self.params
        self.header_bytes, table = VARIANTS[p.variant]
        self.slots_per_block = [n for n, _ in table]
        self.order = [o for _, o in table]
        self.slot_sizes = [((self.page_size << o) - self.header_bytes) // n // 8 * 8 for n, o in table]
        self.n_types = nt = len(table)
        # lists: active_list of type t = t, full_list of type t = nt + t
        L = self._lists = NodeLists(2 * nt)
        self.block_count = [0] * nt
        self._n_used = [0] * nt
        self.pages = 0
        # per block id: type, free slots, used-slot bitmap
        self._type: list[int] = [-1] * L.n_lists
        self._free_slots: list[int] = [0] * L.n_lists
        self._bitmap: list[int] = [0] * L.n_lists
        # per handle (block << 6 | slot): object size, 0 = empty
        self._size: list[int] = [0] * (L.n_lists << _SLOT_BITS)

    @property
    def max_alloc_bytes(self) -> int:
        """``PAGE_SIZE`` (larger is ``-ENOSPC``); B/C also refuse 4080..4096 (``_malloc``)."""
        return self.page_size

    def block_type(self, size: int) -> int:
        """Type index for ``size`` (first slot size strictly greater); ``n_types`` if none."""
        return bisect_right(self.slot_sizes, size)

    def _malloc(self, size: int) -> Handle:
        t = bisect_right(self.slot_sizes, size)
        if t == self.n_types:
            if size == self.page_size:
                raise InvalidSize(f"zblock: size {size} matches no block type (-EINVAL)")
            raise ObjectTooLarge(f"zblock: size {size} >= largest slot {self.slot_sizes[-1]}")
        L = self._lists
        blk = L.next[t]
        if blk == t:  # active_list empty: a new block at its head
            blk = L.new_node()
            if blk == len(self._type):
                self._type.append(t)
                self._free_slots.append(0)
                self._bitmap.append(0)
                self._size += [0] * (1 << _SLOT_BITS)
            else:
                self._type[blk] = t
            self._free_slots[blk] = self.slots_per_block[t]
            self._bitmap[blk] = 0
            L.add_head(t, blk)
            self.block_count[t] += 1
            self.pages += 1 << self.order[t]
        free = self._free_slots[blk] - 1
        self._free_slots[blk] = free
        if not free:
            L.remove(blk)
            L.add_head(self.n_types + t, blk)
        used = self._bitmap[blk]
        slot = (~used & (used + 1)).bit_length() - 1
        self._bitmap[blk] = used | (1 << slot)
        h = (blk << _SLOT_BITS) | slot
        self._size[h] = size
        self._n_used[t] += 1
        return h

    def _free(self, handle: Handle) -> int:
        sizes = self._size
        if type(handle) is not int or not 0 <= handle < len(sizes) or not sizes[handle]:
            raise InvalidHandle(f"zblock: unknown handle {handle!r}")
        size = sizes[handle]
        sizes[handle] = 0
        blk = handle >> _SLOT_BITS
        t = self._type[blk]
        self._n_used[t] -= 1
        free = self._free_slots[blk] + 1
        self._free_slots[blk] = free
        self._bitmap[blk] &= ~(1 << (handle & ((1 << _SLOT_BITS) - 1)))
        L = self._lists
        if free == self.slots_per_block[t]:
            L.remove(blk)
            L.release_node(blk)
            self._type[blk] = -1
            self.block_count[t] -= 1
            self.pages -= 1 << self.order[t]
        elif free == 1:
            L.remove(blk)
            L.add_tail(t, blk)
        return size

    def _pool_pages(self) -> int:
        return self.pages

    def locate(self, handle: Handle) -> tuple[tuple[int, ...], int, int]:
        """Pages are numbered ``block_id * 8 + i`` (at most 8 pages per block)."""
        if type(handle) is not int or not 0 <= handle < len(self._size) or not self._size[handle]:
            raise InvalidHandle(f"zblock: unknown handle {handle!r}")
        blk, slot = handle >> _SLOT_BITS, handle & ((1 << _SLOT_BITS) - 1)
        t = self._type[blk]
        offset = self.header_bytes + slot * self.slot_sizes[t]
        first = offset // self.page_size
        last = (offset + self._size[handle] - 1) // self.page_size
        pages = tuple(blk * 8 + i for i in range(first, last + 1))
        return pages, offset % self.page_size, self._size[handle]

    def waste_breakdown(self) -> dict[str, int]:
        """``metadata_bytes``: block headers; ``internal_frag_bytes``: slot tails of live
        objects plus each block's tail after its last slot (``(page_size << order) -
        header - n * slot_size``, fixed by the block type's geometry, as zsmalloc's zspage
        tail); ``external_frag_bytes``: free slots."""
        nt = self.n_types
        slot, n_slots, used, blocks = self.slot_sizes, self.slots_per_block, self._n_used, self.block_count
        slots_used = sum(used[t] * slot[t] for t in range(nt))
        free_slots = sum((blocks[t] * n_slots[t] - used[t]) * slot[t] for t in range(nt))
        tails = sum(blocks[t] * ((self.page_size << self.order[t]) - self.header_bytes - n_slots[t] * slot[t])
                    for t in range(nt))
        return {
            "payload_bytes": self.stored_bytes,
            "header_bytes": 0,
            "internal_frag_bytes": slots_used - self.stored_bytes + tails,
            "external_frag_bytes": free_slots,
            "metadata_bytes": sum(blocks) * self.header_bytes,
        }

    def class_stats(self) -> list[ClassStats]:
        rows = []
        nt = self.n_types
        for t in range(nt):
            blocks = self.block_count[t]
            if blocks:
                n, pages = self.slots_per_block[t], 1 << self.order[t]
                rows.append(ClassStats(
                    t, self.slot_sizes[t], blocks * n, self._n_used[t], blocks * pages, pages, n,
                    {"blocks": blocks, "active": self._lists.count[t], "full": self._lists.count[nt + t]},
                ))
        return rows

    def _check_invariants(self) -> None:
        problems = self._lists.check()
        L, nt = self._lists, self.n_types
        blocks = [0] * nt
        used = [0] * nt
        n_obj = nbytes = pages = 0
        for blk in range(L.n_lists, len(self._type)):
            t = self._type[blk]
            if t < 0:
                continue
            n = self.slots_per_block[t]
            blocks[t] += 1
            pages += 1 << self.order[t]
            bitmap = self._bitmap[blk]
            base = blk << _SLOT_BITS
            occupied = [s for s in range(1 << _SLOT_BITS) if self._size[base + s]]
            if sum(1 << s for s in occupied) != bitmap or bitmap.bit_count() != n - self._free_slots[blk]:
                problems.append(f"block {blk}: bitmap {bitmap:#x}, sizes at {occupied}, free {self._free_slots[blk]}")
            if occupied and occupied[-1] >= n:
                problems.append(f"block {blk}: slot {occupied[-1]} beyond {n}")
            if not occupied:
                problems.append(f"block {blk}: empty block kept")
            for s in occupied:
                size = self._size[base + s]
                if not (t == 0 or self.slot_sizes[t - 1] <= size) or size >= self.slot_sizes[t]:
                    problems.append(f"block {blk}: size {size} in type {t}")
                nbytes += size
            used[t] += len(occupied)
            n_obj += len(occupied)
            want = nt + t if self._free_slots[blk] == 0 else t
            if L.owner[blk] != want:
                problems.append(f"block {blk}: on list {L.owner[blk]}, expected {want}")
        if blocks != self.block_count or used != self._n_used or pages != self.pages:
            problems.append("block counts / used slots / pages disagree with the blocks")
        if n_obj != self.n_objects or nbytes != self.stored_bytes:
            problems.append("object/byte totals disagree with the slots")
        if problems:
            raise InvariantViolation("zblock: " + "; ".join(problems[:5]))
