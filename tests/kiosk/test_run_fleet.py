"""`kiosk run` with the fleet agent (issue 14): the scripted check against the real
`kiosk run --no-ui --profile simulation` process and a real mosquitto, remote commands on the
running core, live and restart-needing changes, and the hand-over of a trial to the next
process (resumed there; rolled back when that process dies in the window)."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from kiosk.appliance.notify import Notifier
from kiosk.appliance.service import ServiceLink
from kiosk.compose import running
from kiosk.config import load_config
from kiosk.core import KioskCore
from kiosk.diag.report import config_hash
from kiosk.fleet import keys, topics
from kiosk.fleet.agent import CommandFailed
from kiosk.fleet.changes import ConfigChange, changed_keys, needs_idle
from kiosk.fleet.commands import sign_command
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView
from kiosk.fleet.slots import ConfigSource, Layer, SlotStore
from kiosk.run import Runner
from kiosk.session.states import State
from screens.testing import sim_config
from screens.xvfb import Xvfb
from tests.harness.peers import Mosquitto, wait_until

ROOT = Path(__file__).resolve().parents[2]
WAIT = 60.0  # a kiosk process boots its simulators and cupsd on a loaded 2-core machine


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**env, "PYTHONPATH": str(ROOT)}, stdin=subprocess.DEVNULL)


def kiosk_env(tmp_path: Path, broker_url: str, keydir: Path, **extra: str) -> dict[str, str]:
    env = {"KIOSK__VAR_DIR": str(tmp_path / "var"), "KIOSK__KIOSK__ID": "k1",
           "KIOSK__FLEET__BROKER_URL": broker_url,
           "KIOSK__FLEET__TRUST_ROOT": str(keydir / "root.pub"),
           "KIOSK__FLEET__HEARTBEAT_S": "0.5", "KIOSK__FLEET__HEALTH_WINDOW_S": "1",
           "KIOSK__FLEET__HEALTH_PROBE_S": "0.1", "KIOSK__FLEET__IDLE_POLL_S": "0.1",
           "KIOSK__FLEET__RECONNECT_MIN_S": "0.1", "KIOSK__FLEET__RECONNECT_MAX_S": "1"}
    env.update({f"KIOSK__{k.upper()}": v for k, v in extra.items()})
    return env


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    folder = tmp_path / "broker"
    folder.mkdir()
    b = Mosquitto(folder).start()
    yield b
    b.stop()


@pytest.fixture
def keydir(tmp_path: Path) -> Path:
    made = cli("ops", "keygen", "--out", str(tmp_path / "keys"))
    assert made.returncode == 0, made.stderr
    return tmp_path / "keys"


@pytest.fixture
def view(broker: Mosquitto) -> Iterator[FleetView]:
    v = FleetView(BrokerSettings.from_url(broker.url), answers=True).open()
    yield v
    v.close()


@pytest.fixture
def kiosk_process(tmp_path: Path, broker: Mosquitto,
                  keydir: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(**extra: str) -> subprocess.Popen[bytes]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
        env.update(kiosk_env(tmp_path, broker.url, keydir, **extra), PYTHONPATH=str(ROOT))
        log = open(tmp_path / f"kiosk-{len(started)}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--no-ui",
                                 "--profile", "simulation"], cwd=tmp_path, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(30)


def reported(view: FleetView) -> dict[str, Any]:
    return view.reported.get("k1") or {}


def health(view: FleetView) -> dict[str, Any]:
    return reported(view).get("health") or {}


def sign(tmp_path: Path, keydir: Path, name: str, overlay: str, version: int,
         scope: str = "kiosk:k1") -> Path:
    src = tmp_path / f"{name}.yaml"
    src.write_text(overlay, encoding="utf-8")
    out = tmp_path / f"{name}.bundle"
    done = cli("ops", "sign", str(src), "--key", str(keydir / "signing.key"), "--version",
               str(version), "--expires", "1d", "--scope", scope, "-o", str(out))
    assert done.returncode == 0, done.stderr
    return out


def command(broker: Mosquitto, keydir: Path, name: str, *args: str) -> dict[str, Any]:
    done = cli("ops", "command", "k1", name, "--key", str(keydir / "signing.key"),
               "--broker", broker.url, "--timeout", "30", *args)
    answer: dict[str, Any] = json.loads(done.stdout)
    assert (done.returncode == 0) == bool(answer["ok"]), done.stderr
    return answer


def status_row(broker: Mosquitto) -> dict[str, Any]:
    done = cli("ops", "status", "--broker", broker.url, "--json")
    assert done.returncode == 0, done.stderr
    [row] = json.loads(done.stdout)
    return dict(row)


def test_the_scripted_check_against_a_running_kiosk(
        tmp_path: Path, broker: Mosquitto, keydir: Path, view: FleetView,
        kiosk_process: Callable[..., subprocess.Popen[bytes]]) -> None:
    proc = kiosk_process()
    assert view.wait_for(lambda v: v.status.get("k1") == "online"
                         and "verdict" in health(v), WAIT), (tmp_path / "kiosk-0.log") \
        .read_text(errors="replace")[-3000:]
    base = health(view)
    assert base["verdict"] in ("ready", "degraded") and base["out_of_service"] is False
    assert set(base["devices"]) == {"idcard", "qr", "camera", "printer"}
    assert base["devices"]["printer"]["paper"] == "ok" and base["session"] == "idle"

    # a bundle changing a live key: applied in the running core at once, reported with its
    # version; the configuration in force is the one the bundle makes
    b2 = sign(tmp_path, keydir, "b2", "session:\n  inactivity_timeout_s: 123\n", 2)
    pushed = cli("ops", "push", str(b2), "--broker", broker.url)
    assert pushed.returncode == 0, pushed.stderr
    want = config_hash(load_config(profile="simulation", environ=kiosk_env(
        tmp_path, broker.url, keydir), overlays=[{"session": {"inactivity_timeout_s": 123}}]))
    assert view.wait_for(lambda v: reported(v).get("applied_version") == 2
                         and health(v).get("config_hash") == want, WAIT), reported(view)
    row = status_row(broker)
    assert (row["kiosk_id"], row["online"], row["applied_version"], row["last_rejection"]) \
        == ("k1", True, 2, None)
    assert row["health"]["config_hash"] == want
    assert reported(view)["last_outcome"]["result"] == "applied"
    assert health(view)["restart_pending"] is None  # live: no restart
    assert proc.poll() is None

    # a tampered bundle is refused with its reason; version 2 stays in force
    doc = json.loads(sign(tmp_path, keydir, "b3", "session:\n  warning_s: 11\n", 3)
                     .read_bytes())
    doc["body"]["overlay"]["session"]["warning_s"] = 12
    tampered = tmp_path / "b3-tampered.bundle"
    tampered.write_text(json.dumps(doc, separators=(",", ":"), sort_keys=True))
    assert cli("ops", "push", str(tampered), "--broker", broker.url).returncode == 0
    assert view.wait_for(lambda v: (reported(v).get("last_rejection") or {})
                         .get("reason") == "bad_signature", WAIT), reported(view)
    row = status_row(broker)
    assert row["last_rejection"] == {"version": 3, "reason": "bad_signature"}
    assert row["applied_version"] == 2 and row["health"]["config_hash"] == want


def test_without_a_service_manager_the_kiosk_restarts_in_place(
        tmp_path: Path, broker: Mosquitto, keydir: Path, view: FleetView,
        kiosk_process: Callable[..., subprocess.Popen[bytes]]) -> None:
    proc = kiosk_process()
    assert view.wait_for(lambda v: "verdict" in health(v), WAIT)
    b1 = sign(tmp_path, keydir, "b1", "attract:\n  notice_rotate_s: 9\n", 1)
    assert cli("ops", "push", str(b1), "--broker", broker.url).returncode == 0
    want = config_hash(load_config(profile="simulation", environ=kiosk_env(
        tmp_path, broker.url, keydir), overlays=[{"attract": {"notice_rotate_s": 9}}]))
    assert view.wait_for(lambda v: reported(v).get("applied_version") == 1
                         and health(v).get("config_hash") == want, WAIT), reported(view)
    assert reported(view)["last_outcome"]["result"] == "applied"
    log = (tmp_path / "kiosk-0.log").read_text(errors="replace")
    assert "restarting in place (config)" in log and log.count(": ready (") == 2
    assert proc.poll() is None  # the same process (pid), executed again


def test_commands_on_the_running_kiosk(
        tmp_path: Path, broker: Mosquitto, keydir: Path, view: FleetView,
        kiosk_process: Callable[..., subprocess.Popen[bytes]]) -> None:
    kiosk_process()
    assert view.wait_for(lambda v: "verdict" in health(v), WAIT)

    off = command(broker, keydir, "out_of_service", "--arg", "note=replacing the printer")
    assert off["result"]["out_of_service"] is True
    assert view.wait_for(lambda v: health(v).get("out_of_service") is True, WAIT)
    assert health(view)["verdict"] == "out_of_service"
    assert "operator" in health(view)["out_of_service_reasons"]
    back = command(broker, keydir, "back_in_service")
    assert back["result"]["out_of_service"] is False
    assert view.wait_for(lambda v: health(v).get("out_of_service") is False, WAIT)
    assert health(view)["verdict"] in ("ready", "degraded")

    report = command(broker, keydir, "run_diagnostics")["result"]
    assert report["kiosk_id"] == "k1" and report["level"] == "internal"
    names = {d["name"] for d in report["devices"]}
    assert names == {"idcard", "qr", "camera", "printer"}  # not **REDACTED**

    logs = command(broker, keydir, "collect_logs", "--arg", "lines=50")["result"]["lines"]
    assert 0 < len(logs) <= 50 and any("kiosk" in line for line in logs)

    shot = command(broker, keydir, "screenshot")
    assert (shot["ok"], shot["code"]) == (False, "unsupported")  # no UI in --no-ui


def test_a_screenshot_of_the_touchscreen(
        tmp_path: Path, broker: Mosquitto, keydir: Path, view: FleetView) -> None:
    (tmp_path / "ui").mkdir()
    sim_config(tmp_path / "ui", 540, 960)  # a small window; the state in tmp_path/ui
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    env.update(kiosk_env(tmp_path, broker.url, keydir), PYTHONPATH=str(ROOT))
    del env["KIOSK__VAR_DIR"]
    with Xvfb(540, 960) as x, open(tmp_path / "ui.log", "wb") as log:
        env["DISPLAY"] = str(x.display)
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "run", "--config",
                                 str(tmp_path / "ui" / "site.yaml"), "--profile",
                                 "simulation"], cwd=tmp_path, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            assert view.wait_for(lambda v: health(v).get("ready") is True, WAIT), \
                (tmp_path / "ui.log").read_text(errors="replace")[-3000:]
            answer = command(broker, keydir, "screenshot")
        finally:
            proc.terminate()
            proc.wait(60)
    assert answer["ok"], answer
    png = base64.b64decode(answer["result"]["png"])
    (tmp_path / "screenshot.png").write_bytes(png)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (540, 960)
        assert len(set(image.convert("L").getdata())) > 10  # the attract screen, not black
    assert proc.returncode == 0


@pytest.fixture
def core(make_config: Callable[..., Any]) -> Iterator[KioskCore]:
    with running(make_config()) as kiosk:
        yield kiosk


def change(old: Any, new: Any) -> ConfigChange:
    keys_ = changed_keys(old, new)
    return ConfigChange(new, old, tuple(keys_), bool(needs_idle(keys_)))


def test_out_of_service_refuses_new_journeys_and_survives_a_restart(
        make_config: Callable[..., Any]) -> None:
    cfg = make_config()
    with running(cfg) as core:
        answer = core.remote_command("out_of_service", {"note": "repair"})
        assert answer["out_of_service"] and "operator" in answer["reasons"]
        assert core.out_of_service and core.refusal() == "out_of_service"
        assert not core.journey.start_session()  # refused by the session machine
        assert core.session.state is State.ATTRACT
    # the operator's flag is kept on disk: the restarted kiosk stays out of service
    with running(cfg) as core:
        assert core.out_of_service and not core.journey.start_session()
        assert core.remote_command("back_in_service", {})["out_of_service"] is False
        assert core.journey.start_session() and core.session_active()
        with pytest.raises(CommandFailed) as refused:
            core.remote_command("screenshot", {})
        assert refused.value.code == "busy"
    with running(cfg) as core:
        assert not core.out_of_service


def test_a_live_change_takes_effect_in_the_running_core(
        core: KioskCore, make_config: Callable[..., Any]) -> None:
    new = make_config(session__inactivity_timeout_s="45", session__warning_s="9")
    result = core.apply_config(change(core.cfg, new))
    assert result.ok and not result.restart
    assert core.session.policy.timeout_s == 45 and core.session.policy.warning_s == 9
    assert core.journey.cfg is new and core.cfg is new
    assert core.restart_requested is None and core.journey.start_session()


def test_a_change_needing_new_devices_restarts_between_sessions(
        core: KioskCore, make_config: Callable[..., Any]) -> None:
    new = make_config(attract__notice_rotate_s="9")
    result = core.apply_config(change(core.cfg, new))
    assert result.ok and result.restart
    assert core.restart_requested == "config" and core.restart_wanted.is_set()
    assert core.refusal() == "restarting" and not core.journey.start_session()
    assert core.health_summary()["restart_pending"] == "config"


def test_a_critical_device_fault_is_a_problem_and_takes_the_kiosk_out_of_service(
        make_config: Callable[..., Any]) -> None:
    with running(make_config(service__critical_devices="[idcard, qr]")) as core:
        sim = core.simulation
        assert sim is not None
        assert "qr.no_device" not in core.current_problems()
        sim.call("qr", "fault", kind="unplug")
        wait_until(lambda: "qr.no_device" in core.current_problems(), WAIT, "scanner gone")
        core.tick()
        summary = core.health_summary()
        assert summary["verdict"] == "out_of_service"
        assert summary["out_of_service_reasons"] == ["device:qr"]
        assert summary["devices"]["qr"]["status"] == "no_device"
        assert json.loads(json.dumps(summary)) == summary  # JSON-able as reported
        assert not core.journey.start_session()
        sim.call("qr", "fault", kind="replug")
        wait_until(lambda: "qr.no_device" not in core.current_problems(), WAIT, "scanner back")
        core.tick()
        assert not core.out_of_service and core.journey.start_session()  # auto_return


def layer(version: int, rotate: float) -> Layer:
    return Layer("kiosk:k1", version, f"sha256:{version}",
                 {"attract": {"notice_rotate_s": rotate}}, 1.0)


def test_a_handed_over_trial_is_resumed_once_then_rolled_back(tmp_path: Path) -> None:
    src = ConfigSource(None, "simulation", {"KIOSK__VAR_DIR": str(tmp_path / "var")})
    store = SlotStore(src.load().fleet.state_dir)
    store.begin_trial(store.write({"kiosk": layer(1, 9)}))
    store.commit()
    store.begin_trial(store.write({"kiosk": layer(2, 11)}))
    store.hand_over(12.5, ["camera.offline"])
    # the restarted process: boots on the trial, told what to resume
    boot = src.boot()
    assert boot.resumed is not None and boot.notes == []
    assert boot.config.attract.notice_rotate_s == 11
    assert boot.resumed.previous_config.attract.notice_rotate_s == 9
    assert boot.resumed.resume.remaining_s == 12.5
    assert boot.resumed.resume.baseline == ("camera.offline",)
    assert not store.resume_path.exists()  # taken before the trial runs
    # that process died during the window: the next start rolls the trial back
    again = src.boot()
    assert again.resumed is None and again.config.attract.notice_rotate_s == 9
    assert again.notes and again.notes[0].startswith("rolled_back:")
    assert store.pointer()["trial"] is None


def test_a_hand_over_of_another_trial_is_not_resumed(tmp_path: Path) -> None:
    src = ConfigSource(None, "simulation", {"KIOSK__VAR_DIR": str(tmp_path / "var")})
    store = SlotStore(src.load().fleet.state_dir)
    store.begin_trial(store.write({"kiosk": layer(1, 9)}))
    store.hand_over(5, [])
    store.rollback()  # a rollback drops the hand-over with the trial
    assert not store.resume_path.exists()
    store.begin_trial(store.write({"kiosk": layer(2, 11)}))
    store.resume_path.write_text('{"trial":"slot-99.json","remaining_s":5,"baseline":[]}')
    boot = src.boot()
    assert boot.resumed is None and boot.config.attract.notice_rotate_s == 8


def test_the_agent_keeps_device_names_in_a_diagnostics_result(
        tmp_path: Path, broker: Mosquitto, keydir: Path, view: FleetView,
        core: KioskCore) -> None:
    from kiosk.fleet.agent import FleetAgent, KioskHooks

    env = kiosk_env(tmp_path, broker.url, keydir, var_dir=str(tmp_path / "agent"))
    source = ConfigSource(None, "simulation", env)
    agent = FleetAgent(source, source.boot(), KioskHooks(
        health=core.health_summary, apply=core.apply_config, busy=core.session_active,
        command=lambda name, args: {"devices": [{"name": "printer", "status": "online"},
                                                {"name": "王小明", "status": "x"}],
                                    "checks": [{"name": "camera", "ok": True}],
                                    "holder": {"name": "王小明"}},
        problems=core.current_problems))
    agent.start()
    try:
        assert agent.link.subscribed.wait(WAIT)
        signer = keys.load_signing_key(keydir / "signing.key")
        envelope = sign_command(signer, "k1", "run_diagnostics")
        nonce = json.loads(envelope)["body"]["nonce"]
        view.publish(topics.cmd("k1"), envelope, retain=False)
        assert view.wait_for(lambda v: nonce in v.answers, WAIT)
        result = view.answers[nonce]["result"]
    finally:
        agent.stop()
    assert [d["name"] for d in result["devices"]] == ["printer", "**REDACTED**"]
    assert result["checks"][0]["name"] == "camera"
    assert result["holder"]["name"] == "**REDACTED**"


def test_the_nightly_restart_waits_for_an_idle_moment(make_config: Callable[..., Any]) -> None:
    tz = dt.timezone(dt.timedelta(hours=8))
    now = [dt.datetime(2025, 6, 2, 10, 0, tzinfo=tz)]
    with running(make_config(appliance__nightly_restart="03:30")) as core:
        runner = Runner(core, ServiceLink(Notifier({})), threading.Event(),
                        clock=lambda: now[0])
        runner.tick()
        assert core.restart_requested is None and not runner.stop.is_set()
        assert core.journey.start_session()  # a citizen at the kiosk at 03:30
        now[0] = dt.datetime(2025, 6, 3, 3, 31, tzinfo=tz)
        runner.tick()
        assert core.restart_requested == "nightly" and not runner.stop.is_set()
        assert core.journey.cancel()  # the citizen leaves
        runner.tick()
        assert runner.stop.is_set() and runner.restart == "nightly"


def test_a_dead_worker_holds_the_watchdog(make_config: Callable[..., Any]) -> None:
    with running(make_config()) as core:
        link = ServiceLink(Notifier({}))
        runner = Runner(core, link, threading.Event())
        runner.start()
        names = link.liveness.names()
        assert {"session-tick", "thread:outbox", "thread:idcard-poll", "thread:qr-reader",
                "thread:printer-poll", "thread:camera-grab"} <= set(names)
        runner.ready()
        core.tick()
        runner.tick()
        assert link.is_ready and link.watchdog.held == []
        assert core.outbox is not None
        core.outbox.stop()  # its delivery thread ends: a dead worker
        runner.tick()
        assert link.watchdog.held == ["thread:outbox"]
