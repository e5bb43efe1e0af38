"""Remote commands through a real mosquitto: answered on kiosk/<id>/cmd/result and audited;
bad signatures, expired, replayed, wrong-kiosk and untrusted envelopes refused; the screenshot
and the restart wait for the citizen session to end; logs and diagnostics redacted."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.fleet import keys, topics
from kiosk.fleet.canonical import canonical
from kiosk.fleet.commands import sign_command
from kiosk.fleet.ops import FleetView
from tests.kiosk.fleet.conftest import WAIT, Kiosk, StandIn

MakeKiosk = Callable[..., Kiosk]


def send(view: FleetView, envelope: bytes, kiosk_id: str = "k1") -> dict[str, Any]:
    nonce = json.loads(envelope)["body"]["nonce"]
    before = {n for n, a in view.answers.items() if a.get("status") != "scheduled"}
    view.publish(topics.cmd(kiosk_id), envelope, retain=False)
    assert view.wait_for(lambda v: nonce in v.answers and nonce not in before, WAIT)
    return view.answers[nonce]


def ready(view: FleetView, kiosk: Kiosk) -> None:
    assert kiosk.agent.link.subscribed.wait(WAIT)


def test_out_of_service_and_back(make_kiosk: MakeKiosk, view: FleetView,
                                 signer: keys.SigningKey) -> None:
    k = make_kiosk()
    ready(view, k)
    answer = send(view, sign_command(signer, "k1", "out_of_service", {"reason": "repair"}))
    assert answer["ok"] and answer["status"] == "done" and answer["command"] == "out_of_service"
    assert k.standin.out_of_service and k.standin.commands == [("out_of_service",
                                                                {"reason": "repair"})]
    assert send(view, sign_command(signer, "k1", "back_in_service"))["ok"]
    assert not k.standin.out_of_service
    outcomes = [(e, o, d["command"]) for e, o, d in k.standin.audits if e == "fleet.command"]
    assert outcomes == [("fleet.command", "done", "out_of_service"),
                        ("fleet.command", "done", "back_in_service")]


def test_bad_expired_replayed_and_misdirected_commands_are_refused(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey,
        tmp_path: Path) -> None:
    k = make_kiosk()
    ready(view, k)
    doc = json.loads(sign_command(signer, "k1", "out_of_service"))
    doc["body"]["args"] = {"reason": "forged"}
    assert send(view, canonical(doc))["code"] == "bad_signature"
    stale = sign_command(signer, "k1", "out_of_service", ttl_s=60, now=time.time() - 120)
    assert send(view, stale)["code"] == "expired"
    assert send(view, sign_command(signer, "k2", "out_of_service"))["code"] == "wrong_scope"
    keys.keygen(tmp_path / "stranger", 86400)
    stranger = keys.load_signing_key(tmp_path / "stranger" / "signing.key")
    assert send(view, sign_command(stranger, "k1", "out_of_service"))["code"] \
        == "untrusted_key"
    good = sign_command(signer, "k1", "run_diagnostics")
    assert send(view, good)["ok"]
    nonce = json.loads(good)["body"]["nonce"]
    view.answers.pop(nonce)
    replay = send(view, good)
    assert replay["code"] == "replayed" and not replay["ok"]
    assert [name for name, _ in k.standin.commands] == ["run_diagnostics"]
    refused = [o for e, o, _ in k.standin.audits if e == "fleet.command"]
    assert refused == ["bad_signature", "expired", "wrong_scope", "untrusted_key", "done",
                       "replayed"]


def test_a_replay_after_a_restart_is_refused(make_kiosk: MakeKiosk, view: FleetView,
                                             signer: keys.SigningKey) -> None:
    first = make_kiosk()
    ready(view, first)
    envelope = sign_command(signer, "k1", "out_of_service")
    assert send(view, envelope)["ok"]
    first.agent.stop()
    again = make_kiosk()
    ready(view, again)
    view.answers.clear()
    assert send(view, envelope)["code"] == "replayed"
    assert again.standin.commands == []


def test_screenshot_is_refused_while_a_citizen_is_served(
        make_kiosk: MakeKiosk, view: FleetView, signer: keys.SigningKey) -> None:
    standin = StandIn()
    standin.session.set()
    k = make_kiosk(standin=standin)
    ready(view, k)
    answer = send(view, sign_command(signer, "k1", "screenshot"))
    assert (answer["ok"], answer["code"]) == (False, "busy") and standin.commands == []
    standin.session.clear()
    answer = send(view, sign_command(signer, "k1", "screenshot"))
    assert answer["ok"] and answer["result"]["png"] == "iVBORw0KGgo"


def test_restart_waits_for_the_session_to_end(make_kiosk: MakeKiosk, view: FleetView,
                                              signer: keys.SigningKey) -> None:
    standin = StandIn()
    standin.session.set()
    k = make_kiosk(standin=standin)
    ready(view, k)
    envelope = sign_command(signer, "k1", "restart_when_idle")
    nonce = json.loads(envelope)["body"]["nonce"]
    view.publish(topics.cmd("k1"), envelope, retain=False)
    assert view.wait_for(lambda v: v.answers.get(nonce, {}).get("status") == "scheduled", WAIT)
    assert k.agent.sync(WAIT) and standin.commands == []
    standin.session.clear()
    k.agent.wake()
    assert view.wait_for(lambda v: v.answers.get(nonce, {}).get("status") == "done", WAIT)
    assert standin.commands == [("restart_when_idle", {})]


def test_logs_and_diagnostics_are_redacted(make_kiosk: MakeKiosk, view: FleetView,
                                           signer: keys.SigningKey) -> None:
    standin = StandIn(log_lines=["identity check for 440106199003071234 ok",
                                 "printer: paper low"])
    k = make_kiosk(standin=standin)
    ready(view, k)
    answer = send(view, sign_command(signer, "k1", "collect_logs"))
    assert answer["result"]["lines"] == ["identity check for **ID** ok", "printer: paper low"]
    failed = send(view, sign_command(signer, "k1", "run_diagnostics", {"fail": "1"}))
    assert (failed["ok"], failed["code"], failed["detail"]) == (
        False, "failed", "diagnostics could not run")
