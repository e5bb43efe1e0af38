"""``kiosk run`` and ``kiosk config check`` refuse what the configuration points at when it
cannot work (credentials, backend URL, log file): exit 2, the key path, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import load_config
from kiosk.preflight import preflight

ROOT = Path(__file__).resolve().parents[2]
KIOSK = [sys.executable, "-m", "kiosk.cli"]
SECRET = "kiosk-a.s3cr3t-t0ken-that-must-not-be-printed"


def site(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text(f"var_dir: {tmp_path / 'var'}\nkiosk: {{id: kiosk-a}}\n{body}",
                    encoding="utf-8")
    return path


def creds(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "credentials.json"
    path.write_text(text, encoding="utf-8")
    return path


def kiosk(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    return subprocess.run([*KIOSK, *args], capture_output=True, text=True, timeout=60,
                          cwd=ROOT, env=env, stdin=subprocess.DEVNULL)


CASES = {
    "credentials missing": ("backend: {{credentials_file: {tmp}/nope.json}}\n",
                            "backend.credentials_file", "does not exist"),
    "credentials not json": ("backend: {{credentials_file: {creds_bad}}}\n",
                             "backend.credentials_file", "not a credentials file"),
    "credentials wrong shape": ("backend: {{credentials_file: {creds_shape}}}\n",
                                "backend.credentials_file", "not a credentials file"),
    "credentials of another kiosk": ("backend: {{credentials_file: {creds_other}}}\n",
                                     "backend.credentials_file", "another kiosk id"),
    "url empty": ('backend: {{url: "", credentials_file: {creds_ok}}}\n', "backend.url",
                  "needs an http:// or https:// URL with a host"),
    "url without host": ('backend: {{url: "https:///v1", credentials_file: {creds_ok}}}\n',
                         "backend.url", "with a host"),
    "url without scheme": ('backend: {{url: "platform.gov.cn/v1", credentials_file: '
                           '{creds_ok}}}\n', "backend.url", "with a host"),
    "log file is a folder": ("backend: {{credentials_file: {creds_ok}}}\n"
                             "logging: {{file: {tmp}}}\n", "logging.file", "is a folder"),
    "log folder is a file": ("backend: {{credentials_file: {creds_ok}}}\n"
                             "logging: {{file: {creds_ok}/logs/kiosk.log}}\n", "logging.file",
                             "is not a folder"),
}


def case_file(tmp_path: Path, name: str) -> tuple[Path, str, str]:
    body, key, text = CASES[name]
    values = {
        "tmp": tmp_path,
        "creds_ok": creds(tmp_path, f'{{"kiosk_id": "kiosk-a", "token": "{SECRET}"}}'),
        "creds_bad": tmp_path / "bad.json",
        "creds_shape": tmp_path / "shape.json",
        "creds_other": tmp_path / "other.json",
    }
    (tmp_path / "bad.json").write_text(f'{{"token": "{SECRET}"', encoding="utf-8")
    (tmp_path / "shape.json").write_text(f'{{"kiosk": "kiosk-a", "tok": "{SECRET}"}}',
                                         encoding="utf-8")
    (tmp_path / "other.json").write_text(f'{{"kiosk_id": "kiosk-b", "token": "{SECRET}"}}',
                                         encoding="utf-8")
    return site(tmp_path, body.format(**values)), key, text


@pytest.mark.parametrize("name", sorted(CASES))
def test_kiosk_run_production_refuses(tmp_path: Path, name: str) -> None:
    path, key, text = case_file(tmp_path, name)
    proc = kiosk("run", "--profile", "production", "--no-ui", "--exit-when-ready",
                 "--config", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert key in proc.stderr and text in proc.stderr, proc.stderr
    assert "Traceback" not in out and SECRET not in out and "s3cr3t" not in out


@pytest.mark.parametrize("name", sorted(CASES))
def test_config_check_refuses_the_same(tmp_path: Path, name: str) -> None:
    path, key, text = case_file(tmp_path, name)
    proc = kiosk("config", "check", "--profile", "production", str(path))
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert str(path) in proc.stderr and key in proc.stderr and text in proc.stderr
    assert "Traceback" not in out and "s3cr3t" not in out


def test_config_check_passes_a_sound_production_file(tmp_path: Path) -> None:
    cred = creds(tmp_path, f'{{"kiosk_id": "kiosk-a", "token": "{SECRET}"}}')
    path = site(tmp_path, f"backend: {{credentials_file: {cred}}}\n"
                          f"logging: {{file: {tmp_path}/logs/kiosk.log}}\n"
                          "fleet: {enabled: false}\n")  # the fleet's check: tests/kiosk/fleet
    proc = kiosk("config", "check", "--profile", "production", str(path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"ok: {path} (profile production, kiosk kiosk-a)")
    assert not (tmp_path / "logs").exists()  # checked, not created


def test_preflight_of_the_simulation_defaults_is_empty(tmp_path: Path) -> None:
    cfg = load_config(environ={"KIOSK__VAR_DIR": str(tmp_path / "var")})
    assert preflight(cfg) == []


def test_preflight_names_missing_or_changed_eye_models(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    models = tmp_path / "models"
    monkeypatch.setenv("KIOSK_FACE_MODELS", str(models))
    env = {"KIOSK__VAR_DIR": str(tmp_path / "var")}
    assert preflight(load_config(environ=env)) == [
        f"face.blink: {models}/face_landmark.tflite is missing: run scripts/setup.sh "
        "(or set face.blink: false)"]
    models.mkdir()
    for name in ("face_landmark.tflite", "iris_landmark.tflite"):
        (models / name).write_bytes(b"not the model")
    assert preflight(load_config(environ=env)) == [
        f"face.blink: {models}/face_landmark.tflite is not the pinned model (hash differs): "
        "run scripts/setup.sh (or set face.blink: false)"]
    assert preflight(load_config(environ={**env, "KIOSK__FACE__BLINK": "false"})) == []
