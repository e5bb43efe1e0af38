"""Privacy helpers: pseudonyms for logs and audits, redaction for diagnostics."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from typing import Any

_SALT = os.urandom(16)  # per process: pseudonyms link events of one run, never across runs

REDACT_KEYS = frozenset({
    "name", "id_number", "address", "birth_date", "photo", "face", "encoding", "holder_name",
    "holder_code", "pass_number", "mail_address", "phone", "en_name", "image", "frame",
})
_ID_RE = re.compile(r"\b\d{17}[\dXx]\b|\b[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}\b")


def pseudonym(value: str, purpose: str = "log") -> str:
    """A short keyed hash of a personal identifier, stable within one process run."""
    digest = hmac.new(_SALT, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"h:{digest[:12]}"


def redact(data: Any, keys: frozenset[str] = REDACT_KEYS) -> Any:
    """Replace listed keys' values with ``**REDACTED**``, recursively; mask ID numbers."""
    if isinstance(data, Mapping):
        return {k: ("**REDACTED**" if k in keys else redact(v, keys)) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [redact(v, keys) for v in data]
    if isinstance(data, bytes | bytearray):
        return f"<{len(data)} bytes>"
    if isinstance(data, str):
        return _ID_RE.sub("**ID**", data)
    return data
