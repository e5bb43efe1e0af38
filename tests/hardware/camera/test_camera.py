"""The camera device over a frame source: the face simulator (controlled through its socket,
like every simulator) and an image folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import pytest

from hardware.base import DeviceEvent, DeviceStatus
from hardware.camera.config import CameraConfig
from hardware.camera.driver import CameraDevice
from hardware.camera.factory import create
from hardware.context import DeviceContext
from hardware.events import FrameSourceOffline, FrameSourceOnline
from hardware.roles import Camera
from hardware.sim import faces
from hardware.sim.control import SimClient
from hardware.sim.url import SimUrlError


@pytest.fixture
def ctx() -> Iterator[DeviceContext]:
    context = DeviceContext()
    yield context
    context.sims.close()


class Events:
    def __init__(self) -> None:
        self.seen: list[DeviceEvent] = []
        self.cond = threading.Condition()

    def __call__(self, event: DeviceEvent) -> None:
        with self.cond:
            self.seen.append(event)
            self.cond.notify_all()

    def wait(self, kind: type[DeviceEvent], n: int = 1, timeout: float = 5.0) -> None:
        with self.cond:
            assert self.cond.wait_for(
                lambda: sum(isinstance(e, kind) for e in self.seen) >= n, timeout), self.seen


def _camera(source: str, ctx: DeviceContext | None = None, **kw: float
            ) -> tuple[CameraDevice, Events]:
    cam = create(CameraConfig(source=source, **kw), ctx)
    events = Events()
    cam.start(events)
    return cam, events


def test_sim_camera_offline_when_frames_stop(ctx: DeviceContext) -> None:
    cam, events = _camera("sim://faces?holder=chen", ctx, offline_after_s=0.3)
    try:
        assert isinstance(cam, Camera)  # the role the core uses
        assert cam.latest_frame(3.0) is not None
        assert cam.status is DeviceStatus.ONLINE and cam.details["camera"] == "ok"
        events.wait(FrameSourceOnline)
        control = SimClient(ctx.sims.controls()["camera"])
        control.call("fault", kind="unplug")  # the frames stop
        events.wait(FrameSourceOffline)
        assert cam.details["camera"] == "no_frames"
        assert not cam.check_health().ok
        assert control.call("status")["stalled"] is True
        control.call("fault", kind="none")
        events.wait(FrameSourceOnline, 2)  # a frame grabbed before the stall may be unread
        assert cam.latest_frame(3.0) is not None
        preview = cam.preview()
        assert preview is not None and preview.frame.shape == (480, 640, 3)
        assert cam.inventory()["simulated"] is True
    finally:
        cam.close()
    assert cam.preview() is None


def test_sim_camera_presents_people_through_its_socket(ctx: DeviceContext) -> None:
    cam, _events = _camera("sim://faces", ctx)
    try:
        control = SimClient(ctx.sims.controls()["camera"])
        assert control.call("status")["presented"] is None
        # a demo citizen's key shows their face (chen's is the astronaut portrait)
        assert control.call("present", who="chen")["presented"] == "astronaut"
        assert control.call("present", who="photo:chen")["presented"] == "photo:astronaut"
        assert control.request({"op": "present", "who": "nobody-known"})["error"] == \
            "unknown_face"
        assert control.call("present", who=None)["presented"] is None
        assert cam.latest_frame(3.0) is not None
    finally:
        cam.close()


def test_sim_camera_url_is_checked(ctx: DeviceContext) -> None:
    with pytest.raises(SimUrlError, match="unknown parameter 'who'"):
        create(CameraConfig(source="sim://faces?who=chen"), ctx)
    with pytest.raises(SimUrlError, match="simulates the idcard"):
        create(CameraConfig(source="sim://idcard"), ctx)


def test_folder_source(tmp_path: Path) -> None:
    for i in range(2):
        cv2.imwrite(str(tmp_path / f"{i}.png"), faces.empty_frame(seed=i))
    cam, _events = _camera(str(tmp_path))
    try:
        first = cam.latest_frame(3.0)
        second = cam.latest_frame(3.0)
        assert first is not None and second is not None and first.shape == (480, 640, 3)
        assert cam.capabilities()["source"] == "folder"
    finally:
        cam.close()


