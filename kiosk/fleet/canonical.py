"""The one canonical JSON encoding that signatures cover, and a strict JSON reader.

Canonical: keys sorted, no spaces, UTF-8, no NaN or infinities. What a signer encodes and
what a verifier re-encodes from the parsed document are the same bytes, so a signature
covers meaning, not spelling. The reader refuses duplicate keys (two spellings of one
document), NaN and infinities, and documents over a size limit, before any signature check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

_B64 = re.compile(r"[A-Za-z0-9_\-]*")


class NotCanonical(ValueError):
    """A document that cannot be encoded or read under these rules."""


def canonical(data: Any) -> bytes:
    """``data`` as canonical JSON bytes; :class:`NotCanonical` for non-JSON values."""
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise NotCanonical(str(exc)) from None


def digest(data: Any) -> str:
    """``sha256:<hex>`` of the canonical encoding of ``data``."""
    return "sha256:" + hashlib.sha256(canonical(data)).hexdigest()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise NotCanonical(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise NotCanonical(f"{name} is not allowed")


def strict_loads(data: bytes | str, max_bytes: int) -> Any:
    """Parse JSON of at most ``max_bytes``; no duplicate keys, NaN or infinities."""
    if len(data) > max_bytes:
        raise NotCanonical(f"larger than {max_bytes} bytes")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except NotCanonical:
        raise
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotCanonical(f"not JSON ({exc.__class__.__name__})") from None


def b64e(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: object) -> bytes:
    """Decode canonical unpadded base64url; :class:`NotCanonical` on anything else."""
    if not isinstance(text, str) or not _B64.fullmatch(text) or len(text) % 4 == 1:
        raise NotCanonical("bad base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise NotCanonical("bad base64url") from None
    if b64e(data) != text:
        raise NotCanonical("non-canonical base64url")
    return data
