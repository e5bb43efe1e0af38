"""The technician's device actions, on the running kiosk's own devices (through the role
contract of :mod:`hardware.roles`): a health check at a level, a test page, a test card, a
code scanned, a camera preview with the face box.

Each returns a :class:`TestOutcome` (kept as the device's last test in the counter store) that
names no person: a card read gives its type only, a scanned code its kind and length, a
preview frame lives in memory until the next one replaces it. They block (device I/O): call
them from a worker, as :class:`kiosk.diag.maintenance.Maintenance` does.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hardware.base import Deadline, DeviceError, HealthLevel
from kiosk.diag.counters import CounterStore
from kiosk.diag.redact import redact, redact_text

log = logging.getLogger("kiosk.diag.actions")

PREVIEW_WIDTH = 480


@dataclass(frozen=True)
class TestOutcome:
    """One test of one device: ``key`` is a message key for the screen (``params`` hold no
    personal data), ``text`` the driver's own words (redacted)."""

    device: str
    test: str
    ok: bool
    key: str
    text: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    at: float = 0.0
    details: Mapping[str, Any] = field(default_factory=dict)


def _keep(counters: CounterStore | None, outcome: TestOutcome) -> TestOutcome:
    if counters is not None:
        try:
            counters.record_test(outcome.device, outcome.test, outcome.ok,
                                 outcome.text or outcome.key)
            if outcome.test == "print_test_page":
                counters.record_test_print(outcome.device, outcome.ok,
                                           outcome.text or outcome.key)
        except Exception:  # a counter store that fails must not hide the result
            log.exception("test result not kept")
    return outcome


def _missing(device: str, test: str) -> TestOutcome:
    return TestOutcome(device, test, False, "mt_device_missing", at=time.time())


def check(device: Any, name: str, level: HealthLevel | str,
          counters: CounterStore | None) -> TestOutcome:
    """The device's own ``check_health`` at ``level``."""
    level = HealthLevel(level)
    test = f"check_{level.value}"
    if device is None:
        return _keep(counters, _missing(name, test))
    try:
        result = device.check_health(level)
    except DeviceError as exc:
        return _keep(counters, TestOutcome(name, test, False, "mt_check_failed",
                                           redact_text(f"{exc.code.value}: {exc.message}"),
                                           at=time.time()))
    return _keep(counters, TestOutcome(
        name, test, bool(result.ok), "mt_check_ok" if result.ok else "mt_check_failed",
        redact_text(result.text), {"level": level.value}, time.time(),
        redact(dict(result.details), source="device")))


def print_test_page(printer: Any, counters: CounterStore | None) -> TestOutcome:
    """A real test page through the print queue (the printer's interactive check)."""
    if printer is None:
        return _keep(counters, _missing("printer", "print_test_page"))
    try:
        result = printer.check_health(HealthLevel.INTERACTIVE)
    except DeviceError as exc:
        return _keep(counters, TestOutcome("printer", "print_test_page", False,
                                           "mt_print_failed", redact_text(exc.message),
                                           at=time.time()))
    details = redact(dict(result.details), source="device")
    key = "mt_print_ok" if result.ok else "mt_print_failed"
    return _keep(counters, TestOutcome("printer", "print_test_page", bool(result.ok), key,
                                       redact_text(result.text),
                                       {"state": str(details.get("state", ""))},
                                       time.time(), details))


def read_test_card(reader: Any, counters: CounterStore | None) -> TestOutcome:
    """Read the card in the field (the reader's interactive check): its type, nothing of
    its holder."""
    if reader is None:
        return _keep(counters, _missing("idcard", "read_card"))
    try:
        result = reader.check_health(HealthLevel.INTERACTIVE)
    except DeviceError as exc:
        return _keep(counters, TestOutcome("idcard", "read_card", False, "mt_card_failed",
                                           redact_text(exc.message), at=time.time()))
    card_type = str(result.details.get("card_type", "")) if result.ok else ""
    error = str(result.details.get("error", ""))
    key = "mt_card_ok" if result.ok else ("mt_card_none" if error in ("no_card", "timeout")
                                          else "mt_card_failed")
    return _keep(counters, TestOutcome("idcard", "read_card", bool(result.ok), key,
                                       redact_text(result.text),
                                       {"card_type": redact_text(card_type)}, time.time(),
                                       {"card_type": redact_text(card_type), "error": error}))


def code_kind(text: str) -> str:
    """What a scanned text is, without saying what it holds."""
    from kiosk.diag.tokens import looks_like_token
    from kiosk.identity.codes import looks_like_identity_code
    from kiosk.identity.doccodes import looks_like_doc_code

    if looks_like_identity_code(text):
        return "identity"
    if looks_like_doc_code(text):
        return "document"
    if looks_like_token(text):
        return "technician"
    return "other"


def scan_code(scanner: Any, counters: CounterStore | None, timeout_s: float = 20.0,
              cancel: threading.Event | None = None) -> TestOutcome:
    """Wait for one code at the scanner: its kind and length (its content is not kept)."""
    if scanner is None:
        return _keep(counters, _missing("qr", "scan_code"))
    try:
        text = scanner.read_code(Deadline(timeout_s, cancel), held=True)  # held before too
    except DeviceError as exc:
        key = "mt_scan_none" if exc.code.value in ("timeout", "canceled") else "mt_scan_failed"
        return _keep(counters, TestOutcome("qr", "scan_code", False, key,
                                           redact_text(exc.message), at=time.time()))
    kind, length = code_kind(text), len(text)
    del text
    return _keep(counters, TestOutcome("qr", "scan_code", True, "mt_scan_ok",
                                       f"{kind} code, {length} characters",
                                       {"kind": kind, "length": length}, time.time()))


# -- camera preview -----------------------------------------------------------------------
@dataclass(frozen=True)
class PreviewFrame:
    """One preview picture for the screen: RGB rows bottom-up (a Kivy texture's order),
    the face box drawn in, and how many faces the kiosk's own detector found."""

    seq: int
    width: int
    height: int
    pixels: bytes
    faces: int


FrameSink = Callable[[PreviewFrame | None], None]  # None: no frame from the camera


class CameraPreview:
    """Frames from the camera with the face box, for ``seconds`` or until :meth:`stop`, on
    a worker; :meth:`result` waits for the end and gives the outcome."""

    def __init__(self, camera: Any, on_frame: FrameSink, *, counters: CounterStore | None,
                 seconds: float = 30.0, detector: Callable[[Any], list[Any]] | None = None
                 ) -> None:
        self.camera = camera
        self.on_frame = on_frame
        self.counters = counters
        self.seconds = seconds
        self._detector = detector
        self._stop = threading.Event()
        self._done = threading.Event()
        self._outcome: TestOutcome | None = None
        self.frames = 0
        self.with_face = 0
        self._thread = threading.Thread(target=self._run, name="camera-preview", daemon=True)

    def start(self) -> CameraPreview:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def result(self, timeout: float | None = None) -> TestOutcome | None:
        self._done.wait(timeout)
        return self._outcome

    def _detect(self) -> Callable[[Any], list[Any]]:
        if self._detector is None:
            from kiosk.face.config import FaceConfig
            from kiosk.face.verify import FaceVerifier

            verifier = FaceVerifier(FaceConfig())
            self._detector = lambda rgb: list(verifier.detect(rgb)[0])
        return self._detector

    def _run(self) -> None:
        try:
            self._loop()
            ok = self.with_face > 0
            key = "mt_preview_face" if ok else \
                "mt_preview_no_face" if self.frames else "mt_preview_no_frames"
            self._outcome = TestOutcome(
                "camera", "preview", ok, key,
                f"face found in {self.with_face} of {self.frames} frames",
                {"frames": self.frames, "faces": self.with_face}, time.time())
        except Exception as exc:  # a detector or camera failure is a failed test
            log.exception("camera preview failed")
            self._outcome = TestOutcome("camera", "preview", False, "mt_preview_no_frames",
                                        redact_text(type(exc).__name__), at=time.time())
        finally:
            if self._outcome is not None:
                _keep(self.counters, self._outcome)
            self._done.set()

    def _loop(self) -> None:
        import cv2
        import numpy as np

        if self.camera is None:
            self.on_frame(None)
            return
        detect = self._detect()
        end = time.monotonic() + self.seconds
        while not self._stop.is_set() and time.monotonic() < end:
            frame = self.camera.latest_frame(1.0)
            if frame is None:
                self.on_frame(None)
                continue
            rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
            boxes = detect(rgb)
            h, w = rgb.shape[:2]
            scale = PREVIEW_WIDTH / float(w)
            small = cv2.resize(rgb, (PREVIEW_WIDTH, max(1, int(h * scale))),
                               interpolation=cv2.INTER_AREA)
            for top, right, bottom, left in boxes:
                cv2.rectangle(small, (int(left * scale), int(top * scale)),
                              (int(right * scale), int(bottom * scale)), (40, 220, 90), 3)
            self.frames += 1
            self.with_face += 1 if boxes else 0
            pixels = np.ascontiguousarray(np.flipud(small)).tobytes()
            for image in (frame, rgb, small):
                image.fill(0)  # nothing of a face outlives its frame
            self.on_frame(PreviewFrame(self.frames, small.shape[1], small.shape[0], pixels,
                                       len(boxes)))
