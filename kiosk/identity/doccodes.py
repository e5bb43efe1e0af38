"""Verification codes printed on kiosk documents (receipts, results, certificate copies).

Format (about 130 characters: a version 6-7 QR fits on an 80 mm receipt)::

    GZDOC1.<issuer>.<kind>.<doc_id>.<base64url(Ed25519 signature)>

The signature covers everything before the last dot. It proves the document id came from
``issuer``; whether the document is *still valid* (not revoked, not expired) is the
platform's answer to ``BackendAdapter.verify_document_code``. Ed25519 rather than HMAC so a
kiosk or an inspector can check authenticity with the public key alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import nacl.exceptions
import nacl.signing

from kiosk.identity.codes import (
    DEFAULT_ISSUER,
    BadSignature,
    MalformedCode,
    UnknownIssuer,
    as_text,
    b64d,
    b64e,
)

PREFIX = "GZDOC1"
KINDS = frozenset({"receipt", "result", "certificate_copy"})
_ISSUER_RE = re.compile(r"[A-Za-z0-9_\-]{1,32}")
_KIND_RE = re.compile(r"[a-z_]{1,24}")
_DOC_ID_RE = re.compile(r"[A-Za-z0-9_\-]{1,64}")


@dataclass(frozen=True)
class DocClaim:
    """An authentic document reference: who issued it, what kind, which document."""

    issuer: str
    kind: str
    doc_id: str


def make_doc_code(key: nacl.signing.SigningKey, doc_id: str, kind: str, *,
                  issuer: str = DEFAULT_ISSUER) -> str:
    """The text to print as a QR code on document ``doc_id`` of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}")
    if not _DOC_ID_RE.fullmatch(doc_id) or not _ISSUER_RE.fullmatch(issuer):
        raise ValueError("doc_id and issuer must be [A-Za-z0-9_-]")
    signed = f"{PREFIX}.{issuer}.{kind}.{doc_id}"
    return f"{signed}.{b64e(key.sign(signed.encode('ascii')).signature)}"


def verify_doc_code(text: str | bytes, trusted: Mapping[str, nacl.signing.VerifyKey],
                    max_len: int = 256) -> DocClaim:
    """Check a scanned document code's authenticity; raise a ``CodeError`` subclass if not."""
    text = as_text(text, max_len)
    parts = text.split(".")
    if len(parts) != 5 or parts[0] != PREFIX:
        raise MalformedCode("not a document code")
    _, issuer, kind, doc_id, sig_text = parts
    if not (_ISSUER_RE.fullmatch(issuer) and _KIND_RE.fullmatch(kind)
            and _DOC_ID_RE.fullmatch(doc_id)) or kind not in KINDS:
        raise MalformedCode("document code field")
    sig = b64d(sig_text)
    if len(sig) != 64:
        raise MalformedCode("signature length")
    key = trusted.get(issuer)
    if key is None:
        raise UnknownIssuer()
    try:
        key.verify(text[: -len(sig_text) - 1].encode("ascii"), sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise BadSignature() from exc
    return DocClaim(issuer, kind, doc_id)


def looks_like_doc_code(text: str) -> bool:
    """Cheap routing test for scanned text (no verification)."""
    return text.startswith(PREFIX + ".")
