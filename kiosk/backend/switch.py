"""A backend wrapper that can be cut and restored, for the simulation dock and fault tests."""

from __future__ import annotations

import threading
from typing import Any

from kiosk.backend.contract import BackendAdapter, Unavailable


class SwitchableBackend:
    """Delegates every call to ``inner`` unless cut, when calls raise :class:`Unavailable`
    as a real outage would (connection refused). Every call, ``end_session`` included: an
    outage does not spare the end of a session, so neither does the simulated one; only
    ``close`` (local) goes through."""

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
        if not callable(attr) or name == "close":
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self._cut.is_set():
                raise Unavailable(f"backend cut ({name})")
            return attr(*args, **kwargs)

        return call
