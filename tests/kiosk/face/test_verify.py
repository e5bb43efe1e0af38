from __future__ import annotations

import cv2
import numpy as np
import pytest

from hardware.base import Deadline
from hardware.sim import faces
from hardware.sim.faces import Pose
from kiosk.face.verify import FaceGateError, FaceVerifier, decode_image


def _two_faces() -> np.ndarray:
    a = faces.live_frame("astronaut", Pose(dx=-150))
    b = faces.live_frame("lfw-2", Pose(dx=150))
    out = a.copy()
    out[:, 320:] = b[:, 320:]
    return out


@pytest.mark.parametrize("make, gate", [
    (lambda: faces.empty_frame(), "no_face"),
    (_two_faces, "multiple_faces"),
    (lambda: faces.live_frame("astronaut", Pose(scale=0.5)), "too_small"),
    (lambda: cv2.GaussianBlur(faces.live_frame("astronaut"), (0, 0), 3), "blurred"),
    (lambda: (faces.live_frame("astronaut") * 0.2).astype(np.uint8), "too_dark"),
    (lambda: (faces.live_frame("astronaut") * 0.2 + 205).astype(np.uint8), "too_bright"),
])
def test_gates(verifier: FaceVerifier, make, gate: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FaceGateError) as err:
        verifier.analyse(make(), bgr=True, encode=False)
    assert err.value.gate == gate
    assert err.value.detail == gate


def test_good_frame_passes_gates(verifier: FaceVerifier) -> None:
    face = verifier.analyse(faces.live_frame("astronaut"), bgr=True, encode=False)
    assert face.faces == 1 and face.size >= verifier.cfg.min_face_px
    assert face.landmarks.shape == (5, 2)


def test_demo_people_are_distinguishable(verifier: FaceVerifier) -> None:
    refs = {k: verifier.encode_reference(faces.reference_jpeg(k)).encoding
            for k in faces.FACE_KEYS}
    lives = {k: verifier.analyse(faces.live_frame(k, seed=3), bgr=True).encoding
             for k in faces.FACE_KEYS}
    thr = verifier.cfg.threshold
    for a in faces.FACE_KEYS:
        for b in faces.FACE_KEYS:
            d = verifier.distance(refs[a], lives[b])  # type: ignore[arg-type]
            assert (d <= thr) == (a == b), (a, b, d)


def test_compare_images(verifier: FaceVerifier) -> None:
    ref = decode_image(faces.reference_jpeg("astronaut"))
    live = cv2.cvtColor(faces.live_frame("astronaut"), cv2.COLOR_BGR2RGB)
    result = verifier.compare_images(ref, live)
    assert result.match and result.faces_ref == 1 and result.faces_live == 1
    assert result.as_dict()["threshold"] == verifier.cfg.threshold


def _feed(frames: list[np.ndarray]):  # type: ignore[no-untyped-def]
    it = iter(frames)
    return lambda: next(it, None)


def test_verify_genuine_and_impostor(verifier: FaceVerifier) -> None:
    ref = faces.reference_jpeg("astronaut")
    live = [faces.live_frame("astronaut", Pose(dx=i * 5), seed=i) for i in range(3)]
    ok = verifier.verify(_feed(live), ref, Deadline(20))
    assert ok.match and ok.reason is None and ok.frames_used == 3
    assert ok.distance is not None and ok.distance <= verifier.cfg.threshold
    impostor = [faces.live_frame("lfw-1", seed=i) for i in range(3)]
    bad = verifier.verify(_feed(impostor), ref, Deadline(20))
    assert not bad.match and bad.reason == "mismatch"


def test_verify_reports_gate_at_deadline(verifier: FaceVerifier) -> None:
    seen: list[str] = []
    result = verifier.verify(lambda: faces.empty_frame(), faces.reference_jpeg("astronaut"),
                             Deadline(3.0), seen.append)
    assert not result.match and result.reason == "no_face" and result.frames_used == 0
    assert seen and set(seen) == {"no_face"}


def test_verify_bad_reference(verifier: FaceVerifier) -> None:
    result = verifier.verify(lambda: None, b"not a jpeg", Deadline(1))
    assert not result.match and result.reason == "reference_bad_image"
