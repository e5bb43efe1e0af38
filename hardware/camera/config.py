"""Configuration of the camera and of face verification."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CameraConfig(BaseModel):
    """A V4L2 device index/path, a video file or image folder, or ``sim://faces``."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    source: str = "sim://faces"
    width: int = Field(640, ge=160, le=3840)
    height: int = Field(480, ge=120, le=2160)
    fps: int = Field(15, ge=1, le=60)
    offline_after_s: float = Field(3.0, gt=0)


class FaceConfig(BaseModel):
    """1:1 face verification (人证核验) and liveness."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    threshold: float = Field(0.45, gt=0, lt=1, description="max face distance (see README)")
    min_face_px: int = Field(80, ge=20)
    min_sharpness: float = Field(25.0, ge=0, description="Laplacian variance, face at 96 px")
    min_brightness: float = Field(45.0, ge=0, le=255, description="mean grey of the face box")
    max_brightness: float = Field(215.0, ge=0, le=255)
    frames: int = Field(3, ge=1, le=20, description="frames that must agree")
    deadline_s: float = Field(15.0, gt=0)
    liveness: bool = True
    liveness_retries: int = Field(2, ge=0, le=5)
