"""A backend wrapper that can be cut and restored, for the simulation dock and fault tests."""

from __future__ import annotations

import threading
from typing import Any

from kiosk.backend.contract import BackendAdapter, Unavailable


class SwitchableBackend:
    """Delegates every call to ``inner`` unless cut, when calls raise :class:`Unavailable`
    as a real outage would (connection refused)."""

    def __init__(self, inner: BackendAdapter) -> None:
        self.inner = inner
        self._cut = threading.Event()

    @property
    def is_cut(self) -> bool:
        return self._cut.is_set()

    def cut(self) -> None:
        self._cut.set()

    def restore(self) -> None:
        self._cut.clear()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if not callable(attr) or name in ("close", "end_session"):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._cut.is_set():
                raise Unavailable(f"backend cut ({name})")
            return attr(*args, **kwargs)

        return call
