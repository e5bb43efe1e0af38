"""Signed bundles and command envelopes, checked without a broker: the trust chain, the
signature over the canonical encoding, expiry, scope, and the overlay read from YAML."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nacl.signing
import pytest

from kiosk.fleet import keys
from kiosk.fleet.bundle import desired_topic, forbidden_keys, read_overlay, sign, verify
from kiosk.fleet.canonical import NotCanonical, canonical, strict_loads
from kiosk.fleet.commands import NonceLedger, sign_command, verify_command
from kiosk.fleet.errors import OperatorError, Rejected
from tests.kiosk.fleet.conftest import bundle


def root_of(keydir: Path) -> nacl.signing.VerifyKey:
    return keys.load_trust_root(keydir / "root.pub")


def code_of(payload: bytes, keydir: Path, kiosk: str = "k1", group: str = "g1") -> str:
    with pytest.raises(Rejected) as err:
        verify(payload, root_of(keydir), kiosk, group)
    return err.value.code


def test_a_signed_bundle_verifies_for_its_scope(keydir: Path,
                                                signer: keys.SigningKey) -> None:
    for scope, topic in (("kiosk:k1", "kiosk/k1/config/desired"),
                         ("group:g1", "fleet/g1/config/desired"),
                         ("fleet", "fleet/config/desired")):
        b = verify(bundle(signer, 3, scope), root_of(keydir), "k1", "g1")
        assert (b.scope, b.version, b.overlay) == (
            scope, 3, {"session": {"inactivity_timeout_s": 103}})
        assert desired_topic(scope) == topic


def test_keygen_files_and_modes(keydir: Path) -> None:
    assert (keydir / "root.key").stat().st_mode & 0o777 == 0o600
    assert (keydir / "signing.key").stat().st_mode & 0o777 == 0o600
    assert (keydir / "root.pub").read_text().startswith("ed25519:")
    with pytest.raises(OperatorError, match="never overwritten"):
        keys.keygen(keydir, 86400)


def test_tampered_overlay_is_bad_signature(keydir: Path, signer: keys.SigningKey) -> None:
    doc = json.loads(bundle(signer, 2))
    doc["body"]["overlay"]["session"]["inactivity_timeout_s"] = 600
    assert code_of(canonical(doc), keydir) == "bad_signature"
    doc = json.loads(bundle(signer, 2))
    doc["body"]["version"] = 99  # the version is signed too
    assert code_of(canonical(doc), keydir) == "bad_signature"
    assert code_of(b"not json", keydir) == "bad_signature"


def test_a_different_spelling_of_the_same_body_still_verifies(keydir: Path,
                                                              signer: keys.SigningKey) -> None:
    doc = json.loads(bundle(signer, 2))
    spaced = json.dumps(doc, indent=2, sort_keys=False).encode()  # canonical form is signed
    assert verify(spaced, root_of(keydir), "k1", "g1").version == 2


def test_duplicate_keys_are_refused_before_any_check(keydir: Path,
                                                     signer: keys.SigningKey) -> None:
    text = bundle(signer, 2).decode()
    doubled = text.replace('{"body":', '{"sig":"x","body":', 1)
    assert code_of(doubled.encode(), keydir) == "bad_signature"
    with pytest.raises(NotCanonical, match="duplicate"):
        strict_loads(b'{"a":1,"a":2}', 100)


def test_key_of_another_root_is_untrusted(tmp_path: Path, keydir: Path) -> None:
    keys.keygen(tmp_path / "other", 86400)
    other = keys.load_signing_key(tmp_path / "other" / "signing.key")
    assert code_of(bundle(other, 2), keydir) == "untrusted_key"


def test_expired_certificate_is_untrusted(tmp_path: Path, keydir: Path) -> None:
    root = keys.load_root_key(keydir / "root.key")
    key = nacl.signing.SigningKey.generate()
    old = keys.certify(root, key.verify_key, 60, now=time.time() - 3600)
    stale = keys.SigningKey(key, old)
    payload = sign({}, keys.SigningKey(key, keys.certify(root, key.verify_key, 7200)), 2,
                   600, "kiosk:k1")
    doc = json.loads(payload)
    doc["cert"] = stale.cert  # same key, certificate expired
    assert code_of(canonical(doc), keydir) == "untrusted_key"


def test_a_command_only_key_cannot_sign_config(keydir: Path) -> None:
    root = keys.load_root_key(keydir / "root.key")
    key = nacl.signing.SigningKey.generate()
    cmd_only = keys.SigningKey(key, keys.certify(root, key.verify_key, 7200, ("command",)))
    assert code_of(sign({}, cmd_only, 2, 600, "kiosk:k1"), keydir) == "untrusted_key"


def test_expired_bundle(keydir: Path, signer: keys.SigningKey) -> None:
    stale = bundle(signer, 2, expires_s=60, now=time.time() - 120)
    assert code_of(stale, keydir) == "expired"


@pytest.mark.parametrize("scope", ["kiosk:k2", "group:g2"])
def test_wrong_scope(keydir: Path, signer: keys.SigningKey, scope: str) -> None:
    assert code_of(bundle(signer, 2, scope), keydir) == "wrong_scope"


def test_sign_refuses_a_bundle_outliving_its_key(tmp_path: Path) -> None:
    keys.keygen(tmp_path / "short", 3600)
    short = keys.load_signing_key(tmp_path / "short" / "signing.key")
    with pytest.raises(ValueError, match="outlive"):
        sign({}, short, 1, 7 * 86400, "fleet")


def test_overlay_from_yaml(tmp_path: Path) -> None:
    f = tmp_path / "o.yaml"
    f.write_text("session:\n  inactivity_timeout_s: 120\nui: {languages: [zh_CN, en]}\n")
    assert read_overlay(f) == {"session": {"inactivity_timeout_s": 120},
                               "ui": {"languages": ["zh_CN", "en"]}}
    f.write_text("")
    assert read_overlay(f) == {}  # an empty overlay is valid
    f.write_text("kiosk:\n  id: other\n")
    with pytest.raises(OperatorError, match="kiosk.id"):
        read_overlay(f)
    f.write_text("notices:\n  from: 2025-01-01\n")
    with pytest.raises(OperatorError, match="notices.from"):
        read_overlay(f)
    f.write_text("a: &x 1\nb: *x\n")
    with pytest.raises(OperatorError, match="anchors"):
        read_overlay(f)
    assert forbidden_keys({"policy": {}, "fleet": {"trust_root": "x", "heartbeat_s": 1,
                                                   "broker_url": "mqtt://elsewhere"}}) \
        == ["policy", "fleet.trust_root", "fleet.broker_url"]


# -- command envelopes ---------------------------------------------------------------------
def test_command_envelope_checks(tmp_path: Path, keydir: Path, signer: keys.SigningKey) -> None:
    root = root_of(keydir)
    cmd = verify_command(sign_command(signer, "k1", "out_of_service"), root, "k1")
    assert cmd.name == "out_of_service" and cmd.expires_at - cmd.issued_at == 300

    def code(payload: bytes) -> str:
        with pytest.raises(Rejected) as err:
            verify_command(payload, root, "k1")
        return err.value.code

    doc = json.loads(sign_command(signer, "k1", "run_diagnostics"))
    doc["body"]["args"] = {"level": "interactive"}
    assert code(canonical(doc)) == "bad_signature"
    assert code(sign_command(signer, "k1", "screenshot", ttl_s=60,
                             now=time.time() - 120)) == "expired"
    assert code(sign_command(signer, "k2", "screenshot")) == "wrong_scope"
    keys.keygen(tmp_path / "other", 86400)
    other = keys.load_signing_key(tmp_path / "other" / "signing.key")
    assert code(sign_command(other, "k1", "screenshot")) == "untrusted_key"
    assert code(b"[]") == "malformed"


def test_nonces_survive_a_restart_and_expire(tmp_path: Path, keydir: Path,
                                             signer: keys.SigningKey) -> None:
    root = root_of(keydir)
    cmd = verify_command(sign_command(signer, "k1", "back_in_service"), root, "k1")
    NonceLedger(tmp_path / "n.json").check_and_record(cmd)
    with pytest.raises(Rejected, match="replayed"):
        NonceLedger(tmp_path / "n.json").check_and_record(cmd)  # a new process, same file
    later = NonceLedger(tmp_path / "n.json")
    later.check_and_record(verify_command(sign_command(signer, "k1", "screenshot"), root, "k1"),
                           now=cmd.expires_at + 60)
    assert len(later) == 1  # the first nonce was dropped once its envelope expired


def test_a_lost_nonce_ledger_refuses_older_envelopes(tmp_path: Path, keydir: Path,
                                                     signer: keys.SigningKey) -> None:
    root = root_of(keydir)
    cmd = verify_command(sign_command(signer, "k1", "back_in_service",
                                      now=time.time() - 5), root, "k1")
    (tmp_path / "n.json").write_text("{broken")
    with pytest.raises(Rejected, match="replayed"):
        NonceLedger(tmp_path / "n.json").check_and_record(cmd)
