"""Whether the number on an ID card is valid: a business rule of the core, not the reader's.

The card reader's protocol only turns bytes into fields; the kiosk decides what it accepts,
with the same rule the platform applies (:func:`kiosk.identity.checks.validate_id_number`:
check digit, province, birth date). A foreigner's permanent residence card (2017 format)
carries three letters and twelve digits.
"""

from __future__ import annotations

from kiosk.identity.checks import CheckError, validate_id_number


def foreign_number_valid(number: str) -> bool:
    """Plausibility of a 2017 foreigner permanent residence card number."""
    return (len(number) == 15 and number[:3].isascii() and number[:3].isalpha()
            and number[:3].isupper() and number[3:].isascii() and number[3:].isdigit())


def card_number_valid(card_type: str, number: str) -> bool:
    """True when the card's number is one the kiosk accepts for identification."""
    if card_type == "foreign_permanent":
        return foreign_number_valid(number)
    try:
        validate_id_number(number)
    except CheckError:
        return False
    return True
