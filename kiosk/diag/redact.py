"""The one redaction rule of every diagnostics output (JSON, PDF text, logs, stored errors).

On top of :func:`kiosk.privacy.redact` (personal keys' values replaced, ID numbers and credit
codes masked, bytes reduced to their length) it masks, in text a device produced, every run
of Han characters: drivers word their messages in ASCII, so Han text there can only have come
from a card, a scanned code or a certificate (a citizen's name, an address). Text the kiosk
itself writes (its location, the printer fixes, the out-of-service alternative) keeps its
Chinese; ID numbers are masked everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from kiosk.privacy import REDACT_KEYS
from kiosk.privacy import redact as privacy_redact

# keys whose values are personal in diagnostics too (on top of kiosk.privacy.REDACT_KEYS)
DIAG_KEYS = REDACT_KEYS | frozenset({
    "holder", "holder_ref", "card", "certificate", "certificates", "cert", "subject",
    "issuer_name", "payload", "code_text", "scanned", "text_read", "nation", "sex",
})
MASK = "**"
_HAN = re.compile(r"[\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3038-\u303b\u3400-\u4dbf"
                  r"\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")
# ID numbers (18, and the first generation's 15 digits) and credit codes, not inside a longer
# word (a hash, a nonce)
_ID = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15}|[0-9A-HJ-NPQRTUWXY]{2}\d{6}"
                 r"[0-9A-HJ-NPQRTUWXY]{10})(?![0-9A-Za-z])")
MAX_TEXT = 500


Source = Literal["device", "kiosk", "output"]


def redact(data: Any, *, source: Source = "device") -> Any:
    """``data`` fit for a diagnostics output.

    ``device``: anything a device or driver produced (inventories, check details, counters,
    error texts): personal keys' values replaced, ID numbers masked, Han text masked.
    ``kiosk``: text the kiosk writes itself (location, fixes): personal keys and ID numbers.
    ``output``: the last pass over a whole report before it is printed or rendered: ID
    numbers masked in every string, the report's own keys (a device's ``name``) kept.
    """
    if source == "output":
        return _deep(data, han=False)
    return _deep(privacy_redact(data, DIAG_KEYS), han=source == "device")


def redact_text(text: str, *, source: Source = "device") -> str:
    """One line of text through :func:`redact`, bounded to :data:`MAX_TEXT` characters."""
    out = str(redact(str(text), source=source))
    return out if len(out) <= MAX_TEXT else out[: MAX_TEXT - 1] + "…"


def _deep(data: Any, han: bool) -> Any:
    if isinstance(data, Mapping):
        return {_deep(str(k), han): _deep(v, han) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_deep(v, han) for v in data]
    if isinstance(data, bytes | bytearray):
        return f"<{len(data)} bytes>"
    if isinstance(data, str):
        text = _ID.sub("**ID**", data)
        return _HAN.sub(MASK, text) if han else text
    return data
