"""Document verification codes: authentic, forged, tampered, other issuer, garbage."""

from __future__ import annotations

import nacl.signing
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.identity.codes import CodeError
from kiosk.identity.doccodes import DocClaim, looks_like_doc_code, make_doc_code, verify_doc_code

KEY = nacl.signing.SigningKey(b"\x03" * 32)
TRUSTED = {"ref-platform": KEY.verify_key}


def test_round_trip_and_short_enough_for_a_receipt() -> None:
    text = make_doc_code(KEY, "APP-2025-000123", "receipt")
    assert looks_like_doc_code(text) and len(text) <= 140
    assert verify_doc_code(text, TRUSTED) == DocClaim("ref-platform", "receipt", "APP-2025-000123")


def test_tampered_forged_and_unknown_issuer() -> None:
    text = make_doc_code(KEY, "APP-2025-000123", "result")
    with pytest.raises(CodeError) as info:
        verify_doc_code(text.replace("000123", "000124"), TRUSTED)
    assert info.value.code == "bad_signature"
    forged = make_doc_code(nacl.signing.SigningKey(b"\x04" * 32), "APP-1", "receipt")
    with pytest.raises(CodeError) as info:
        verify_doc_code(forged, TRUSTED)
    assert info.value.code == "bad_signature"
    other = make_doc_code(KEY, "APP-1", "receipt", issuer="another")
    with pytest.raises(CodeError) as info:
        verify_doc_code(other, TRUSTED)
    assert info.value.code == "unknown_issuer"


def test_bad_inputs() -> None:
    for data, code in ((b"\xff\xfe", "not_utf8"), ("x" * 300, "too_long"),
                       ("GZDOC1.a.nokind.b.c", "malformed"), ("GZDOC1", "malformed")):
        with pytest.raises(CodeError) as info:
            verify_doc_code(data, TRUSTED)
        assert info.value.code == code
    with pytest.raises(ValueError):
        make_doc_code(KEY, "bad id!", "receipt")
    with pytest.raises(ValueError):
        make_doc_code(KEY, "A1", "poster")


@settings(max_examples=200, deadline=200)
@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_input_only_raises_code_error(data: str | bytes) -> None:
    with pytest.raises(CodeError):
        verify_doc_code(data, TRUSTED)
