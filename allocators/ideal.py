"""The ideal packer: the lower bound every real allocator is compared with.

Live payload bytes packed end to end with no per-object or per-page overhead:
``pool_pages = ceil(stored_bytes / page_size)``.
"""

from __future__ import annotations

from allocators.base import Allocator, AllocatorParams, Handle, InvalidHandle, InvariantViolation


class Ideal(Allocator):
    name = "ideal"
    Params = AllocatorParams
    capabilities = frozenset()
    models = "no kernel: the information-theoretic packing bound ceil(bytes / page_size)"

    def __init__(self, params: AllocatorParams | None = None) -> None:
        super().__init__(params)
        self._sizes: dict[Handle, int] = {}

    def _malloc(self, size: int) -> Handle:
        handle = self._new_handle()
        self._sizes[handle] = size
        return handle

    def _free(self, handle: Handle) -> int:
        try:
            return self._sizes.pop(handle)
        except KeyError:
            raise InvalidHandle(f"ideal: unknown handle {handle!r}") from None

    def _pool_pages(self) -> int:
        return -(-self.stored_bytes // self.page_size)

    def free_bytes_by_kind(self) -> dict[str, int]:
        return {"tail": self._pool_pages() * self.page_size - self.stored_bytes}

    def _check_invariants(self) -> None:
        if len(self._sizes) != self.n_objects or sum(self._sizes.values()) != self.stored_bytes:
            raise InvariantViolation("ideal: handle table disagrees with counters")
