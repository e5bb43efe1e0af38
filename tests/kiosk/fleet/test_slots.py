"""Config slots: switched atomically, a partial or altered slot never used, a trial left by a
stop rolled back at start; and the loader's overlay layer between site file and environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config
from kiosk.fleet.changes import changed_keys, needs_idle
from kiosk.fleet.slots import ConfigSource, Layer, SlotStore
from tests.harness.peers import wait_until

ROOT = Path(__file__).resolve().parents[3]


def layer(version: int, timeout: float) -> Layer:
    return Layer("kiosk:k1", version, f"sha256:{version}",
                 {"session": {"inactivity_timeout_s": timeout}})


def source(tmp_path: Path, site: str = "") -> ConfigSource:
    path = None
    if site:
        path = tmp_path / "site.yaml"
        path.write_text(site, encoding="utf-8")
    return ConfigSource(path, "simulation", {"KIOSK__VAR_DIR": str(tmp_path / "var")})


def commit(store: SlotStore, layers: dict[str, Layer]) -> None:
    store.begin_trial(store.write(layers))
    store.commit()


def test_overlays_sit_between_site_file_and_environment(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text("printer: {queue: site}\nsession: {warning_s: 10}\n")
    cfg = load_config(site, environ={"KIOSK__PRINTER__QUEUE": "env"}, overlays=[
        {"printer": {"queue": "fleet"}, "session": {"warning_s": 11}},
        {"session": {"warning_s": 12}}])
    assert cfg.printer.queue == "env" and cfg.session.warning_s == 12
    with pytest.raises(ConfigError, match="session.inactivity_timeout_s"):
        load_config(site, environ={}, overlays=[{"session": {"inactivity_timeout_s": 1}}])


def test_commit_switches_and_boot_reads_the_committed_slot(tmp_path: Path) -> None:
    src = source(tmp_path)
    store = SlotStore(src.load().fleet.state_dir)
    commit(store, {"kiosk": layer(2, 120)})
    boot = src.boot()
    assert boot.config.session.inactivity_timeout_s == 120 and boot.notes == []
    commit(store, {"kiosk": layer(3, 130)})
    assert src.boot().config.session.inactivity_timeout_s == 130
    names = sorted(p.name for p in store.dir.iterdir())
    assert names == ["current.json", "slot-1.json", "slot-2.json"]  # committed and previous


def test_a_trial_left_by_a_stop_is_rolled_back_at_start(tmp_path: Path) -> None:
    src = source(tmp_path)
    store = SlotStore(src.load().fleet.state_dir)
    commit(store, {"kiosk": layer(2, 120)})
    store.begin_trial(store.write({"kiosk": layer(3, 130)}))
    boot = src.boot()
    assert boot.config.session.inactivity_timeout_s == 120
    assert boot.notes and boot.notes[0].startswith("rolled_back:")
    assert store.pointer()["trial"] is None


def test_an_altered_slot_is_not_used(tmp_path: Path) -> None:
    src = source(tmp_path)
    store = SlotStore(src.load().fleet.state_dir)
    commit(store, {"kiosk": layer(2, 120)})
    commit(store, {"kiosk": layer(3, 130)})
    current = store.dir / "slot-1.json"  # the previous one (v2)
    data = json.loads(current.read_text())
    data["layers"]["kiosk"]["overlay"]["session"]["inactivity_timeout_s"] = 999
    current.write_text(json.dumps(data))
    assert src.boot().config.session.inactivity_timeout_s == 130  # the one still intact
    (store.dir / "slot-2.json").write_bytes(b'{"layers": {"kiosk"')  # torn
    assert src.boot().config.session.inactivity_timeout_s == 90  # neither: the base


def test_committed_layers_that_no_longer_merge_fall_back_to_the_base(tmp_path: Path) -> None:
    src = source(tmp_path)
    store = SlotStore(src.load().fleet.state_dir)
    commit(store, {"kiosk": layer(2, 30)})
    changed = source(tmp_path, "session: {warning_s: 40}\n")  # the site file changed
    boot = changed.boot()
    assert boot.layers == {} and boot.config.session.inactivity_timeout_s == 90
    assert boot.notes[0].startswith("invalid_config:")


WRITER = """
import sys
from kiosk.fleet.slots import Layer, SlotStore
store = SlotStore(sys.argv[1])
big = {"notes": ["x" * 1000] * 200_000}
store.begin_trial(store.write({"kiosk": Layer("kiosk:k1", 9, "sha256:9", big)}))
store.commit()
"""


def test_a_kill_mid_write_leaves_the_old_slot(tmp_path: Path) -> None:
    src = source(tmp_path)
    state_dir = src.load().fleet.state_dir
    store = SlotStore(state_dir)
    commit(store, {"kiosk": layer(2, 120)})
    proc = subprocess.Popen([sys.executable, "-c", WRITER, state_dir], cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_until(lambda: any(p.name.endswith(".tmp") for p in store.dir.iterdir())
                   or proc.poll() is not None, 30, "slot writer")
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, "the writer finished before it was killed"
    assert store.pointer()["committed"] == "slot-1.json"
    assert src.boot().config.session.inactivity_timeout_s == 120
    commit(store, {"kiosk": layer(3, 130)})  # and the next write cleans the leftovers up
    assert not any(p.name.endswith(".tmp") for p in store.dir.iterdir())


def test_live_and_idle_settings(tmp_path: Path) -> None:
    base = load_config(None, environ={})
    live = load_config(None, environ={}, overlays=[{"session": {"inactivity_timeout_s": 120},
                                                    "ui": {"default_language": "en"}}])
    ports = load_config(None, environ={}, overlays=[{"printer": {"queue": "lobby"},
                                                     "session": {"warning_s": 10}}])
    assert changed_keys(base, live) == ["session.inactivity_timeout_s", "ui.default_language"]
    assert needs_idle(changed_keys(base, live)) == []
    assert needs_idle(changed_keys(base, ports)) == ["printer.queue"]
