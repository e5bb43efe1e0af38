"""Slow data built once on a worker thread, asked for without blocking (the UI thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
log = logging.getLogger("kiosk.ime")


class Warm(Generic[T]):
    """``build`` run once on a daemon thread from the first :meth:`start` (or :meth:`get`);
    :meth:`get` never blocks: None until ready. A failed build is logged once, :attr:`error`
    says why, and ``get`` keeps answering None (the keyboard then offers letters only)."""

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name = name
        self._build = build
        self._value: T | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.error: str | None = None
        self.seconds: float | None = None

    def start(self) -> Warm[T]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"warm-{self.name}",
                                                daemon=True)
                self._thread.start()
        return self

    def _run(self) -> None:
        import time

        t0 = time.perf_counter()
        try:
            self._value = self._build()
        except Exception as exc:  # any failure leaves the feature off
            self.error = f"{type(exc).__name__}: {exc}"
            log.error("%s could not be built: %s", self.name, self.error)
        finally:
            self.seconds = time.perf_counter() - t0
            self._ready.set()
        if self.error is None:
            log.info("%s ready in %.1f s", self.name, self.seconds)

    def get(self) -> T | None:
        """The value if built, else None (and the build is started)."""
        if not self._ready.is_set():
            self.start()
            return None
        return self._value

    @property
    def failed(self) -> bool:
        return self._ready.is_set() and self._value is None

    def wait(self, timeout: float | None = None) -> T | None:
        """Block until built (tests, benchmarks and workers only, never the UI thread)."""
        self.start()
        self._ready.wait(timeout)
        return self._value
