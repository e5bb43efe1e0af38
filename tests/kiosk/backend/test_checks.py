"""Check characters: the standards' published examples and round trips."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.identity import checks
from tests.kiosk.backend.helpers import ENTERPRISES, PEOPLE

CERT_EXAMPLE = "1.2.156.3005.2.11100000000013338W011.11430000006122244L.20230000403.001.U"


def test_published_examples_pass() -> None:
    assert checks.validate_id_number("11010519491231002x") == "11010519491231002X"
    assert checks.validate_uscc("91110000600037341L") == "91110000600037341L"
    assert checks.validate_certificate_identifier(CERT_EXAMPLE) == CERT_EXAMPLE
    assert checks.mod3736_check_char("11100000000013338W01111430000006122244L20230000403001") \
        == "U"


def test_demo_people_carry_valid_codes() -> None:
    for person in PEOPLE.values():
        assert checks.validate_id_number(person["id_number"])
    for ent in ENTERPRISES.values():
        assert checks.validate_uscc(ent["uscc"])


@pytest.mark.parametrize("func,value,kind", [
    (checks.validate_id_number, "110105194912310021", "bad_check_digit"),
    (checks.validate_id_number, "11010519491231002", "malformed"),
    (checks.validate_id_number, "1101051949123100AX", "malformed"),
    (checks.validate_uscc, "91110000600037341M", "bad_check_digit"),
    (checks.validate_uscc, "91110000600037341I", "malformed"),
    (checks.validate_certificate_identifier, CERT_EXAMPLE[:-1] + "V", "bad_check_digit"),
    (checks.validate_certificate_identifier, "1.2.156.3005.2.X.Y.001.U", "malformed"),
])
def test_bad_codes_are_typed(func: object, value: str, kind: str) -> None:
    with pytest.raises(checks.CheckError) as err:
        func(value)  # type: ignore[operator]
    assert err.value.kind == kind


def with_check(body: str) -> str:
    return body + checks.id_check_digit(body)


@pytest.mark.parametrize("body,kind", [
    ("44060519991345123", "bad_birth_date"),  # month 13, day 45
    ("44060520990101123", "bad_birth_date"),  # in the future
    ("44060518991231123", "bad_birth_date"),  # before 1900
    ("44060520230229123", "bad_birth_date"),  # not a leap year
    ("00000019800101123", "bad_region"),
    ("99010519800101123", "bad_region"),  # no province 99
    ("10010519800101123", "bad_region"),
])
def test_impossible_birth_date_or_region_refused(body: str, kind: str) -> None:
    with pytest.raises(checks.CheckError) as err:
        checks.validate_id_number(with_check(body))
    assert err.value.kind == kind


def test_birth_date_is_checked_against_today() -> None:
    number = with_check("44060520260601123")
    assert checks.validate_id_number(number, today=dt.date(2026, 6, 1)) == number
    with pytest.raises(checks.CheckError):
        checks.validate_id_number(number, today=dt.date(2026, 5, 31))
    assert checks.id_birth_date(number) == dt.date(2026, 6, 1)


PROVINCES = st.sampled_from(sorted(checks.PROVINCE_CODES))
DATES = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2020, 12, 31))


@given(PROVINCES, st.text("0123456789", min_size=4, max_size=4), DATES,
       st.text("0123456789", min_size=3, max_size=3))
def test_id_round_trip_and_single_error_detected(province: str, county: str,
                                                 birth: dt.date, seq: str) -> None:
    body = f"{province}{county}{birth:%Y%m%d}{seq}"
    full = body + checks.id_check_digit(body)
    assert checks.validate_id_number(full) == full
    wrong = "0" if full[-1] != "0" else "1"
    with pytest.raises(checks.CheckError):
        checks.validate_id_number(full[:-1] + wrong)


@given(st.text(checks.USCC_ALPHABET, min_size=17, max_size=17))
def test_uscc_round_trip(body: str) -> None:
    full = body + checks.uscc_check_char(body)
    assert checks.validate_uscc(full) == full


@given(st.text(checks.MOD3736_ALPHABET, min_size=1, max_size=12),
       st.integers(0, 35))
def test_mod3736_detects_any_single_substitution(serial: str, pos_seed: int) -> None:
    ident = checks.certificate_identifier("11100000000013338W011", "11430000006122244L", serial)
    assert checks.validate_certificate_identifier(ident) == ident
    data = "11100000000013338W011" + "11430000006122244L" + serial + "001"
    pos = pos_seed % len(data)
    alphabet = checks.MOD3736_ALPHABET
    changed = data[:pos] + alphabet[(alphabet.index(data[pos]) + 1) % 36] + data[pos + 1:]
    assert checks.mod3736_check_char(changed) != checks.mod3736_check_char(data)


@given(st.text(max_size=40))
def test_arbitrary_text_never_crashes(text: str) -> None:
    for func in (checks.validate_id_number, checks.validate_uscc,
                 checks.validate_certificate_identifier):
        try:
            func(text)
        except checks.CheckError as exc:
            assert exc.kind in ("malformed", "bad_check_digit", "bad_region", "bad_birth_date")
