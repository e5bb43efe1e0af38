"""The production policy: unsafe settings are refused with their key path unless the site
file names a reasoned override, and every override in force is reported."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config
from kiosk.config.policy import FACE_THRESHOLD_MAX, evaluate, warnings
from tests.harness.peers import free_port

ROOT = Path(__file__).resolve().parents[3]
KIOSK = [sys.executable, "-m", "kiosk.cli"]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.yaml"
    p.write_text(text, encoding="utf-8")
    return p


UNSAFE = [
    ("face: {enabled: false}", "face.enabled"),
    ("face: {liveness: false}", "face.liveness"),
    ("face: {blink: false}", "face.blink"),
    ("face: {threshold: 0.99}", "face.threshold"),
    (f"face: {{threshold: {FACE_THRESHOLD_MAX + 0.01}}}", "face.threshold"),
    ("camera: {source: /srv/kiosk/faces}", "camera.source"),
    ("camera: {source: /srv/kiosk/replay.mp4}", "camera.source"),
    ("camera: {enabled: false}", "camera.enabled"),
    ("backend: {kind: embedded}", "backend.kind"),
    ("backend: {verify_tls: false}", "backend.verify_tls"),
    ("backend: {url: 'http://platform.gov.example/kiosk/v1'}", "backend.url"),
    ("backend: {url: 'http://10.0.0.5:8080/v1'}", "backend.url"),
    ("fleet: {broker_url: 'mqtt://mqtt.fleet.example'}", "fleet.tls"),
]


@pytest.mark.parametrize(("text", "key"), UNSAFE)
def test_production_refuses_unsafe_settings(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text + "\n"), profile="production", environ={})
    assert f"{key}: " in str(err.value)
    assert f"policy.allow_unsafe.{key}" in str(err.value)  # says how to override


def test_embedded_backend_with_demo_data_names_both_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "backend: {kind: embedded, seed_demo: true}\n"),
                    profile="production", environ={})
    assert "backend.kind: " in str(err.value) and "backend.seed_demo: " in str(err.value)


@pytest.mark.parametrize("text", [
    f"face: {{threshold: {FACE_THRESHOLD_MAX}}}",
    "camera: {source: /dev/v4l/by-id/usb-cam-video-index0}",
    "camera: {source: '2'}",
    "backend: {url: 'http://127.0.0.1:8700/v1'}",
    "backend: {url: 'http://localhost:8700/v1'}",
    "backend: {url: 'http://[::1]:8700/v1'}",
    "fleet: {broker_url: 'mqtts://mqtt.fleet.example'}",
    "fleet: {broker_url: 'mqtt://mqtt.fleet.example:8883', tls: true}",
])
def test_production_accepts_safe_settings(tmp_path: Path, text: str) -> None:
    cfg = load_config(write(tmp_path, text + "\n"), profile="production", environ={})
    assert evaluate(cfg).refused == []


def test_simulation_profile_is_not_policed(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "face: {liveness: false, threshold: 0.99}\n"),
                      environ={})
    assert cfg.face.threshold == 0.99 and evaluate(cfg).refused == []


def test_an_override_allows_exactly_its_setting(tmp_path: Path) -> None:
    text = ("face: {liveness: false, threshold: 0.99}\n"
            "policy:\n  allow_unsafe:\n    face.liveness: 'pilot site, camera on order OPS-12'\n")
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text), profile="production", environ={})
    assert "face.threshold: " in str(err.value) and "face.liveness: " not in str(err.value)
    cfg = load_config(write(tmp_path, text + "    face.threshold: 'calibrated on site'\n"),
                      profile="production", environ={})
    report = evaluate(cfg)
    assert [(u.key, reason) for u, reason in report.allowed] == [
        ("face.liveness", "pilot site, camera on order OPS-12"),
        ("face.threshold", "calibrated on site")]
    assert all("unsafe setting allowed" in line for line in warnings(report))


@pytest.mark.parametrize(("override", "message"), [
    ("face.livenes: 'typo'", "not a policy setting"),
    ("face.liveness: ''", "give the reason"),
])
def test_bad_overrides_are_refused(tmp_path: Path, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        load_config(write(tmp_path, f"policy: {{allow_unsafe: {{{override}}}}}\n"),
                    profile="production", environ={})
    assert "policy.allow_unsafe" in str(err.value)


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}


def test_config_check_exits_2_and_shows_overrides(tmp_path: Path) -> None:
    cred = tmp_path / "cred.json"
    cred.write_text('{"kiosk_id": "kiosk-dev", "token": "kiosk-dev.x"}', encoding="utf-8")
    bad = write(tmp_path, f"backend: {{verify_tls: false, credentials_file: {cred}}}\n"
                          "fleet: {enabled: false}\n")  # else config check wants a trust root
    proc = subprocess.run([*KIOSK, "config", "check", "--profile", "production", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env())
    assert proc.returncode == 2 and "backend.verify_tls" in proc.stderr
    assert "Traceback" not in proc.stderr
    bad.write_text(bad.read_text() + "policy: {allow_unsafe: {backend.verify_tls: "
                   "'private CA not yet rolled out'}}\n", encoding="utf-8")
    proc = subprocess.run([*KIOSK, "config", "check", "--profile", "production", str(bad)],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=_env())
    assert proc.returncode == 0, proc.stderr
    assert "warning: unsafe setting allowed by policy.allow_unsafe: backend.verify_tls" \
        in proc.stderr
    assert "private CA not yet rolled out" in proc.stderr


def test_kiosk_run_logs_each_override_at_start(tmp_path: Path) -> None:
    path = write(tmp_path, f"""var_dir: {tmp_path / 'var'}
backend: {{kind: embedded, seed_demo: true}}
fleet: {{enabled: false}}
idcard: {{port: /dev/ttyNOSUCHREADER}}
qr: {{port: /dev/ttyNOSUCHSCANNER}}
camera: {{source: /dev/video-nosuchcamera}}
printer: {{cups_server: '127.0.0.1:{free_port()}', probe_timeout_s: 0.5}}
policy:
  allow_unsafe:
    backend.kind: "test bench without a platform"
    backend.seed_demo: "test bench without a platform"
""")
    proc = subprocess.run([*KIOSK, "run", "--profile", "production", "--no-ui",
                           "--exit-when-ready", "--config", str(path)], capture_output=True,
                          text=True, timeout=120, cwd=ROOT, env=_env(), stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if "unsafe setting allowed" in line]
    assert len(lines) == 2 and all(" WARNING kiosk.policy: " in line for line in lines)
    assert "backend.kind" in lines[0] and "backend.seed_demo" in lines[1]
