"""Technician access: token + PIN; forged, expired, other-kiosk and replayed tokens and wrong
PINs refused; failures rate-limited and locked out, also across a restart; all audited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest
from click.testing import CliRunner

from kiosk.audit import AuditLog
from kiosk.cli import main
from kiosk.config.schema import TechnicianConfig
from kiosk.diag.access import (
    TechnicianAccess,
    TokenExpired,
    WrongKiosk,
    check_pin,
    hash_pin,
    issue_token,
    parse_ttl,
    verify_token,
)
from kiosk.identity.codes import b64d, b64e, verify_key_from_text, verify_key_to_text
from tests.kiosk.diag.conftest import FixedClock

KIOSK = "kiosk-diag-01"
PIN = "482916"
ISSUER = nacl.signing.SigningKey(b"\x01" * 32)
PIN_HASH = hash_pin(PIN)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(1_750_000_000.0)


@pytest.fixture
def tech_cfg(tmp_path: Path) -> TechnicianConfig:
    trust = tmp_path / "technician.pub"
    trust.write_text(verify_key_to_text(ISSUER.verify_key) + "\n")
    return TechnicianConfig(trust_key_file=str(trust), pin_hash=PIN_HASH, max_failures=3,
                            failure_window_s=900, lockout_s=600, max_token_ttl_s=86400,
                            mode_timeout_s=300)


@pytest.fixture
def audit(tmp_path: Path) -> AuditLog:
    return AuditLog(tmp_path / "var" / "audit.jsonl", KIOSK)


@pytest.fixture
def access(tech_cfg: TechnicianConfig, tmp_path: Path, audit: AuditLog,
           clock: FixedClock) -> Iterator[TechnicianAccess]:
    a = TechnicianAccess(tech_cfg, KIOSK, tmp_path / "var", audit=audit, clock=clock)
    yield a
    a.close()


def token(clock: FixedClock, *, kiosk: str = KIOSK, ttl: int = 8 * 3600,
          key: nacl.signing.SigningKey = ISSUER) -> str:
    return issue_token(key, kiosk, ttl, clock.now)


def _records(tmp_path: Path) -> list[dict[str, object]]:
    lines = (tmp_path / "var" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_valid_token_and_pin_open_maintenance(access: TechnicianAccess, clock: FixedClock,
                                                tmp_path: Path, audit: AuditLog) -> None:
    result = access.attempt(token(clock), PIN)
    assert result.granted and result.code == "ok" and result.session is not None
    session = result.session
    assert session.expires_at == clock.now + 8 * 3600
    access.record_action(session, "print_test_page", "completed")
    clock.advance(299)
    touched = access.touch(session)
    assert touched is not None
    clock.advance(301)  # idle longer than mode_timeout_s
    assert access.touch(touched) is None
    events = [(r["event"], r["outcome"]) for r in _records(tmp_path)]
    assert events == [("maintenance.login", "ok"), ("maintenance.print_test_page", "completed"),
                      ("maintenance.timeout", "ended")]
    assert audit.verify() == 3
    raw = (tmp_path / "var" / "audit.jsonl").read_text()
    assert PIN not in raw and token(clock)[:40] not in raw


@pytest.mark.parametrize(("make", "code"), [
    (lambda c: token(c, key=nacl.signing.SigningKey(b"\x02" * 32)), "bad_signature"),
    (lambda c: token(c, kiosk="kiosk-other-02"), "wrong_kiosk"),
    (lambda c: token(c, ttl=3 * 86400), "too_long_lived"),
    (lambda c: "KTECH1.e30.AAAA", "malformed"),
    (lambda c: "not a token at all", "malformed"),
])
def test_bad_tokens_are_refused(access: TechnicianAccess, clock: FixedClock, make: object,
                                code: str) -> None:
    result = access.attempt(make(clock), PIN)  # type: ignore[operator]
    assert not result.granted and result.code == code and result.failures == 1


def test_an_edited_payload_breaks_the_signature(access: TechnicianAccess,
                                                clock: FixedClock) -> None:
    prefix, payload, sig = token(clock).split(".")
    body = json.loads(b64d(payload))
    body["k"] = "kiosk-other-02"
    edited = ".".join((prefix, b64e(json.dumps(body, separators=(",", ":")).encode()), sig))
    assert access.attempt(edited, PIN).code == "bad_signature"


def test_an_expired_token_is_refused(access: TechnicianAccess, clock: FixedClock) -> None:
    old = token(clock, ttl=3600)
    clock.advance(3600)
    assert access.attempt(old, PIN).code == "expired"
    with pytest.raises(TokenExpired):
        verify_token(old, ISSUER.verify_key, KIOSK, clock.now)
    with pytest.raises(WrongKiosk):
        verify_token(token(clock), ISSUER.verify_key, "kiosk-other-02", clock.now)


def test_a_used_token_cannot_be_replayed(access: TechnicianAccess, clock: FixedClock) -> None:
    used = token(clock)
    assert access.attempt(used, PIN).granted
    clock.advance(5)
    assert access.attempt(used, PIN).code == "replayed"


def test_wrong_pin_refused_then_the_same_token_works_after_the_backoff(
        access: TechnicianAccess, clock: FixedClock) -> None:
    t = token(clock)
    assert access.attempt(t, "000000").code == "wrong_pin"
    too_soon = access.attempt(t, PIN)  # within the 1 s backoff: not even checked
    assert too_soon.code == "too_soon" and 0 < too_soon.retry_after_s <= 1
    clock.advance(1)
    assert access.attempt(t, PIN).granted  # a wrong PIN does not use the token up


def test_lock_out_after_n_failures_holds_across_a_restart(
        access: TechnicianAccess, clock: FixedClock, tech_cfg: TechnicianConfig,
        tmp_path: Path, audit: AuditLog) -> None:
    t = token(clock)
    for wait in (0, 1, 2):
        clock.advance(wait)
        assert access.attempt(t, "111111").code == "wrong_pin"
    clock.advance(10)
    locked = access.attempt(t, PIN)
    assert locked.code == "locked_out" and locked.retry_after_s == pytest.approx(590)
    access.close()
    restarted = TechnicianAccess(tech_cfg, KIOSK, tmp_path / "var", audit=audit, clock=clock)
    try:
        assert restarted.lock_state()[0] == pytest.approx(clock.now + 590)
        assert restarted.attempt(t, PIN).code == "locked_out"
        clock.advance(590)
        assert restarted.attempt(t, PIN).granted
        assert restarted.lock_state() == (None, 0)
    finally:
        restarted.close()
    outcomes = [r["outcome"] for r in _records(tmp_path)]
    assert outcomes == ["wrong_pin"] * 3 + ["locked_out"] * 2 + ["ok"]


def test_no_pin_configured_means_no_access(tech_cfg: TechnicianConfig, tmp_path: Path,
                                           clock: FixedClock) -> None:
    bare = TechnicianAccess(tech_cfg.model_copy(update={"pin_hash": None}), KIOSK, tmp_path,
                            audit=None, clock=clock)
    try:
        assert bare.attempt(token(clock), PIN).code == "not_configured"
    finally:
        bare.close()


def test_pin_hash_and_ttl_parsing() -> None:
    assert check_pin(PIN, PIN_HASH) and not check_pin("482917", PIN_HASH)
    assert not check_pin(PIN, "scrypt$99$8$1$AA$AA") and not check_pin(PIN, "garbage")
    with pytest.raises(ValueError):
        hash_pin("1234")
    assert parse_ttl("8h") == 28800 and parse_ttl("30m") == 1800 and parse_ttl("90") == 90
    for bad in ("8 weeks", "0s", "8d", ""):
        with pytest.raises(ValueError):
            parse_ttl(bad)
    assert TechnicianConfig(pin_hash=PIN_HASH).pin_hash == PIN_HASH


def test_cli_issues_a_token_the_kiosk_accepts(tmp_path: Path, access: TechnicianAccess,
                                              clock: FixedClock) -> None:
    runner = CliRunner()
    key = tmp_path / "issuer.key"
    out = runner.invoke(main, ["diag", "issue-technician-token", "--kiosk", KIOSK, "--ttl",
                               "8h", "--key", str(key), "--new-key", "--json"])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert key.stat().st_mode & 0o777 == 0o600
    claim = verify_token(data["token"], verify_key_from_text(data["public_key"]), KIOSK,
                         claim_now := json.loads(b64d(data["token"].split(".")[1]))["t"])
    assert claim.expires_at - claim_now == 28800 and claim.token_id == data["token_id"]
    again = runner.invoke(main, ["diag", "issue-technician-token", "--kiosk", KIOSK,
                                 "--key", str(key)])
    assert again.exit_code == 0 and "token: KTECH1." in again.output
    missing = runner.invoke(main, ["diag", "issue-technician-token", "--kiosk", KIOSK,
                                   "--key", str(tmp_path / "nope.key")])
    assert missing.exit_code == 2 and "--key" in missing.output
    bad_ttl = runner.invoke(main, ["diag", "issue-technician-token", "--kiosk", KIOSK,
                                   "--ttl", "forever", "--key", str(key)])
    assert bad_ttl.exit_code == 2 and "--ttl" in bad_ttl.output
    pin = runner.invoke(main, ["diag", "technician-pin"], input=f"{PIN}\n{PIN}\n")
    assert pin.exit_code == 0 and check_pin(PIN, pin.output.strip().splitlines()[-1])
