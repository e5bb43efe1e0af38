from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from hardware.base import Deadline
from hardware.camera.config import CameraConfig
from hardware.camera.factory import create
from hardware.context import DeviceContext
from hardware.sim import faces
from hardware.sim.control import SimClient
from kiosk.cli import main
from kiosk.face.config import FaceConfig
from kiosk.face.verify import FaceVerifier

MAGIC = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")


def test_diag_face_compare(tmp_path: Path) -> None:
    import cv2

    ref = tmp_path / "ref.jpg"
    ref.write_bytes(faces.reference_jpeg("astronaut"))
    live = tmp_path / "live.png"
    cv2.imwrite(str(live), faces.live_frame("astronaut"))
    empty = tmp_path / "empty.png"
    cv2.imwrite(str(empty), faces.empty_frame())
    runner = CliRunner()
    res = runner.invoke(main, ["diag", "face", "compare", str(ref), str(live), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert set(data) == {"match", "distance", "threshold", "faces_ref", "faces_live",
                         "elapsed_ms"}
    assert data["match"] is True and data["faces_live"] == 1
    res = runner.invoke(main, ["diag", "face", "compare", str(ref), str(empty), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.output)["error"] == "no_face"


def test_diag_camera_snapshot(tmp_path: Path) -> None:
    runner = CliRunner()
    before = set(os.listdir(tmp_path))
    res = runner.invoke(main, ["diag", "camera", "snapshot", "--device",
                               "sim://faces?holder=chen", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["width"] == 640 and data["height"] == 480 and data["face_detected"] is True
    assert data["saved"] is None and 0 < data["brightness"] < 255
    assert set(os.listdir(tmp_path)) == before
    out = tmp_path / "snap.png"
    res = runner.invoke(main, ["diag", "camera", "snapshot", "--device",
                               "sim://faces?holder=chen", "--save", str(out), "--json"])
    assert res.exit_code == 0 and out.read_bytes().startswith(MAGIC[1])
    res = runner.invoke(main, ["diag", "camera", "snapshot", "--device", "/nonexistent/x",
                               "--json"])
    assert res.exit_code == 3 and "error" in json.loads(res.output)


def _files(root: Path) -> dict[Path, float]:
    out = {}
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith("pytest-of-")]  # other tests' files
        for name in names:
            p = Path(dirpath) / name
            try:
                out[p] = p.stat().st_mtime
            except OSError:
                continue
    return out


def test_no_image_data_left_on_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own_tmp = tmp_path / "tmp"
    own_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(own_tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(own_tmp))
    var = tmp_path / "var"
    log_file = var / "kiosk.log"
    var.mkdir()
    handler = logging.FileHandler(log_file)
    logging.getLogger().addHandler(handler)
    logging.getLogger().setLevel(logging.DEBUG)
    ctx = DeviceContext(var_dir=var)
    try:
        cam = create(CameraConfig(), ctx)
        control = SimClient(ctx.sims.controls()["camera"])
        assert control.call("status")["presented"] is None
        control.call("present", who="chen")
        cam.start(lambda _event: None)
        try:
            verifier = FaceVerifier(FaceConfig())
            ok = verifier.verify(cam.frames(), faces.reference_jpeg("chen"), Deadline(20))
            assert ok.match
            control.call("present", who="huang")
            bad = verifier.verify(cam.frames(), faces.reference_jpeg("chen"), Deadline(20))
            assert not bad.match
        finally:
            cam.close()
            ctx.sims.close()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    # The shared /tmp is written by other processes; this process's temp files go to own_tmp.
    new = list(_files(var)) + list(_files(own_tmp))
    assert log_file in new
    for path in new:
        try:
            blob = path.read_bytes()
        except OSError:
            continue
        assert not any(m in blob for m in MAGIC), f"image data in {path}"
        if path.stat().st_size > 64 * 1024:
            assert path.suffix in (".py", ".pyc", ".json", ".txt"), f"large file {path}"
