"""Configuration of 1:1 face verification and liveness (the ``face`` section)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

FUSION_RULES = ("all", "mean", "best", "median")
Fusion = Literal["all", "mean", "best", "median"]


class FaceConfig(BaseModel):
    """1:1 face verification (人证核验) and liveness."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: float = Field(0.542, gt=0, lt=1, description="max face distance: the "
                             "operating point FAR <= 0.1 % at 95 % confidence on the real "
                             "tune set, platform reference (README.md)")
    fusion: Fusion = Field("mean", description="how several live frames are fused (README.md)")
    reference_jitters: int = Field(10, ge=1, le=50, description="encodings of the reference "
                                   "photo averaged over small jitters (lower FRR, ~0.1 s each)")
    min_face_px: int = Field(80, ge=20)
    min_sharpness: float = Field(25.0, ge=0, description="Laplacian variance, face at 96 px")
    min_brightness: float = Field(45.0, ge=0, le=255, description="mean grey of the face box")
    max_brightness: float = Field(215.0, ge=0, le=255)
    frames: int = Field(3, ge=1, le=20, description="live frames fused into one decision")
    deadline_s: float = Field(15.0, gt=0)
    liveness: bool = True
    max_fps: float = Field(15.0, ge=5, le=60, description="frames a second the face check "
                           "takes from the camera at most (>= 10 keeps the challenges "
                           "responsive; the rest of the CPU is the screen's)")
    worker: Literal["process", "thread"] = Field(
        "process", description="where the face check runs: a child process (the UI keeps "
        "its frame rate while dlib works) or a thread of the kiosk (kiosk/face/worker.py)")
    liveness_retries: int = Field(2, ge=0, le=5)
    blink: bool = Field(True, description="the blink challenge may be drawn (needs the face "
                        "landmark models that scripts/setup.sh installs: kiosk/face/eyes.py)")
