"""Build the camera device from the kiosk configuration."""

from __future__ import annotations

from hardware.camera.driver import Camera
from hardware.camera.source import open_source
from kiosk.config.schema import KioskConfig


def create(cfg: KioskConfig) -> Camera:
    """The camera for ``cfg.camera.source``; ``camera.simulator`` is set for ``sim://``."""
    return Camera(cfg.camera, open_source(cfg.camera))
