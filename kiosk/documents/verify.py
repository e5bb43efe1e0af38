"""Verification codes printed on documents, and the QR payload that carries them.

QR payload format (UTF-8 text, one line)::

    KIOSK-DOC:<doc id>:<code>

``doc id`` is the document's id (an application number plus a suffix such as ``:receipt``;
no ``:`` inside the id's own parts is required — the code is the part after the *last*
colon). ``code`` is 12 characters of Crockford base32 (0-9, A-Z without I L O U), shown
grouped as ``XXXX-XXXX-XXXX``; it is the HMAC-SHA256 of the doc id under the issuing key,
truncated, so whoever holds the key (the platform) can check a printed document.
"""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "KIOSK-DOC"
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def verification_code(doc_id: str, key: bytes) -> str:
    digest = hmac.new(key, doc_id.encode("utf-8"), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big") >> 4  # 60 bits -> 12 base32 characters
    chars = []
    for _ in range(12):
        number, rem = divmod(number, 32)
        chars.append(_ALPHABET[rem])
    return "".join(reversed(chars))


def check_code(doc_id: str, code: str, key: bytes) -> bool:
    return hmac.compare_digest(normalise(code), verification_code(doc_id, key))


def normalise(code: str) -> str:
    """Accept lower case, dashes, spaces and the usual look-alikes (O->0, I/L->1)."""
    table = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})
    return code.upper().translate(table)


def grouped(code: str) -> str:
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def qr_payload(doc_id: str, code: str) -> str:
    if "\n" in doc_id:
        raise ValueError("doc id must be one line")
    return f"{PREFIX}:{doc_id}:{normalise(code)}"


def parse_qr_payload(text: str) -> tuple[str, str]:
    """``KIOSK-DOC:<doc id>:<code>`` -> (doc id, code); ValueError otherwise."""
    prefix, sep, rest = text.strip().partition(":")
    doc_id, sep2, code = rest.rpartition(":")
    if prefix != PREFIX or not sep or not sep2 or not doc_id or not code:
        raise ValueError("not a kiosk document code")
    code = normalise(code)
    if len(code) != 12 or any(c not in _ALPHABET for c in code):
        raise ValueError("malformed verification code")
    return doc_id, code
