"""The maintenance screen's actions over SSH: ``kiosk diag test`` (a guided test per device on
the simulated devices, kept as the device's last test), ``kiosk diag counters`` (show,
reset) and ``kiosk diag service out|in|status`` (the flag the running kiosk and the core
follow, kept across restarts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

from kiosk.cli import main
from kiosk.diag.counters import CounterStore
from kiosk.diag.flag import FlagFile
from tests.kiosk.diag.maint_kiosk import Rig, kiosk_environ, rig

ID_NUMBER = "440605195803121228"  # a demo citizen's: never in a note


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    out = CliRunner().invoke(main, ["diag", *args], env=env)
    assert "Traceback" not in out.output, out.output
    return out.exit_code, out.output


def test_guided_tests_from_the_command_line(tmp_path: Path) -> None:
    env = kiosk_environ(tmp_path / "var")
    code, text = _cli(env, "test", "printer", "--level", "interactive", "--profile",
                      "simulation", "--json")
    assert code == 0, text
    printed = json.loads(text)
    assert printed["ok"] and printed["result"] == "mt_print_ok"
    code, text = _cli(env, "test", "idcard", "--level", "interactive", "--timeout", "1",
                      "--profile", "simulation", "--json")
    assert code == 1 and json.loads(text)["result"] == "mt_card_none"  # no card placed
    code, text = _cli(env, "test", "camera", "--profile", "simulation", "--json")
    assert code == 0 and json.loads(text)["test"] == "check_external"
    code, text = _cli(env, "counters", "--profile", "simulation", "--json")
    assert code == 0
    shown = json.loads(text)
    assert shown["last_test"]["printer"]["test"] == "print_test_page"
    assert shown["last_test"]["printer"]["ok"] is True
    assert shown["last_test"]["idcard"]["ok"] is False
    with CounterStore.in_var_dir(tmp_path / "var") as store:
        assert store.last_test_print("printer") is not None  # the report's test print too


def test_counters_show_and_reset(tmp_path: Path) -> None:
    env = kiosk_environ(tmp_path / "var")
    with CounterStore.in_var_dir(tmp_path / "var") as store:
        store.bump("printer", "jams", 2)
        store.bump("kiosk", "sessions", 7)
        store.record_error("printer", "hardware_error", "printer.jam")
    code, text = _cli(env, "counters", "--profile", "simulation")
    assert code == 0 and "kiosk: sessions 7" in text and "printer: errors 1, jams 2" in text
    assert "error" in text and "printer.jam" in text
    code, text = _cli(env, "counters", "--reset", "--device", "printer", "--profile",
                      "simulation", "--json")
    data = json.loads(text)
    assert data["removed"] == 2 and data["counters"] == {"printer": {}}  # jams, errors
    assert data["last_errors"]["printer"] == []
    code, text = _cli(env, "counters", "--profile", "simulation", "--json")
    assert json.loads(text)["counters"]["kiosk"] == {"sessions": 7}


def test_the_flag_over_ssh_redacted_and_kept_across_a_restart(tmp_path: Path) -> None:
    var = tmp_path / "var"
    env = kiosk_environ(var)
    code, text = _cli(env, "service", "out", "--note", f"reader swap for {ID_NUMBER}",
                      "--profile", "simulation", "--json")
    assert code == 0
    data = json.loads(text)
    assert data["out_of_service"] and data["by"] == "technician" and data["via"] == "cli"
    assert ID_NUMBER not in text and ID_NUMBER not in (var / "service-flag.json").read_text()
    runs: Iterator[Rig] = rig(var)
    kiosk = next(runs)  # a kiosk starting with the flag set: out of service at once
    try:
        assert kiosk.core.out_of_service and kiosk.gate.status().mode == "out_of_service"
        assert kiosk.gate.status().flag.via == "cli"
    finally:
        next(runs, None)
    code, text = _cli(env, "service", "in", "--profile", "simulation")
    assert code == 0 and "no out-of-service flag" in text
    assert FlagFile(var).read() is None
    code, text = _cli(env, "service", "status", "--profile", "simulation", "--json")
    assert json.loads(text) == {"out_of_service": False}


def test_a_bad_config_is_exit_2_with_the_key(tmp_path: Path) -> None:
    env = {**kiosk_environ(tmp_path / "var"), "KIOSK__SERVICE__AUTO_RETURN": "perhaps"}
    code, text = _cli(env, "service", "status", "--profile", "simulation")
    assert code == 2 and "service.auto_return" in text
