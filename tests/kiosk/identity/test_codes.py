"""Dynamic identity codes: issue, verify, every refusal, replay ledger, key files."""

from __future__ import annotations

import json
import os
import stat
import time

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.identity import codes
from kiosk.identity.codes import (
    CodeError,
    IdentityClaim,
    MemoryNonceLedger,
    NonceLedger,
    b64d,
    b64e,
    issue_code,
    load_or_create_signing_key,
    verify_code,
    verify_key_from_text,
    verify_key_to_text,
)

KEY = nacl.signing.SigningKey(b"\x01" * 32)
OTHER = nacl.signing.SigningKey(b"\x02" * 32)
TRUSTED = {"ref-platform": KEY.verify_key}
NOW = 1_750_000_000.0


def code_of(**kw: object) -> str:
    args: dict[str, object] = {"signing_key": KEY, "issuer": "ref-platform", "holder": "h-chen",
                               "now": NOW}
    args.update(kw)
    return issue_code(**args)  # type: ignore[arg-type]


def refused(text: str | bytes, now: float = NOW + 1, **kw: object) -> str:
    with pytest.raises(CodeError) as info:
        verify_code(text, TRUSTED, now, **kw)  # type: ignore[arg-type]
    return info.value.code


def test_valid_code_round_trips_and_is_compact() -> None:
    text = code_of(nonce="abc_DEF-123")
    assert text.startswith("GZID1.") and len(text) < 260
    claim = verify_code(text, TRUSTED, NOW + 59)
    assert claim == IdentityClaim("ref-platform", "identity", "h-chen", int(NOW), int(NOW) + 60,
                                  "abc_DEF-123")


def test_nonces_are_random() -> None:
    a, b = code_of(), code_of()
    assert verify_code(a, TRUSTED, NOW).nonce != verify_code(b, TRUSTED, NOW).nonce


def test_expired_and_not_yet_valid() -> None:
    text = code_of(ttl_s=30)
    assert refused(text, NOW + 30) == "expired"
    assert refused(text, NOW + 3600) == "expired"
    assert verify_code(text, TRUSTED, NOW - 4).holder == "h-chen"  # within clock skew
    assert refused(text, NOW - 60) == "not_yet_valid"


def test_forged_signature_other_key_and_tampered_payload() -> None:
    forged = issue_code(OTHER, "ref-platform", "h-chen", NOW)
    assert refused(forged) == "bad_signature"
    prefix, payload, sig = code_of().split(".")
    body = json.loads(b64d(payload))
    body["h"] = "h-huang"
    tampered = f"{prefix}.{b64e(json.dumps(body, separators=(',', ':')).encode())}.{sig}"
    assert refused(tampered) == "bad_signature"
    flipped = sig[:-2] + ("A" if sig[-2] != "A" else "B") + sig[-1]
    assert refused(f"{prefix}.{payload}.{flipped}") in ("bad_signature", "malformed")


def test_other_issuer_and_wrong_purpose() -> None:
    assert refused(issue_code(OTHER, "other-city", "h-chen", NOW)) == "unknown_issuer"
    assert refused(code_of(purpose="appointment")) == "wrong_purpose"
    text = code_of(purpose="appointment")
    assert verify_code(text, TRUSTED, NOW, purpose="appointment").purpose == "appointment"


def test_audience_binds_a_code_to_one_kiosk() -> None:
    text = code_of(audience="kiosk-a")
    claim = verify_code(text, TRUSTED, NOW, audience="kiosk-a")
    assert claim.audience == "kiosk-a" and claim.holder == "h-chen"
    assert refused(text, audience="kiosk-b") == "wrong_audience"
    assert refused(text) == "wrong_audience"  # a verifier that does not say who it is
    plain = code_of()  # codes without an audience stay valid everywhere
    assert verify_code(plain, TRUSTED, NOW, audience="kiosk-b").audience is None
    assert "a" not in json.loads(b64d(plain.split(".")[1]))
    with pytest.raises(ValueError):
        code_of(audience="kiosk a")


def test_oversized_binary_and_malformed() -> None:
    assert refused("GZID1." + "A" * 600) == "too_long"
    assert refused(b"\xff\xfe\x00GZID1") == "not_utf8"
    assert refused("GZID1.\udcff.x") == "not_utf8"
    assert refused(b"GZID1.\x00\x01.abc") == "malformed"
    assert refused("hello") == "malformed"
    assert refused("GZID1.e30.e30") == "malformed"  # "{}" payload, short signature
    text = code_of()
    assert refused(text + "A") == "malformed"  # non-canonical/odd base64 tail
    assert refused(text.replace("GZID1", "GZID2")) == "malformed"


def test_lifetime_over_60s_is_refused_even_if_signed() -> None:
    body = {"i": "ref-platform", "p": "identity", "h": "h-chen", "t": int(NOW),
            "e": int(NOW) + 3600, "n": "n1"}
    signed = "GZID1." + b64e(json.dumps(body).encode())
    text = signed + "." + b64e(KEY.sign(signed.encode()).signature)
    assert refused(text) == "malformed"


def test_issue_refuses_id_numbers_and_long_ttl() -> None:
    with pytest.raises(ValueError):
        code_of(holder="11010519491231002X")
    with pytest.raises(ValueError):
        code_of(ttl_s=61)
    with pytest.raises(ValueError):
        code_of(holder="名字")


def test_nonce_ledger_refuses_replay_and_forgets_expired() -> None:
    clock = [NOW]
    ledger = MemoryNonceLedger(clock=lambda: clock[0])
    assert isinstance(ledger, NonceLedger)
    claim = verify_code(code_of(), TRUSTED, NOW)
    assert ledger.check_and_record(claim.nonce, claim.expires_at) is True
    assert ledger.check_and_record(claim.nonce, claim.expires_at) is False
    clock[0] = NOW + 3600
    for i in range(1100):
        ledger.check_and_record(f"n{i}", clock[0] + 60)
    assert claim.nonce not in ledger._seen and len(ledger) <= 1101


def test_key_file_created_0600_and_reloaded(tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "secrets", "platform-signing.key")
    k1 = load_or_create_signing_key(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    k2 = load_or_create_signing_key(path)
    assert bytes(k1) == bytes(k2)
    text = verify_key_to_text(k1.verify_key)
    assert text.startswith("ed25519:") and verify_key_from_text(text) == k1.verify_key
    with pytest.raises(ValueError):
        verify_key_from_text("rsa:AAAA")


@settings(max_examples=300, deadline=200)
@given(st.one_of(st.text(max_size=700), st.binary(max_size=700)))
def test_random_input_only_ever_raises_code_error(data: str | bytes) -> None:
    t0 = time.perf_counter()
    with pytest.raises(CodeError):
        verify_code(data, TRUSTED, NOW)
    assert time.perf_counter() - t0 < 0.05


VALID = code_of(nonce="fixed")


@settings(max_examples=300, deadline=200)
@given(st.integers(0, len(VALID) - 1), st.characters(codec="utf-8"))
def test_mutated_code_is_refused_or_unchanged(pos: int, ch: str) -> None:
    mutated = VALID[:pos] + ch + VALID[pos + 1:]
    try:
        claim = verify_code(mutated, TRUSTED, NOW)
    except CodeError as exc:
        assert exc.code in {"malformed", "bad_signature", "unknown_issuer", "not_utf8"}
    else:
        assert mutated == VALID and claim.holder == "h-chen"


@settings(max_examples=100, deadline=200)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
               max_size=200), st.text(max_size=100))
def test_wellformed_looking_garbage(payload: str, sig: str) -> None:
    with pytest.raises(CodeError):
        verify_code(f"{codes.PREFIX}.{payload}.{sig}", TRUSTED, NOW)
