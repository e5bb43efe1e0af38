"""The core's rule for card numbers (the reader's protocol only parses bytes)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.identity.cards import card_number_valid, foreign_number_valid
from kiosk.identity.checks import id_check_digit


def test_resident_and_permit_numbers_follow_gb11643() -> None:
    assert card_number_valid("resident", "11010519491231002X")
    assert card_number_valid("resident", "11010519491231002x")
    assert card_number_valid("resident", "440605195803121228")
    assert card_number_valid("hk_mo_tw", "810000199006151232")
    assert not card_number_valid("resident", "440605195803121229")  # check digit
    assert not card_number_valid("resident", "4406051958031212")  # length
    assert not card_number_valid("resident", "44060519580312122８")  # full-width digit
    assert not card_number_valid("resident", "990605195803121226")  # not a province
    assert not card_number_valid("resident", "440605199001010011")  # the deck's bad card


def test_foreign_permanent_card_numbers() -> None:
    assert foreign_number_valid("USA440619580312")
    assert card_number_valid("foreign_permanent", "USA440619580312")
    assert not card_number_valid("foreign_permanent", "usa440619580312")
    assert not card_number_valid("foreign_permanent", "440605195803121228")


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=dt.date(1900, 1, 1),
                max_value=dt.date(2020, 12, 31)),
       st.integers(0, 999))
def test_check_digit_makes_numbers_valid(birth: dt.date, serial: int) -> None:
    first17 = f"440605{birth:%Y%m%d}{serial:03d}"
    digit = id_check_digit(first17)
    assert card_number_valid("resident", first17 + digit)
    wrong = next(c for c in "0123456789X" if c != digit)
    assert not card_number_valid("resident", first17 + wrong)
