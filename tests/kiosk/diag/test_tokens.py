"""A technician token shown to the camera: decoded from the preview frames by the kiosk's
own QR decoder (zxing-cpp, pyzbar) while the prompt is open; other codes are not passed on.
(The camera simulator shows faces, not codes: the frames here are rendered QR codes.)"""

from __future__ import annotations

import io
import threading
import time

import cv2
import numpy as np
import segno

from hardware.roles import Preview
from kiosk.diag.tokens import TokenReader, looks_like_token
from tests.kiosk.diag.maint_kiosk import MovableClock, token


def _frame(text: str) -> np.ndarray:
    buffer = io.BytesIO()
    segno.make(text, error="m").save(buffer, kind="png", scale=4, border=4)
    code = cv2.imdecode(np.frombuffer(buffer.getvalue(), np.uint8), cv2.IMREAD_COLOR)
    frame = np.full((480, 640, 3), 235, np.uint8)
    h, w = code.shape[:2]
    frame[40:40 + h, 60:60 + w] = code
    return frame


class ShownCodes:
    """A camera whose preview shows the codes held up to it, one after the other."""

    def __init__(self, *texts: str) -> None:
        self.frames = [_frame(t) for t in texts]
        self.seq = 0

    def preview(self) -> Preview | None:
        self.seq += 1
        return Preview(self.seq, self.frames[min(self.seq // 3, len(self.frames) - 1)])


def test_a_token_shown_to_the_camera_is_read_and_nothing_else_is() -> None:
    text = token(MovableClock(time.time))
    got: list[tuple[str, str]] = []
    seen = threading.Event()

    def on_token(value: str, source: str) -> None:
        got.append((value, source))
        seen.set()

    camera = ShownCodes("GZDOC1.some.document.code", text)
    reader = TokenReader(on_token, camera=camera).start()
    try:
        assert seen.wait(20), "no token decoded from the camera"
    finally:
        reader.close()
    assert got[0] == (text, "camera") and all(looks_like_token(v) for v, _ in got)
