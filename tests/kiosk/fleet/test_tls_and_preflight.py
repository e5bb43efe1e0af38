"""The agent and the tools over mqtts:// to a real mosquitto TLS listener (the broker's
certificate checked against the configured CA); the fleet preflight; reconnect backoff."""

from __future__ import annotations

import datetime
import ipaddress
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from kiosk.config import load_config
from kiosk.fleet import keys
from kiosk.fleet.agent import FleetAgent
from kiosk.fleet.mqtt import BrokerSettings, MqttLink, backoff
from kiosk.fleet.ops import FleetView
from kiosk.fleet.preflight import fleet_problems
from kiosk.fleet.slots import ConfigSource
from tests.harness.peers import Mosquitto
from tests.kiosk.fleet.conftest import StandIn, bundle, kiosk_env, wait_applied


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          signer: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
               .issuer_name(issuer).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
    return builder.sign(signer, hashes.SHA256())


def _pem(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[tuple[Mosquitto, Path]]:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet test CA")])
    ca = _cert("fleet test CA", ca_key, ca_name, ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("127.0.0.1", srv_key, ca_name, ca_key, ca=False)
    ca_file = _pem(tmp_path / "ca.pem", ca.public_bytes(serialization.Encoding.PEM))
    cert_file = _pem(tmp_path / "srv.pem", srv.public_bytes(serialization.Encoding.PEM))
    key_file = _pem(tmp_path / "srv.key", srv_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    folder = tmp_path / "tls-broker"
    folder.mkdir()
    broker = Mosquitto(folder, config=f"cafile {ca_file}\ncertfile {cert_file}\n"
                                      f"keyfile {key_file}\n").start()
    yield broker, ca_file
    broker.stop()


def test_agent_and_tools_over_tls(tls_broker: tuple[Mosquitto, Path], tmp_path: Path,
                                  keydir: Path, signer: keys.SigningKey) -> None:
    broker, ca_file = tls_broker
    url = f"mqtts://127.0.0.1:{broker.port}"
    env = kiosk_env(tmp_path, broker, keydir, "k1", "g1", fleet__broker_url=url,
                    fleet__ca_file=str(ca_file))
    source = ConfigSource(None, "simulation", env)
    assert source.load().fleet.tls
    agent = FleetAgent(source, source.boot(), StandIn().hooks())
    agent.start()
    view = FleetView(BrokerSettings.from_url(url, ca_file=str(ca_file))).open()
    try:
        view.push(bundle(signer, 2))
        wait_applied(view, 2)
    finally:
        agent.stop()
        view.close()
    untrusted = MqttLink(BrokerSettings.from_url(url), "no-ca", on_message=lambda *_: None)
    untrusted.start()
    try:  # the system CAs do not vouch for the test broker: never connected
        assert not untrusted.connected.wait(1.5)
    finally:
        untrusted.stop()


def test_fleet_preflight(tmp_path: Path, keydir: Path) -> None:
    def problems(**env: str) -> list[str]:
        return fleet_problems(load_config(None, environ={f"KIOSK__FLEET__{k.upper()}": v
                                                         for k, v in env.items()}))

    assert problems() == []  # off without a trust root
    assert problems(enabled="true")[0].startswith("fleet.trust_root: needed")
    assert problems(trust_root=str(keydir / "root.pub")) == []
    assert problems(trust_root=str(keydir / "signing.key"))[0].startswith(
        "fleet.trust_root: not a root public key")
    bad = problems(trust_root=str(keydir / "root.pub"), credentials_file=str(tmp_path / "no"),
                   ca_file=str(tmp_path / "no.pem"), cert_file=str(tmp_path / "c.pem"))
    assert [p.split(":")[0] for p in bad] == ["fleet.credentials_file", "fleet.ca_file",
                                              "fleet.cert_file", "fleet.cert_file"]


def test_broker_url_in_the_config() -> None:
    from kiosk.config import ConfigError

    for url in ("http://x", "mqtt://user:pw@host", "mqtt://host:99999", "mqtt://host/path"):
        with pytest.raises(ConfigError, match="fleet.broker_url"):
            load_config(None, environ={"KIOSK__FLEET__BROKER_URL": url})
    cfg = load_config(None, environ={"KIOSK__FLEET__BROKER_URL": "mqtts://mq.example"})
    assert (cfg.fleet.broker_host, cfg.fleet.broker_port, cfg.fleet.tls) == (
        "mq.example", 8883, True)


def test_backoff_grows_with_jitter_and_a_ceiling() -> None:
    rng = random.Random(7)
    delays = [backoff(n, 1.0, 60.0, rng) for n in range(10)]
    assert all(min(60.0, 2 ** n) / 2 <= d <= min(60.0, 2 ** n) for n, d in enumerate(delays))
    assert max(delays) <= 60 and len({round(d, 6) for d in delays}) == len(delays)
    fleet = {round(backoff(3, 1.0, 60.0, random.Random(seed)), 3) for seed in range(50)}
    assert len(fleet) > 40  # kiosks do not come back in lock step
