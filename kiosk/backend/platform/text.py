"""The one validator for every text the platform accepts (names, form values, addresses,
reasons, references, codes).

Refused with :class:`InvalidRequest` (HTTP 422): lone surrogates (not UTF-8, they break the
database and JSON), control characters (C0, DEL, C1; tab and newline only where a field is
multi-line), line/paragraph separators, bidirectional overrides and isolates (they make a
text read differently from what it stores) and the byte-order mark. The message names the
field, never the value (it may be personal data).
"""

from __future__ import annotations

import re

from kiosk.backend.contract import InvalidRequest

TEXT_INVALID = "text_invalid"
TEXT_TOO_LONG = "text_too_long"
DEFAULT_LIMIT = 500

# C0 and C1 controls, DEL, surrogates, U+2028/2029, bidi embeddings/overrides/isolates, BOM
_BAD = "\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff"
_SINGLE_LINE = re.compile(f"[{_BAD}\t\n]")
_MULTI_LINE = re.compile(f"[{_BAD}]")


def clean_text(value: str, what: str, *, limit: int = DEFAULT_LIMIT,
               multiline: bool = False, strip: bool = True) -> str:
    """``value`` stripped of surrounding white space, or :class:`InvalidRequest`
    (``text_invalid``: a refused character; ``text_too_long``: over ``limit`` characters)."""
    if not isinstance(value, str):
        raise InvalidRequest(f"{what}: not text", code=TEXT_INVALID)
    if len(value) > limit:
        raise InvalidRequest(f"{what}: longer than {limit} characters", code=TEXT_TOO_LONG)
    if (_MULTI_LINE if multiline else _SINGLE_LINE).search(value):
        raise InvalidRequest(f"{what}: control or invalid characters", code=TEXT_INVALID)
    return value.strip() if strip else value
