"""Configuration of the camera (face verification is the kiosk's: ``kiosk.face.config``)."""

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
