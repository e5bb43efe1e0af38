"""`kiosk ops` as operators script it (keygen, sign, push, status --json, command), its exit
codes, and staged rollouts that stop with the reason and resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from kiosk.fleet import keys, topics
from kiosk.fleet.ops import FleetView
from kiosk.fleet.rollout import batch_size, rollout
from tests.harness.peers import Mosquitto, free_port
from tests.kiosk.fleet.conftest import WAIT, Kiosk, StandIn, bundle, rep, wait_applied

ROOT = Path(__file__).resolve().parents[3]
MakeKiosk = Callable[..., Kiosk]


def ops(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")}
    return subprocess.run([sys.executable, "-m", "kiosk.cli", "ops", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout,
                          env={**env, "PYTHONPATH": str(ROOT)})


def test_the_scripted_check(tmp_path: Path, broker: Mosquitto, make_kiosk: MakeKiosk,
                            view: FleetView) -> None:
    keydir = tmp_path / "cli-keys"
    made = ops("keygen", "--out", str(keydir))
    assert made.returncode == 0, made.stderr
    k = make_kiosk(fleet__trust_root=str(keydir / "root.pub"))
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("session:\n  inactivity_timeout_s: 120\n", encoding="utf-8")
    b2 = tmp_path / "b2.bundle"
    signed = ops("sign", str(overlay), "--key", str(keydir / "signing.key"), "--version", "2",
                 "--expires", "1d", "--scope", "kiosk:k1", "-o", str(b2))
    assert signed.returncode == 0, signed.stderr
    pushed = ops("push", str(b2), "--broker", broker.url)
    assert pushed.returncode == 0 and "kiosk/k1/config/desired" in pushed.stdout
    wait_applied(view, 2)
    status = ops("status", "--broker", broker.url, "--json")
    assert status.returncode == 0, status.stderr
    [row] = json.loads(status.stdout)
    assert (row["kiosk_id"], row["online"], row["applied_version"], row["last_rejection"]) \
        == ("k1", True, 2, None)
    assert row["health"]["verdict"] == "ok" and row["last_heartbeat"] > 0
    assert k.agent.in_force.session.inactivity_timeout_s == 120
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    b3 = tmp_path / "b3.bundle"
    assert ops("sign", str(empty), "--key", str(keydir / "signing.key"), "--version", "3",
               "--expires", "1d", "--scope", "kiosk:k2", "-o", str(b3)).returncode == 0
    view.publish(topics.kiosk_desired("k1"), b3.read_bytes(), retain=True)  # misdirected
    assert view.wait_for(lambda v: rep(v).get("last_rejection") is not None, WAIT)
    [row] = json.loads(ops("status", "--broker", broker.url, "--json").stdout)
    assert row["last_rejection"] == {"version": 3, "reason": "wrong_scope"}
    assert row["applied_version"] == 2
    text = ops("status", "--broker", broker.url, "--group", "g1")
    assert text.returncode == 0 and "k1" in text.stdout and "v2" in text.stdout
    assert json.loads(ops("status", "--broker", broker.url, "--group", "nope",
                          "--json").stdout) == []


def test_command_from_the_cli(keydir: Path, broker: Mosquitto, make_kiosk: MakeKiosk) -> None:
    k = make_kiosk()
    assert k.agent.link.subscribed.wait(WAIT)
    done = ops("command", "k1", "out_of_service", "--key", str(keydir / "signing.key"),
               "--arg", "reason=repair", "--broker", broker.url)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["ok"] and k.standin.out_of_service
    silent = ops("command", "k9", "screenshot", "--key", str(keydir / "signing.key"),
                 "--broker", broker.url, "--timeout", "0.5")
    assert silent.returncode == 1 and json.loads(silent.stdout)["code"] == "no_answer"


def test_operator_mistakes_exit_2_naming_the_key(tmp_path: Path, keydir: Path) -> None:
    key = str(keydir / "signing.key")
    overlay = tmp_path / "o.yaml"

    def sign(text: str, *extra: str) -> subprocess.CompletedProcess[str]:
        overlay.write_text(text, encoding="utf-8")
        return ops("sign", str(overlay), "--key", key, "--version", "2", "--expires", "7d",
                   "--scope", "fleet", "-o", str(tmp_path / "b"), *extra)

    for text, extra, where in [
        ("printer: {queu: lobby}\n", (), "printer.queu"),
        ("session: {inactivity_timeout_s: 1}\n", (), "session.inactivity_timeout_s"),
        ("kiosk: {id: k9}\n", (), "kiosk.id"),
        ("policy: {allow_unsafe: {}}\n", (), "policy"),
        ("a: [1\n", (), "not valid YAML"),
        ("{}\n", ("--expires", "soon"), "--expires"),
        ("{}\n", ("--scope", "kiosk:"), "--scope"),
        ("{}\n", ("--expires", "400d"), "outlive"),
    ]:
        proc = sign(text, *extra)
        assert proc.returncode == 2, (text, proc.stderr)
        assert where in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert sign("printer: {queu: lobby}\n", "--no-check").returncode == 0
    again = ops("keygen", "--out", str(keydir))
    assert again.returncode == 2 and "never overwritten" in again.stderr
    overlay.write_text("{}\n", encoding="utf-8")
    bad_key = ops("sign", str(overlay), "--key", str(keydir / "root.pub"), "--version", "2",
                  "--expires", "7d", "--scope", "fleet", "-o", str(tmp_path / "b"))
    assert bad_key.returncode == 2 and "root.pub" in bad_key.stderr
    for args in (["push", str(tmp_path / "b"), "--broker", "http://x"],
                 ["status", "--broker", f"mqtt://127.0.0.1:{free_port()}", "--connect-timeout",
                  "1"],
                 ["push", str(overlay), "--broker", "mqtt://127.0.0.1:1"]):
        proc = ops(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert "--broker" in proc.stderr or "BUNDLE" in proc.stderr, proc.stderr


def test_rotation_with_certify(tmp_path: Path, keydir: Path) -> None:
    out = tmp_path / "signing2.key"
    proc = ops("certify", "--root", str(keydir / "root.key"), "--out", str(out), "--valid",
               "30d", "--purpose", "command")
    assert proc.returncode == 0, proc.stderr
    key = keys.load_signing_key(out)
    assert key.cert["body"]["purposes"] == ["command"]


# -- rollouts ------------------------------------------------------------------------------
def group_of_four(make_kiosk: MakeKiosk, view: FleetView,
                  standins: dict[str, StandIn] | None = None) -> dict[str, Kiosk]:
    standins = standins or {}
    kiosks = {k: make_kiosk(k, "g1", standin=standins.get(k)) for k in ("k1", "k2", "k3", "k4")}
    kiosks["k5"] = make_kiosk("k5", "g2")
    assert view.wait_for(lambda v: len(v.reported) == 5, WAIT)
    return kiosks


def test_batch_sizes() -> None:
    assert [batch_size("10%", n) for n in (1, 9, 10, 11, 600)] == [1, 1, 1, 2, 60]
    assert batch_size("5", 600) == 5


def test_a_rollout_goes_batch_by_batch_to_the_group(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    kiosks = group_of_four(make_kiosk, view)
    events: list[dict[str, object]] = []
    result = rollout(view, bundle(signer, 7, "group:g1"), "g1", "50%", 0, WAIT, events.append)
    assert result.status == "completed" and result.batches == 2
    assert result.applied == ["k1", "k2", "k3", "k4"] and result.failed == {}
    assert [e["kiosks"] for e in events if e["event"] == "batch"] == [["k1", "k2"],
                                                                      ["k3", "k4"]]
    for k in ("k1", "k2", "k3", "k4"):
        assert kiosks[k].agent.in_force.session.inactivity_timeout_s == 107
        assert len(kiosks[k].standin.changes) == 1  # the final group publish is not re-applied
    assert kiosks["k5"].standin.changes == []
    view.sync()
    assert rep(view, "k1")["last_rejection"] is None
    late = make_kiosk("k6", "g1")  # installed later: finds the bundle on the group topic
    wait_applied(view, 7, "k6", "group")
    assert late.agent.in_force.session.inactivity_timeout_s == 107


def test_a_rollout_stops_on_failures_and_resumes(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey, broker: Mosquitto,
        tmp_path: Path) -> None:
    standins = {"k2": StandIn(breaks_on_queue="lobby")}
    kiosks = group_of_four(make_kiosk, view, standins)
    kiosks["k4"].agent.stop()  # k4 reported once, then went offline
    b8 = bundle(signer, 8, "group:g1", {"printer": {"queue": "lobby"}})
    stopped = rollout(view, b8, "g1", "2", 0, WAIT)
    assert stopped.status == "stopped" and stopped.batches == 1
    assert stopped.reason == "1 failures, more than --max-failures 0"
    assert stopped.failed["k2"].startswith("rolled_back (health_window: printer.paper_out")
    assert stopped.applied == ["k1"] and stopped.not_started == ["k3", "k4"]
    assert kiosks["k3"].standin.changes == []
    allowed = rollout(view, b8, "g1", "2", 1, 3.0)  # resumed, one failure tolerated
    assert allowed.skipped == ["k1"] and allowed.applied == ["k3"]
    assert allowed.failed["k2"].startswith("rolled_back")  # at once: it refused v8 already
    assert allowed.failed["k4"].startswith("no_report") and allowed.status == "stopped"
    assert view.wait_for(lambda v: v.status.get("k4") == "offline", WAIT)
    again = make_kiosk("k4", "g1")  # back; its staged copy was withdrawn
    assert again.agent.sync(WAIT) and again.standin.changes == []
    bundle_file = tmp_path / "b8.bundle"
    bundle_file.write_bytes(b8)
    resumed = ops("rollout", str(bundle_file), "--group", "g1", "--batch", "50%",
                  "--max-failures", "1", "--timeout", "15s", "--broker", broker.url, "--json")
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout.strip().splitlines()[-1])
    assert result["status"] == "completed" and result["skipped"] == ["k1", "k3"]
    assert result["applied"] == ["k4"] and list(result["failed"]) == ["k2"]
    assert again.agent.in_force.printer.queue == "lobby"
