"""A real backend whose chosen calls wait at a gate until the test opens it: a platform that
accepted the request and has not answered yet (a network that drops packets)."""

from __future__ import annotations

import threading
from typing import Any

HOLD_S = 60.0  # a gate never opened lets the call through after this, so no thread hangs


class Gate:
    """Holds calls of one backend method: ``entered`` when one arrives, ``open()`` lets it
    (and every later one) through; ``done`` lists the first argument of finished calls.
    With ``answer_first`` the platform does the work at once and the answer is what waits
    (a reply still on the wire)."""

    def __init__(self, answer_first: bool = False) -> None:
        self.answer_first = answer_first
        self.entered = threading.Event()
        self._open = threading.Event()
        self._cond = threading.Condition()
        self.done: list[Any] = []

    def open(self) -> None:
        self._open.set()

    def passed(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` calls have finished."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.done) >= count, timeout)

    def hold(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self.answer_first:
                answer = fn(*args, **kwargs)
                self.entered.set()
                self._open.wait(HOLD_S)
                return answer
            self.entered.set()
            self._open.wait(HOLD_S)
            return fn(*args, **kwargs)
        finally:
            with self._cond:
                self.done.append(args[0] if args else None)
                self._cond.notify_all()


class GatedBackend:
    """Delegates to ``inner`` (the embedded reference platform); calls named in ``calls``
    wait at their :class:`Gate` before reaching the platform, those in ``answers`` after."""

    def __init__(self, inner: Any, calls: tuple[str, ...] = (),
                 answers: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.gates = {name: Gate() for name in calls}
        self.gates.update({name: Gate(answer_first=True) for name in answers})

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        gate = self.gates.get(name)
        if gate is None:
            return attr
        return lambda *args, **kwargs: gate.hold(attr, *args, **kwargs)
