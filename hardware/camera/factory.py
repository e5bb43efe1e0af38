"""Build the camera from its config section and the device context.

``source`` is a V4L2 device index or path, a video file, an image folder, or ``sim://faces?...``
for the face simulator, which the camera then owns and whose control socket is recorded in
``ctx.sims`` under ``camera``. The simulator (and its face renderer) is imported only then.
"""

from __future__ import annotations

from hardware.base import InvalidData
from hardware.camera.config import CameraConfig
from hardware.camera.driver import CameraDevice
from hardware.camera.source import SimSource, open_source
from hardware.context import DeviceContext
from hardware.sim.kit import open_url
from hardware.sim.url import is_sim_url


def create(section: CameraConfig, ctx: DeviceContext | None = None) -> CameraDevice:
    """The camera for ``section.source`` (not started: ``start(sink)`` grabs)."""
    ctx = ctx or DeviceContext()
    if not is_sim_url(section.source):
        return CameraDevice(section, open_source(section))
    url = open_url(section.source, "camera", allowed=ctx.allow_simulation)
    from hardware.camera.simulator import FaceSimulator
    from hardware.sim.faces import UnknownFace

    try:
        sim = FaceSimulator.from_url(
            url, control_path=ctx.sims.control_path("camera", url["control"]))
    except UnknownFace as exc:
        raise InvalidData(f"sim://faces: nobody known as {exc.args[0]!r}",
                          detail="bad_source") from None
    ctx.sims.record("camera", sim)
    return CameraDevice(section, SimSource(section, sim.frame), simulator=sim)
