"""Technician commands: ``kiosk diag face compare`` and ``kiosk diag camera snapshot``.

Both exercise the face pipeline (the snapshot reports whether the frame would pass the
gates), so they live with it, not with the camera driver. Exit codes: 0 ok (for compare: a
result, match or not), 2 a quality gate failed or an image is unreadable, 3 the camera gave no
frame. No image is written unless ``--save`` is given.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click
import cv2

from hardware.base import DeviceError
from hardware.cli_site import site_or_defaults
from hardware.diag_output import emit as _emit
from hardware.diag_output import fail as _fail
from hardware.sim.url import SimUrlError


@click.group(name="face")
def diag_face() -> None:
    """Face verification diagnostics."""


@diag_face.command("compare")
@click.argument("ref_image", type=click.Path(dir_okay=False))
@click.argument("live_image", type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--threshold", type=float, default=None, help="override face.threshold")
def compare(ref_image: str, live_image: str, as_json: bool, threshold: float | None) -> None:
    """Compare the face in REF_IMAGE with the face in LIVE_IMAGE."""
    from kiosk.face.config import FaceConfig
    from kiosk.face.verify import FaceGateError, FaceVerifier, decode_image

    cfg = FaceConfig() if threshold is None else FaceConfig(threshold=threshold)
    images = []
    for path in (ref_image, live_image):
        try:
            images.append(decode_image(Path(path).read_bytes()))
        except OSError:
            _fail("unreadable", f"cannot read {path}", as_json, 2)
        except DeviceError:
            _fail("bad_image", f"{path} is not a JPEG/PNG image", as_json, 2)
    try:
        result = FaceVerifier(cfg).compare_images(images[0], images[1])
    except FaceGateError as exc:
        _fail(exc.gate, exc.message, as_json, 2)
    _emit(result.as_dict(), as_json)


@click.group(name="camera")
def diag_camera() -> None:
    """Camera diagnostics."""


@diag_camera.command("snapshot")
@click.option("--device", "device", default=None,
              help="device index/path, video file, image folder or sim:// URL (default: config)")
@click.option("--save", "save", type=click.Path(dir_okay=False), default=None,
              help="write the frame here (the only way an image is ever kept)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
@click.option("--timeout", type=float, default=5.0, show_default=True)
def snapshot(device: str | None, save: str | None, as_json: bool, timeout: float) -> None:
    """Grab one frame: resolution, fps, face detected, brightness."""
    from hardware.camera.config import CameraConfig
    from hardware.camera.factory import create
    from kiosk.face.config import FaceConfig
    from kiosk.face.verify import FaceGateError, FaceVerifier, wipe

    cfg = CameraConfig() if device is None else CameraConfig(source=device)
    site = site_or_defaults()
    try:
        camera = create(cfg, site.context)
    except DeviceError as exc:
        site.context.sims.close()
        _fail(exc.detail, exc.message, as_json, 3)
    except SimUrlError as exc:
        site.context.sims.close()
        _fail("bad_source", str(exc), as_json, 2)
    camera.start(lambda _event: None)
    t0 = time.monotonic()
    try:
        frame = camera.latest_frame(timeout)
        info = camera.source.info()
    finally:
        camera.close()
        site.context.sims.close()
    if frame is None:
        _fail("no_frames", f"no frame within {timeout:g} s", as_json, 3)
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    data: dict[str, Any] = {
        "source": info.get("kind"), "width": int(frame.shape[1]), "height": int(frame.shape[0]),
        "fps": info.get("fps"), "brightness": round(float(gray.mean()), 1),
        "latency_ms": round((time.monotonic() - t0) * 1000.0, 1),
    }
    verifier = FaceVerifier(FaceConfig())
    try:
        face = verifier.analyse(frame, bgr=True, encode=False)
        data.update(face_detected=True, faces=face.faces, face_px=face.size, gate=None,
                    sharpness=round(face.sharpness, 1))
    except FaceGateError as exc:
        data.update(face_detected=exc.faces > 0, faces=exc.faces, face_px=None,
                    gate=exc.gate, sharpness=None)
    data["saved"] = None
    if save:
        if not cv2.imwrite(save, frame):
            _fail("save_failed", "could not write the image", as_json, 2)
        data["saved"] = save
    wipe(gray)
    wipe(frame)
    _emit(data, as_json)
