"""Shared, module-cached face fixtures (face computations are slow on shared cores)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from hardware.camera.config import CameraConfig
from hardware.camera.driver import CameraDevice
from hardware.camera.factory import create
from hardware.context import DeviceContext
from hardware.sim.control import SimClient
from kiosk.face.config import FaceConfig
from kiosk.face.verify import FaceVerifier


@pytest.fixture(scope="session")
def verifier() -> FaceVerifier:
    return FaceVerifier(FaceConfig())


@contextmanager
def sim_camera(source: str = "sim://faces") -> Iterator[tuple[CameraDevice, SimClient]]:
    """The camera over its simulator (``source``), started, and the simulator's control."""
    ctx = DeviceContext()
    cam = create(CameraConfig(source=source), ctx)
    cam.start(lambda _event: None)
    try:
        yield cam, SimClient(ctx.sims.controls()["camera"])
    finally:
        cam.close()
        ctx.sims.close()


@pytest.fixture
def camera() -> Iterator[tuple[CameraDevice, SimClient]]:
    """The simulated camera with nobody in front of it yet."""
    with sim_camera() as cam:
        yield cam
