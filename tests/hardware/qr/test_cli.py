"""The QR commands: diag decode/listen, sim qr, sim identity-code."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import cv2
import segno
from click.testing import CliRunner

from hardware.qr.testframes import make_frame
from hardware.sim.control import SimClient
from kiosk.cli import main
from kiosk.identity.codes import load_or_create_signing_key, verify_code

KIOSK = [sys.executable, "-m", "kiosk.cli"]


def test_diag_decode_json(tmp_path: Path) -> None:
    code_png = tmp_path / "code.png"
    segno.make("APPT-2025-000042", error="m").save(str(code_png), scale=8, border=4)
    frame_png = tmp_path / "frame.png"
    tf = make_frame(7, 1)
    cv2.imwrite(str(frame_png), tf.frame)
    blank = tmp_path / "blank.png"
    cv2.imwrite(str(blank), tf.frame[:50, :50] * 0)
    res = CliRunner().invoke(main, ["diag", "qr", "decode", str(code_png), str(frame_png),
                                    str(blank), "--json"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(line) for line in res.output.splitlines()]
    assert [r["image"] for r in lines] == [str(code_png), str(frame_png), str(blank)]
    first = lines[0]
    assert set(first) == {"image", "codes", "elapsed_ms"} and first["elapsed_ms"] > 0
    assert first["codes"][0]["type"] == "QRCODE" and first["codes"][0]["data"] == "APPT-2025-000042"
    assert len(first["codes"][0]["rect"]) == 4
    assert lines[1]["codes"][0]["data"] == tf.text
    assert lines[2]["codes"] == []


def test_diag_decode_unreadable_image_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    res = CliRunner().invoke(main, ["diag", "qr", "decode", str(bad), "--json"])
    assert res.exit_code == 2
    assert json.loads(res.output.splitlines()[0])["error"] == "unreadable_image"


def test_sim_identity_code_prints_valid_code_and_png(tmp_path: Path) -> None:
    key = tmp_path / "secrets" / "platform-signing.key"
    png = tmp_path / "phone.png"
    res = CliRunner().invoke(main, ["sim", "identity-code", "--holder", "h-chen",
                                    "--key", str(key), "--png", str(png)])
    assert res.exit_code == 0, res.output
    text = res.output.strip()
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    vk = load_or_create_signing_key(key).verify_key
    claim = verify_code(text, {"ref-platform": vk}, time.time())
    assert claim.holder == "h-chen" and claim.expires_at - claim.issued_at == 60
    decoded = CliRunner().invoke(main, ["diag", "qr", "decode", str(png), "--json"])
    assert json.loads(decoded.output)["codes"][0]["data"] == text
    refused = CliRunner().invoke(main, ["sim", "identity-code", "--holder",
                                        "11010519491231002X", "--key", str(key)])
    assert refused.exit_code == 1 and "ID number" in refused.output


def test_sim_qr_and_diag_listen_over_a_real_pty(tmp_path: Path) -> None:
    sim = subprocess.Popen(KIOSK + ["sim", "qr", "--suffix", "crlf"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert sim.stdout is not None and sim.stderr is not None
        pty = sim.stdout.readline().strip()
        assert pty.startswith("/dev/pts/")
        sim.stderr.readline()  # link
        control = sim.stderr.readline().split(": ", 1)[1].strip()
        listen = subprocess.Popen(KIOSK + ["diag", "qr", "listen", "--port", pty, "--suffix",
                                           "crlf", "--count", "1", "--json", "--timeout", "30"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert listen.stderr is not None and listen.stdout is not None
            assert "status: online" in listen.stderr.readline()  # connected: now scan
            assert SimClient(control).call("scan", text="APPT-7")["sent"]
            out, _ = listen.communicate(timeout=30)
        finally:
            listen.kill()
        rec = json.loads(out.splitlines()[0])
        assert rec["event"] == "code_scanned" and rec["data"] == "APPT-7"
        assert rec["source"] == "serial" and listen.returncode == 0
    finally:
        sim.terminate()
        sim.wait(10)
    assert sim.returncode == 0
