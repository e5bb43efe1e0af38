"""A real simulated kiosk (the one composition root: pty card reader and scanner, the camera
simulator, a private cupsd with the printer emulator, the embedded platform behind the
switchable link) with its diagnostics attached, for the gate and maintenance tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.signing

from kiosk.diag.access import hash_pin, issue_token
from kiosk.identity.codes import verify_key_to_text

KIOSK_ID = "kiosk-maint-01"
PIN = "246810"
ISSUER = nacl.signing.SigningKey(b"\x07" * 32)
PIN_HASH = hash_pin(PIN)


class MovableClock:
    """A real clock that a test may move forward (token lifetimes, the mode's timeout,
    how long the backend has been unreachable)."""

    def __init__(self, base: Callable[[], float]) -> None:
        self.base = base
        self.offset = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.base() + self.offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.offset += seconds


def kiosk_environ(var_dir: Path, **extra: str) -> dict[str, str]:
    trust = var_dir.parent / "technician.pub"
    trust.parent.mkdir(parents=True, exist_ok=True)
    trust.write_text(verify_key_to_text(ISSUER.verify_key) + "\n", encoding="ascii")
    env = {"KIOSK__VAR_DIR": str(var_dir), "KIOSK__KIOSK__ID": KIOSK_ID,
           "KIOSK__SERVICE__TECHNICIAN__TRUST_KEY_FILE": str(trust),
           "KIOSK__SERVICE__TECHNICIAN__PIN_HASH": PIN_HASH,
           "KIOSK__SERVICE__TECHNICIAN__MAX_FAILURES": "3",
           "KIOSK__SERVICE__BACKEND_UNREACHABLE_LIMIT_S": "60",
           "KIOSK__PRINTER__JOB_TIMEOUT_S": "4"}
    env.update(extra)
    return env


def token(clock: Callable[[], float], *, kiosk: str = KIOSK_ID, ttl: int = 8 * 3600,
          key: nacl.signing.SigningKey = ISSUER, issued_at: float | None = None) -> str:
    return issue_token(key, kiosk, ttl, clock() if issued_at is None else issued_at)


@dataclass
class Rig:
    core: Any
    diag: Any
    wall: MovableClock
    mono: MovableClock
    var_dir: Path

    @property
    def sim(self) -> Any:
        return self.core.simulation

    @property
    def gate(self) -> Any:
        return self.diag.gate

    @property
    def maint(self) -> Any:
        return self.diag.maintenance


def wait_for(predicate: Callable[[], bool], timeout: float, what: str,
             wake: threading.Event | None = None) -> None:
    """Poll ``predicate`` until it holds (a deadline, never a fixed sleep)."""
    wake = wake or threading.Event()
    end = time.monotonic() + timeout
    while not predicate():
        left = end - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}")
        wake.wait(min(0.05, left))
        wake.clear()


def rig(var_dir: Path, **extra: str) -> Iterator[Rig]:
    from kiosk import compose
    from kiosk.config import load_config
    from kiosk.diag.attach import attach

    cfg = load_config(profile="simulation", environ=kiosk_environ(var_dir, **extra))
    wall, mono = MovableClock(time.time), MovableClock(time.monotonic)
    # the composition root attaches the diagnostics, here on clocks the tests move
    core = compose.build(cfg, diagnostics=lambda c: attach(
        c, clock=wall, monotonic=mono, poll_s=0.2, backend_every_s=0.5, prompt_timeout_s=60.0))
    try:
        yield Rig(core, core.diagnostics, wall, mono, var_dir)
    finally:
        core.stop()
