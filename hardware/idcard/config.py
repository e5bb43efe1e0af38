"""Configuration of the resident ID-card reader."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class IdCardConfig(BaseModel):
    """The SAM reader on a serial port, or ``sim://idcard?cards=demo`` for the simulator."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    port: str = "sim://idcard?cards=demo"
    baud: int = Field(115200, description="115200 (default) down to 9600")
    read_timeout_s: float = Field(3.0, gt=0, le=30)
    poll_interval_s: float = Field(0.2, gt=0, le=5)
    photo_decoder: str | None = Field(None, description="path of a vendor WLT decoder library")
