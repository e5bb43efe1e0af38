"""Configuration of printing through CUPS."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class PrinterConfig(BaseModel):
    """A CUPS queue; ``cups_server: sim://printer`` for the simulator (a private cupsd with a
    raw queue in front of the AppSocket emulator)."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    queue: str = "kiosk"
    cups_server: str | None = Field(None, description="host:port or socket path; None = "
                                    "default; sim://printer?... for the simulator")
    paper: Literal["a4", "receipt58", "receipt80"] = "a4"
    job_timeout_s: float = Field(60.0, gt=0)
    probe_timeout_s: float = Field(2.0, gt=0)
    state_dir: str = "printer"
    probe_device: bool = Field(True, description="also probe socket:// devices' TCP port "
                               "when idle (CUPS cannot see an unplugged AppSocket printer)")
    poll_interval_s: float = Field(2.0, gt=0, le=60, description="status polling period")
    debounce_s: float = Field(5.0, ge=0, le=120,
                              description="how long a vanished queue/cupsd keeps its last state")
