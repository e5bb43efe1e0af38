"""Issue 17: "turn your head to the left" means the citizen's own left. A camera (not
mirrored) sees a head turned to its owner's left with the nose moved to the frame's right;
the face screen's mirror shows it on the screen's left, where its arrow points."""

from __future__ import annotations

from hardware.camera.simulator import FaceSimulator
from hardware.sim import faces
from hardware.sim.faces import Pose
from kiosk.face.config import FaceConfig
from kiosk.face.liveness import _satisfied, geometry
from kiosk.face.verify import FaceVerifier


def _cue(frame: object) -> tuple[float, float]:
    analysis = FaceVerifier(FaceConfig()).analyse(frame, bgr=True, encode=False)  # type: ignore[arg-type]
    return geometry(analysis.landmarks)


def test_a_head_turned_to_its_owners_left_passes_turn_left() -> None:
    # Pose.yaw > 0 turns the 3D head so that its nose goes to the frame's right: seen by a
    # camera facing the citizen, that is the citizen's left
    yaw0, iod0 = _cue(faces.live_frame("chen", Pose(), seed=1))
    own_left = _cue(faces.live_frame("chen", Pose(yaw=1.0), seed=1))
    own_right = _cue(faces.live_frame("chen", Pose(yaw=-1.0), seed=1))
    assert own_left[0] > yaw0 > own_right[0]  # the nose to the frame's right: their left
    assert _satisfied("turn_left", own_left, yaw0, iod0)
    assert not _satisfied("turn_left", own_right, yaw0, iod0)
    assert _satisfied("turn_right", own_right, yaw0, iod0)
    assert not _satisfied("turn_right", own_left, yaw0, iod0)


def test_the_simulated_citizen_turns_to_their_own_left_when_asked() -> None:
    sim = FaceSimulator("chen", reaction_s=0.0, move_s=0.001)
    try:
        yaw0, _ = _cue(sim.frame())
        sim.on_challenge("turn_left")
        sim._challenge_at -= 1.0  # the move is over: no waiting on a clock
        left, _ = _cue(sim.frame())
        sim.on_challenge("turn_right")
        sim._challenge_at -= 1.0
        right, _ = _cue(sim.frame())
    finally:
        sim.close()
    assert left > yaw0 + 0.07 and right < yaw0 - 0.07
