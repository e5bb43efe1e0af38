"""The demo faces, for the reference platform's demo seed (reference photos): the renderer
lives in the simulator kit, :mod:`hardware.sim.faces`; this name stays for the embedded
platform, which loads it by name only when it seeds demo data."""

from __future__ import annotations

from hardware.sim.faces import (
    FACE_KEYS,
    FRAME_H,
    FRAME_W,
    LFW_INDEX,
    Pose,
    UnknownFace,
    empty_frame,
    live_frame,
    portrait,
    reference_jpeg,
    resolve,
)

__all__ = ["FACE_KEYS", "FRAME_H", "FRAME_W", "LFW_INDEX", "Pose", "UnknownFace",
           "empty_frame", "live_frame", "portrait", "reference_jpeg", "resolve"]
