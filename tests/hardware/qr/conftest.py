"""Fixtures: a pty scanner simulator and a driver reading it, with an event collector."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hardware.base import StatusChange
from hardware.context import DeviceContext
from hardware.qr.config import QrConfig
from hardware.qr.factory import create
from hardware.qr.scanner import SerialQrScanner


class Collector:
    """Collects emitted events (status changes apart, in ``changes``); tests wait on it with
    a deadline instead of sleeping."""

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.changes: list[StatusChange] = []
        self._cond = threading.Condition()

    def __call__(self, event: Any) -> None:
        if isinstance(event, StatusChange):
            self.changes.append(event)
            return
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
def device_context() -> Iterator[DeviceContext]:
    ctx = DeviceContext()
    yield ctx
    ctx.sims.close()


@pytest.fixture
def make_scanner(collector: Collector, device_context: DeviceContext
                 ) -> Iterator[Callable[..., SerialQrScanner]]:
    """A scanner built by the factory from a ``sim://qr`` URL (its simulator owned by it)."""
    made: list[SerialQrScanner] = []

    def make(url: str = "sim://qr", **kw: Any) -> SerialQrScanner:
        kw.setdefault("dedup_window_s", 0.0)
        scanner = create(QrConfig(port=url, **kw), device_context)
        made.append(scanner)
        scanner.start(collector)
        assert scanner.wait_connected(5)
        return scanner

    yield make
    for s in made:
        s.close()
