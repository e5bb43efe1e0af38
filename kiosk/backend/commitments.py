"""告知承诺制: what binds a signed commitment to its text, its signature and its application.

Kiosk and platform compute the same :func:`digest`; the platform recomputes it from its own
catalogue text, so a commitment signed under another text, another signature or for another
application does not verify. No personal data goes into the digest input beyond the
signature's own hash.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import struct

PURPOSE = "kiosk-commitment/v1"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class SignatureInvalid(ValueError):
    """A signature that is not a usable PNG (``code`` says why)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def signed_time(at: dt.datetime) -> str:
    """The canonical form of a signing time (aware, UTC, whole seconds)."""
    if at.tzinfo is None:
        raise ValueError("signing time must be aware")
    return at.astimezone(dt.UTC).isoformat(timespec="seconds")


def digest(*, matter_id: str, material_id: str, idempotency_key: str, text_version: str,
           language: str, text: str, signed_at: dt.datetime, signature_png: bytes) -> str:
    """SHA-256 over the canonical JSON of what a commitment binds together."""
    body = {"purpose": PURPOSE, "matter_id": matter_id, "material_id": material_id,
            "application": idempotency_key, "text_version": text_version,
            "language": language, "text_sha256": text_hash(text),
            "signed_at": signed_time(signed_at),
            "signature_sha256": hashlib.sha256(signature_png).hexdigest()}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def encode_png(png: bytes | bytearray) -> str:
    return base64.b64encode(bytes(png)).decode("ascii")


def decode_png(data: str, limit: int) -> bytes:
    """The PNG bytes of a base64 signature; :class:`SignatureInvalid` if it is not one, is
    over ``limit`` bytes or has no plausible size (a signature pad is wider than tall)."""
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureInvalid("signature_not_base64") from exc
    if len(raw) > limit:
        raise SignatureInvalid("signature_too_large")
    if len(raw) < 33 or not raw.startswith(PNG_MAGIC) or raw[12:16] != b"IHDR":
        raise SignatureInvalid("signature_not_png")
    width, height = struct.unpack(">II", raw[16:24])
    if not (64 <= width <= 2048 and 32 <= height <= 1024):
        raise SignatureInvalid("signature_bad_size")
    return raw
