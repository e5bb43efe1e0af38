"""One display rule for personal identifiers (issue 17): the middle is masked, the ends stay,
separators are kept, and only identifiers are masked."""

from __future__ import annotations

import pytest

from screens.masking import is_identifier, mask_identifier
from screens.testing import demo_citizen, demo_enterprise


@pytest.mark.parametrize(("value", "shown"), [
    ("440605195803121228", "4406**********1228"),  # resident ID number
    ("91440605MA51XY0R24", "9144**********0R24"),  # unified social credit code
    ("13800138000", "138****8000"),  # mobile phone
    ("D440600003", "D4******03"),  # social security card number
    ("H60123456", "H6*****56"),  # travel permit number
    ("6217 **** **** 1001", "6217 **** **** 1001"),  # already masked by the platform
    ("J440605-1982-000318", "J440***-****-**0318"),  # separators stay where they are
    ("", ""),
])
def test_mask_keeps_the_ends_only(value: str, shown: str) -> None:
    assert mask_identifier(value) == shown


def test_partly_typed_values_never_show_more_than_a_full_one() -> None:
    number = "13800138000"
    for n in range(1, len(number) + 1):
        shown = mask_identifier(number[:n])
        assert len(shown) == n
        hidden = shown.count("*")
        assert hidden == n if n <= 2 else hidden * 3 >= n, shown


def test_demo_identifiers_are_never_shown_whole() -> None:
    for key in ("chen", "huang", "lee", "liang", "he"):
        number = str(demo_citizen(key)["id_number"])
        assert number not in mask_identifier(number)
        assert mask_identifier(number)[-4:] == number[-4:]
    for key in ("meiwei", "xinchuang"):
        uscc = str(demo_enterprise(key)["uscc"])
        assert uscc not in mask_identifier(uscc)


@pytest.mark.parametrize(("key", "input_kind", "expected"), [
    ("id_number", "text", True), ("phone", "phone", True), ("contact", "phone", True),
    ("social_card_no", "text", True), ("licence_no", "text", True),
    ("pass_number", "text", True), ("card_number", "text", True),
    ("bank_account", "text", True), ("uscc", "text", True),
    ("name", "text", False), ("copies", "digits", False), ("reason", "choice", False),
    ("registration_date", "date", False), ("premises", "address", False),
    ("area_code", "text", False), ("enterprise_name", "text", False),
])
def test_which_fields_are_identifiers(key: str, input_kind: str, expected: bool) -> None:
    assert is_identifier(key, input_kind) is expected
