"""Configuration: layering, environment overrides, errors that name key paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kiosk.cli import main
from kiosk.config import ConfigError, KioskConfig, load_config
from kiosk.config.loader import env_overrides

KIOSK = [sys.executable, "-m", "kiosk.cli"]


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "site.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_defaults_and_simulation_profile_load() -> None:
    cfg = load_config(environ={})
    assert cfg.profile == "simulation"
    assert cfg.idcard.port.startswith("sim://")
    assert cfg.ui.simulation_dock is True


def test_site_file_overrides_profile(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "printer: {queue: lobby}\nkiosk: {id: nh-guicheng-007}\n"),
                      environ={})
    assert cfg.printer.queue == "lobby" and cfg.kiosk.id == "nh-guicheng-007"
    assert cfg.idcard.port.startswith("sim://")  # untouched keys keep the profile's values


def test_environment_overrides_last(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "printer: {queue: lobby}\n"),
                      environ={"KIOSK__PRINTER__QUEUE": "hall", "KIOSK__IDCARD__BAUD": "9600",
                               "KIOSK__UI__FULLSCREEN": "false"})
    assert cfg.printer.queue == "hall"
    assert cfg.idcard.baud == 9600
    assert cfg.ui.fullscreen is False


def test_env_overrides_parse_nested_paths() -> None:
    assert env_overrides({"KIOSK__A__B__C": "1", "OTHER": "x"}) == {"a": {"b": {"c": 1}}}


def test_errors_name_the_key_path_and_value(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, "session: {warning_s: 500}\nprinter: {queu: x}\n"),
                    environ={})
    text = str(err.value)
    assert "session.warning_s" in text and "500" in text
    assert "printer.queu" in text


def test_cross_field_check(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="warning_s must be shorter"):
        load_config(write(tmp_path, "session: {inactivity_timeout_s: 30, warning_s: 40}\n"),
                    environ={})


def test_production_refuses_simulators(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="simulator"):
        load_config(write(tmp_path, "idcard: {port: 'sim://idcard'}\n"), profile="production",
                    environ={})


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line 3"):
        load_config(write(tmp_path, "printer:\n  queue: lobby\n  paper: : a4\n"), environ={})


def test_unknown_profile(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown profile"):
        load_config(profile="staging", environ={})


def test_cli_config_check_ok_and_bad(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["config", "check", str(write(tmp_path, "kiosk: {id: k1}\n"))])
    assert ok.exit_code == 0 and "k1" in ok.output
    bad = runner.invoke(main, ["config", "check", str(write(tmp_path, "ui: {width: -3}\n"))])
    assert bad.exit_code == 2
    assert "ui.width" in bad.output


def test_cli_config_schema_is_json_schema() -> None:
    result = CliRunner().invoke(main, ["config", "schema"])
    schema = json.loads(result.output)
    assert schema["title"] == "KioskConfig"
    assert "printer" in schema["properties"]
    assert KioskConfig.model_validate({}).profile == "simulation"


def test_kiosk_run_with_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "printer: {queue: 5, paper: a3}\n")
    proc = subprocess.run([*KIOSK, "run", "--no-ui", "--config", str(path)],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert "printer.paper" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def test_tampered_config_file_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"
    runner = CliRunner()
    result = runner.invoke(main, ["config", "check", str(path)])
    assert result.exit_code == 2 and "cannot read file" in result.output


def test_state_paths_live_under_var_dir(tmp_path: Path) -> None:
    cfg = load_config(environ={"KIOSK__VAR_DIR": str(tmp_path / "v"),
                               "KIOSK__OUTBOX__KEY_FILE": "/etc/kiosk/outbox.key"})
    assert cfg.backend.db == str(tmp_path / "v" / "platform.sqlite")
    assert cfg.printer.state_dir == str(tmp_path / "v" / "printer")
    assert cfg.outbox.path == str(tmp_path / "v" / "outbox.sqlite")
    assert cfg.outbox.key_file == "/etc/kiosk/outbox.key"  # absolute paths stay put
    assert load_config(environ={}).backend.db == "var/platform.sqlite"
