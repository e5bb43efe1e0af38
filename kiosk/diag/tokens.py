"""Reading a technician token shown to the kiosk: the QR scanner and the camera, at once.

While the technician prompt is open, :class:`TokenReader` waits on the scanner
(``next_sighting`` with a short deadline, again and again, from the read number it last saw:
the scanner's own reader thread keeps running for the journey; every read counts, repeats the
scanner's dedup window keeps from the journey too, so a token shown at the last prompt a
moment ago is read at this one) and decodes the camera's preview frames
(:class:`hardware.qr.camera_decode.CameraQrWatcher`); the first text that looks like a
technician token (``KTECH1.``) goes to ``on_token`` with where it came from. Nothing else that
is scanned is kept or passed on. Both stop on :meth:`TokenReader.close`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from hardware.base import Deadline, DeviceError
from kiosk.diag.access import MAX_TOKEN_CHARS, PREFIX

log = logging.getLogger("kiosk.diag.tokens")

TokenSink = Callable[[str, str], None]  # (token text, "scanner" | "camera")


def looks_like_token(text: str) -> bool:
    return text.startswith(PREFIX + ".") and len(text) <= MAX_TOKEN_CHARS


class TokenReader:
    """Scanner and camera watched for a technician token until :meth:`close`."""

    def __init__(self, on_token: TokenSink, *, scanner: Any = None, camera: Any = None,
                 poll_s: float = 0.5) -> None:
        self.on_token = on_token
        self.scanner = scanner
        self.camera = camera
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watcher: Any = None
        self._seen = 0  # the scanner's read number already looked at

    def start(self) -> TokenReader:
        """Watch from now: the scanner's count is taken here, before the prompt shows, so a
        token scanned before the thread's first wait is still read."""
        if self.scanner is not None:
            self._seen = self.scanner.sightings
            self._thread = threading.Thread(target=self._scan_loop, name="token-scanner",
                                            daemon=True)
            self._thread.start()
        if self.camera is not None:
            try:
                from hardware.qr.camera_decode import CameraQrWatcher, preview_frames
            except ImportError as exc:  # decoding libraries missing: the scanner still reads
                log.warning("camera token reading unavailable: %s", exc)
            else:
                self._watcher = CameraQrWatcher(
                    preview_frames(self.camera, lambda: not self._stop.is_set()),
                    dedup_window_s=2.0, interval_s=0.1)
                self._watcher.start(self._on_camera_event)
        return self

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.close()
            self._watcher = None
        if self._thread is not None:
            self._thread.join(timeout=3)
            self._thread = None

    def _deliver(self, text: str, source: str) -> None:
        if self._stop.is_set() or not looks_like_token(text):
            return
        try:
            self.on_token(text, source)
        except Exception:  # the reader must keep reading whatever its listener does
            log.exception("token listener failed")

    def _scan_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._seen, text = self.scanner.next_sighting(
                    Deadline(self.poll_s, self._stop), self._seen)
            except DeviceError as exc:
                if exc.code.value not in ("timeout", "canceled"):
                    self._stop.wait(self.poll_s)  # not connected: try again shortly
                continue
            except Exception:
                log.exception("scanner read failed")
                self._stop.wait(self.poll_s)
                continue
            self._deliver(text, "scanner")

    def _on_camera_event(self, event: Any) -> None:
        data = getattr(event, "data", None)
        if isinstance(data, str):
            self._deliver(data, "camera")
