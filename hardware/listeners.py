"""A thread-safe list of callbacks, shared by the device model and the core's observers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

L = TypeVar("L")


class Listeners(Generic[L]):
    """Callbacks added with :meth:`subscribe` (which returns their unsubscribe) and read
    with :meth:`snapshot`, so callers call them outside any lock of their own."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[L] = []

    def subscribe(self, listener: L) -> Callable[[], None]:
        with self._lock:
            self._items.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._items:
                    self._items.remove(listener)

        return unsubscribe

    def snapshot(self) -> list[L]:
        with self._lock:
            return list(self._items)
