"""Fixtures: a pty scanner simulator and a driver reading it, with an event collector."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hardware.qr.scanner import SerialQrScanner


class Collector:
    """Collects emitted events; tests wait on it with a deadline instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, pred: Callable[[list[Any]], bool], timeout: float = 5.0) -> list[Any]:
        with self._cond:
            assert self._cond.wait_for(lambda: pred(self.events), timeout), self.events
            return list(self.events)

    def wait_count(self, n: int, timeout: float = 5.0) -> list[Any]:
        return self.wait_for(lambda evs: len(evs) >= n, timeout)


@pytest.fixture
def collector() -> Collector:
    return Collector()


@pytest.fixture
def make_scanner(collector: Collector) -> Iterator[Callable[..., SerialQrScanner]]:
    made: list[SerialQrScanner] = []

    def make(url: str = "sim://qr", **kw: Any) -> SerialQrScanner:
        kw.setdefault("dedup_window_s", 0.0)
        scanner = SerialQrScanner(url, **kw)
        made.append(scanner)
        scanner.start(collector)
        assert scanner.wait_connected(5)
        return scanner

    yield make
    for s in made:
        s.close()
