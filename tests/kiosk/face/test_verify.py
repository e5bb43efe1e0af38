from __future__ import annotations

import cv2
import numpy as np
import pytest

from hardware.base import Deadline
from hardware.sim import faces
from hardware.sim.faces import Pose
from kiosk.face.verify import (
    REFERENCE_UNUSABLE,
    FaceGateError,
    FaceVerifier,
    decode_image,
    encoded,
    fuse,
)


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


def _jpeg(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".jpg", img)
    assert ok
    return bytes(buf.tobytes())


@pytest.mark.parametrize("reference", [
    b"not a jpeg",
    _jpeg(np.full((126, 102, 3), 128, np.uint8)),  # a chip photo with no face on it
])
def test_reference_without_usable_face_is_refused_at_once(verifier: FaceVerifier,
                                                          reference: bytes) -> None:
    asked: list[int] = []

    def frames() -> None:
        asked.append(1)

    result = verifier.verify(frames, reference, Deadline(5))
    assert not result.match and result.reason == REFERENCE_UNUSABLE == "reference_unusable"
    assert not asked  # no frame was taken: the citizen goes to the other path at once


def test_chip_sized_reference_is_found_with_upsampling(verifier: FaceVerifier) -> None:
    from kiosk.face import evalset

    portrait = np.asarray(faces.portrait("astronaut"))
    box = evalset.face_box(portrait)
    assert box is not None
    chip = evalset.chip_reference(portrait, box)
    assert decode_image(chip).shape == (126, 102, 3)
    ref = verifier.encode_reference(chip)
    live = verifier.analyse(faces.live_frame("astronaut"), bgr=True)
    assert verifier.distance(encoded(ref), encoded(live)) <= verifier.cfg.threshold


def test_fusion_drops_frames_of_someone_else(verifier: FaceVerifier) -> None:
    """A frame of the genuine holder followed by another person's: the mean of the mixed
    frames must not match; the stale frame is dropped and the decision is the other's."""
    ref = faces.reference_jpeg("astronaut")
    mixed = [faces.live_frame("astronaut", seed=1)] + [faces.live_frame("lfw-1", seed=i)
                                                        for i in range(2, 8)]
    result = verifier.verify(_feed(mixed), ref, Deadline(30))
    assert not result.match and result.reason == "mismatch" and result.frames_used == 3


@pytest.mark.parametrize("rule", ["all", "mean", "best", "median"])
def test_fuse_rules(rule: str) -> None:
    ref = np.zeros(128)
    lives = [np.full(128, v / np.sqrt(128)) for v in (0.2, 0.4, 0.6)]
    want = {"all": 0.6, "mean": 0.4, "best": 0.2, "median": 0.4}[rule]
    assert fuse(ref, lives, rule) == pytest.approx(want)
    with pytest.raises(ValueError):
        fuse(ref, [], rule)
