"""The one display rule for personal identifiers on a public screen (no Kivy here).

ID numbers, credit codes, phone, card and permit numbers show their ends only
(``4406**********1228``, ``138****8000``); the full value is shown only behind a
press-and-hold control (``screens.widgets.RevealButton``) where the citizen must check it.
"""

from __future__ import annotations

import re

MASK = "*"

# form fields, certificate fields and catalogue keys that hold an identifier
_IDENTIFIER_KEY = re.compile(
    r"(?:^|_)(?:id_number|phone|mobile|tel|uscc|credit_code|no|number|account)$")
_IDENTIFIER_INPUTS = frozenset({"phone"})


def _kept(length: int) -> tuple[int, int]:
    """How many leading and trailing characters of an identifier stay visible."""
    if length >= 15:  # ID numbers, credit codes, bank cards
        return 4, 4
    if length >= 11:  # mobile phones
        return 3, 4
    if length >= 7:  # card and permit numbers
        return 2, 2
    return 0, length // 3  # short or partly typed: (almost) nothing


def mask_identifier(value: str) -> str:
    """``value`` with its middle letters and digits masked; separators keep their place."""
    positions = [i for i, ch in enumerate(value) if ch.isalnum() or ch == MASK]
    head, tail = _kept(len(positions))
    hidden = set(positions[head:len(positions) - tail])
    return "".join(MASK if i in hidden else ch for i, ch in enumerate(value))


def is_identifier(key: str, input_kind: str = "") -> bool:
    """Whether a field (form, certificate or card field) holds a personal identifier."""
    return input_kind in _IDENTIFIER_INPUTS or bool(_IDENTIFIER_KEY.search(key))
