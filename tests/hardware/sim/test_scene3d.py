"""The 3D face renderer of the simulator kit: the demo landmarks are dlib's, a turn moves the
nose against the eyes, and every attack renders."""

from __future__ import annotations

import pytest

from hardware.sim import faces
from hardware.sim.faces import Pose


@pytest.mark.parametrize("key", faces.FACE_KEYS)
def test_demo_landmarks_are_what_dlib_finds(key: str) -> None:
    found = faces.detect_landmarks(key)
    for kept, got in zip(faces.DEMO_MARKS[key], found, strict=True):
        assert abs(kept[0] - got[0]) < 1.0 and abs(kept[1] - got[1]) < 1.0


@pytest.mark.parametrize("attack", list(faces.ATTACKS))
def test_attack_frames_render(attack: str) -> None:
    frame = faces.attack_frame("astronaut", attack, Pose(yaw=0.5))
    assert frame.shape == (480, 640, 3) and frame.std() > 10


def test_live_frame_is_a_turned_head() -> None:
    a = faces.live_frame("astronaut", Pose(yaw=0.0), noise=0)
    b = faces.live_frame("astronaut", Pose(yaw=1.0), noise=0)
    assert a.shape == b.shape == (480, 640, 3)
    assert float(abs(a.astype(int) - b.astype(int)).mean()) > 1.0
