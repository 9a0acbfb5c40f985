"""The ``none`` frontend: every store is a plain ``malloc(size)``; no kernel policy."""

from __future__ import annotations

from allocators.frontends.base import Frontend, PageKind, Slot


class NoFrontend(Frontend):
    """Sizes go to the allocator as given.  An overwrite frees the old object first; a
    store of size 0 (a zero/same-filled page without a size) stores nothing but still
    replaces the page's old contents."""

    name = "none"
    models = "no kernel: raw allocator behaviour"

    def store(self, page: int, size: int, kind: PageKind) -> None:
        self.pages_in += 1
        self._release(page)
        if size <= 0:
            return
        handle = self._try_malloc(size)
        if handle is not None:
            self._hold(page, Slot.NORMAL, handle, size)
