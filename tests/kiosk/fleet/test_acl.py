"""Broker security with the ACL and password file `kiosk ops acl` generates, on a real
mosquitto that refuses anonymous clients: kiosk A cannot publish B's reported state or read
B's commands, reads only its own, its group's and the fleet's desired documents, and the agent
works through it with its own account."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kiosk.fleet import keys, topics
from kiosk.fleet.agent import FleetAgent
from kiosk.fleet.commands import sign_command
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.mqtt import BrokerSettings, MqttLink
from kiosk.fleet.ops import FleetView
from kiosk.fleet.slots import ConfigSource
from tests.harness.peers import Mosquitto
from tests.kiosk.fleet.conftest import WAIT, StandIn, bundle, kiosk_env, wait_applied

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Secured:
    broker: Mosquitto
    creds: Path
    acl: Path

    def settings(self, account: str) -> BrokerSettings:
        return BrokerSettings.from_url(self.broker.url,
                                       credentials_file=str(self.creds / f"{account}.json"))


@pytest.fixture
def secured(tmp_path: Path) -> Iterator[Secured]:
    acl, pw, creds = tmp_path / "acl", tmp_path / "passwd", tmp_path / "creds"
    proc = subprocess.run(
        [sys.executable, "-m", "kiosk.cli", "ops", "acl", "--kiosks", "k1,k2,k3",
         "--groups", "g1=k1,k2", "--groups", "g2=k3", "--operator", "ops1", "-o", str(acl),
         "--password-file", str(pw), "--credentials-dir", str(creds)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    assert (creds / "k1.json").stat().st_mode & 0o777 == 0o600
    assert "k1:" in pw.read_text() and json.loads((creds / "k1.json").read_text())[
        "password"] not in pw.read_text()  # hashed
    folder = tmp_path / "broker"
    folder.mkdir()
    broker = Mosquitto(folder, anonymous=False,
                       config=f"acl_file {acl}\npassword_file {pw}\n").start()
    yield Secured(broker, creds, acl)
    broker.stop()


class Client:
    """A plain client on one account that records what it receives."""

    def __init__(self, settings: BrokerSettings, name: str, subs: list[str]) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.cond = threading.Condition()
        self.link = MqttLink(settings, name, on_message=self._msg,
                             subscriptions=[(t, 1) for t in subs])
        self.link.start()
        assert self.link.subscribed.wait(WAIT)

    def _msg(self, topic: str, payload: bytes, _retained: bool) -> None:
        with self.cond:
            self.got.append((topic, payload))
            self.cond.notify_all()

    def wait(self, topic: str) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: any(t == topic for t, _ in self.got), WAIT)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        info = self.link.publish(topic, payload, qos=1, retain=retain)
        assert info is not None
        info.wait_for_publish(WAIT)

    def close(self) -> None:
        self.link.stop()


def test_kiosk_a_cannot_publish_b_reported_state(secured: Secured) -> None:
    k1 = Client(secured.settings("k1"), "k1", [])
    ops = FleetView(secured.settings("ops1")).open()
    try:
        k1.publish(topics.reported("k2"), b'{"kiosk_id": "k2", "forged": true}', retain=True)
        k1.publish(topics.status("k2"), b"online", retain=True)
        k1.publish(topics.reported("k1"), b'{"kiosk_id": "k1"}', retain=True)  # its own: ok
        assert ops.wait_for(lambda v: "k1" in v.reported, WAIT)
        ops.sync()
        assert "k2" not in ops.reported and "k2" not in ops.status
    finally:
        k1.close()
        ops.close()


def test_kiosk_a_cannot_read_b_commands(secured: Secured) -> None:
    k1 = Client(secured.settings("k1"), "k1", [topics.cmd("k2"), topics.cmd("k1")])
    ops = FleetView(secured.settings("ops1")).open()
    try:
        ops.publish(topics.cmd("k2"), b"for k2", retain=False)
        ops.publish(topics.cmd("k1"), b"for k1", retain=False)
        k1.wait(topics.cmd("k1"))  # sent after the one for k2, on the same session
        assert [t for t, _ in k1.got] == [topics.cmd("k1")]
    finally:
        k1.close()
        ops.close()


def test_kiosk_reads_only_its_own_group_and_fleet_desired(secured: Secured) -> None:
    ops = FleetView(secured.settings("ops1")).open()
    desired = [topics.kiosk_desired("k1"), topics.kiosk_desired("k2"),
               topics.group_desired("g1"), topics.group_desired("g2"), topics.FLEET_DESIRED]
    for topic in desired:
        ops.publish(topic, topic.encode(), retain=True)
    ops.close()
    k1 = Client(secured.settings("k1"), "k1", [*desired, topics.sync("k1")])
    try:
        k1.publish(topics.sync("k1"), b"marker")
        k1.wait(topics.sync("k1"))  # the retained snapshot came before it
        assert sorted(t for t, _ in k1.got if t != topics.sync("k1")) == sorted(
            [topics.kiosk_desired("k1"), topics.group_desired("g1"), topics.FLEET_DESIRED])
    finally:
        k1.close()


def test_anonymous_and_wrong_passwords_are_refused(secured: Secured) -> None:
    with pytest.raises(OperatorError, match="no connection"):
        FleetView(BrokerSettings.from_url(secured.broker.url)).open(timeout=2)
    wrong = BrokerSettings.from_url(secured.broker.url.replace("mqtt://", "mqtt://ops1:x@"))
    with pytest.raises(OperatorError, match="no connection"):
        FleetView(wrong).open(timeout=2)


def test_the_agent_works_through_the_acl_with_its_own_account(
        secured: Secured, tmp_path: Path, keydir: Path, signer: keys.SigningKey) -> None:
    env = kiosk_env(tmp_path, secured.broker, keydir, "k1", "g1",
                    fleet__credentials_file=str(secured.creds / "k1.json"))
    source = ConfigSource(None, "simulation", env)
    standin = StandIn()
    agent = FleetAgent(source, source.boot(), standin.hooks())
    agent.start()
    view = FleetView(secured.settings("ops1"), answers=True).open()
    try:
        view.push(bundle(signer, 1, "group:g1", {"session": {"warning_s": 12}}))
        view.push(bundle(signer, 2))
        wait_applied(view, 2)
        wait_applied(view, 1, layer="group")
        envelope = sign_command(signer, "k1", "out_of_service")
        nonce = json.loads(envelope)["body"]["nonce"]
        view.publish(topics.cmd("k1"), envelope, retain=False)
        assert view.wait_for(lambda v: v.answers.get(nonce, {}).get("ok") is True, WAIT)
        assert view.status["k1"] == "online"
    finally:
        agent.stop()
        view.close()
    assert "topic readwrite kiosk/#" not in "\n".join(
        secured.acl.read_text().split("user k1", 1)[1].split("\n\n", 1)[0])
