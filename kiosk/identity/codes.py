"""Signed, expiring dynamic identity codes (the "phone code" a citizen shows instead of a card).

Wire format, compact enough for a QR code on a phone screen (about 200 characters)::

    GZID1.<base64url(payload)>.<base64url(signature)>

``payload`` is UTF-8 JSON with exactly the keys ``i`` issuer, ``p`` purpose, ``h`` holder
reference (an opaque platform holder id, never an ID number), ``t`` issued-at and ``e``
expiry (integer Unix seconds, ``e - t`` at most 60) and ``n`` a random nonce, and optionally
``a`` an audience: the id of the one kiosk the code is shown to (other kiosks refuse it;
codes without ``a`` are valid at any kiosk, as before). The Ed25519
signature covers the ASCII text ``GZID1.<base64url(payload)>``. Base64url is unpadded and must
be canonical, so a code has exactly one valid spelling.

Pure: no I/O apart from the key-file helpers at the end. Replay detection is the platform's
job (:class:`NonceLedger`): this module only proves a code authentic and current.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import nacl.exceptions
import nacl.signing

PREFIX = "GZID1"
DEFAULT_ISSUER = "ref-platform"
MAX_TTL_S = 60
CLOCK_SKEW_S = 5.0
_KEYS = frozenset("iphten")
_KEYS_WITH_AUDIENCE = _KEYS | {"a"}
_TOKEN_RE = re.compile(r"[A-Za-z0-9_\-]+")
_NAME_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_ID_NUMBER_RE = re.compile(r"\d{17}[\dXx]|[0-9A-HJ-NPQRTUWXY]{18}")


class CodeError(ValueError):
    """A scanned code was refused; ``code`` says why (stable, safe to show and audit)."""

    code = "malformed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.code)


class MalformedCode(CodeError):
    code = "malformed"


class CodeTooLong(CodeError):
    code = "too_long"


class CodeNotUtf8(CodeError):
    code = "not_utf8"


class UnknownIssuer(CodeError):
    code = "unknown_issuer"


class BadSignature(CodeError):
    code = "bad_signature"


class CodeExpired(CodeError):
    code = "expired"


class CodeNotYetValid(CodeError):
    code = "not_yet_valid"


class WrongPurpose(CodeError):
    code = "wrong_purpose"


class WrongAudience(CodeError):
    """The code names another kiosk as its audience (or the verifier named none)."""

    code = "wrong_audience"


@dataclass(frozen=True)
class IdentityClaim:
    """What a verified identity code says: who issued it, for whom, for what, until when."""

    issuer: str
    purpose: str
    holder: str
    issued_at: int
    expires_at: int
    nonce: str
    audience: str | None = None


# -- base64url, strict ---------------------------------------------------------------------
def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64d(text: str) -> bytes:
    """Decode unpadded canonical base64url; :class:`MalformedCode` on anything else."""
    if not _TOKEN_RE.fullmatch(text) or len(text) % 4 == 1:
        raise MalformedCode("bad base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise MalformedCode("bad base64url") from exc
    if b64e(data) != text:  # non-canonical trailing bits: a second spelling of the same bytes
        raise MalformedCode("non-canonical base64url")
    return data


def as_text(data: str | bytes, max_len: int) -> str:
    """The scanned data as text, refusing oversized and non-UTF-8 input first (cheap checks)."""
    if len(data) > max_len:
        raise CodeTooLong(f"longer than {max_len}")
    if isinstance(data, bytes | bytearray):
        try:
            return bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CodeNotUtf8() from exc
    try:
        data.encode("utf-8")  # lone surrogates (from surrogateescape) are not UTF-8
    except UnicodeEncodeError as exc:
        raise CodeNotUtf8() from exc
    return data


# -- issue / verify ------------------------------------------------------------------------
def issue_code(signing_key: nacl.signing.SigningKey, issuer: str, holder: str, now: float,
               ttl_s: int = MAX_TTL_S, purpose: str = "identity", *,
               nonce: str | None = None, audience: str | None = None) -> str:
    """Make a signed identity code for ``holder`` valid ``ttl_s`` (1..60) seconds from ``now``.

    ``holder`` is the platform's opaque holder reference; an ID number is refused
    (:class:`ValueError`) so that no personal data ends up in a QR code. ``audience``, when
    given, is the kiosk id that alone may accept the code.
    """
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be 1..{MAX_TTL_S}")
    names = [("issuer", issuer), ("holder", holder), ("purpose", purpose)]
    if audience is not None:
        names.append(("audience", audience))
    for label, value in names:
        if not _NAME_RE.fullmatch(value):
            raise ValueError(f"{label} must match {_NAME_RE.pattern}")
    if _ID_NUMBER_RE.fullmatch(holder):
        raise ValueError("holder must be an opaque holder reference, not an ID number")
    nonce = nonce if nonce is not None else b64e(secrets.token_bytes(16))
    if not _TOKEN_RE.fullmatch(nonce) or len(nonce) > 43:
        raise ValueError("nonce must be base64url, at most 43 characters")
    issued = int(now)
    body: dict[str, str | int] = {"i": issuer, "p": purpose, "h": holder, "t": issued,
                                  "e": issued + ttl_s, "n": nonce}
    if audience is not None:
        body["a"] = audience
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    signed = f"{PREFIX}.{b64e(payload)}"
    sig = signing_key.sign(signed.encode("ascii")).signature
    return f"{signed}.{b64e(sig)}"


def _parse_claim(payload: bytes) -> IdentityClaim:
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedCode("payload is not JSON") from exc
    if not isinstance(body, dict) or set(body) not in (_KEYS, _KEYS_WITH_AUDIENCE):
        raise MalformedCode("payload keys")
    strings = [body[k] for k in "iphn" + ("a" if "a" in body else "")]
    times = [body[k] for k in "te"]
    if not all(isinstance(s, str) and _NAME_RE.fullmatch(s) for s in strings):
        raise MalformedCode("payload field")
    if not all(type(t) is int and 0 <= t < 2**40 for t in times):
        raise MalformedCode("payload time")
    claim = IdentityClaim(body["i"], body["p"], body["h"], body["t"], body["e"], body["n"],
                          body.get("a"))
    if not 0 < claim.expires_at - claim.issued_at <= MAX_TTL_S:
        raise MalformedCode("lifetime")
    return claim


def verify_code(text: str | bytes, trusted: Mapping[str, nacl.signing.VerifyKey], now: float,
                purpose: str = "identity", max_len: int = 512, *,
                audience: str | None = None) -> IdentityClaim:
    """Check a scanned identity code; return its claim or raise a :class:`CodeError`.

    Order: size, encoding, shape, issuer, signature, purpose, audience, time. ``audience`` is
    the verifying kiosk's id: a code naming another kiosk, or naming one when ``audience`` is
    None, is refused (:class:`WrongAudience`). Single use (replay) is checked afterwards by
    the platform with a :class:`NonceLedger`.
    """
    text = as_text(text, max_len)
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise MalformedCode("not an identity code")
    payload, sig = b64d(parts[1]), b64d(parts[2])
    if len(sig) != 64:
        raise MalformedCode("signature length")
    claim = _parse_claim(payload)
    key = trusted.get(claim.issuer)
    if key is None:
        raise UnknownIssuer()
    try:
        key.verify(f"{PREFIX}.{parts[1]}".encode("ascii"), sig)
    except nacl.exceptions.BadSignatureError as exc:
        raise BadSignature() from exc
    if claim.purpose != purpose:
        raise WrongPurpose()
    if claim.audience is not None and claim.audience != audience:
        raise WrongAudience()
    if now + CLOCK_SKEW_S < claim.issued_at:
        raise CodeNotYetValid()
    if now >= claim.expires_at:
        raise CodeExpired()
    return claim


def looks_like_identity_code(text: str) -> bool:
    """Cheap routing test for scanned text (no verification)."""
    return text.startswith(PREFIX + ".")


# -- single use ----------------------------------------------------------------------------
@runtime_checkable
class NonceLedger(Protocol):
    """Remembers used nonces until their code expires; the platform refuses replays with it."""

    def check_and_record(self, nonce: str, expires_at: float) -> bool:
        """True when ``nonce`` is fresh (and now recorded); False for a replay."""
        ...


class MemoryNonceLedger:
    """In-memory :class:`NonceLedger`; forgets a nonce once its code has expired."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_record(self, nonce: str, expires_at: float) -> bool:
        now = float(self._clock())
        with self._lock:
            if len(self._seen) > 1024:
                self._seen = {n: e for n, e in self._seen.items() if e + CLOCK_SKEW_S > now}
            if nonce in self._seen:
                return False
            self._seen[nonce] = expires_at
            return True


# -- keys ----------------------------------------------------------------------------------
def load_or_create_signing_key(path: str | os.PathLike[str]) -> nacl.signing.SigningKey:
    """Read the Ed25519 seed (base64url, one line) at ``path``; create it (mode 0600) if absent.

    Creation is atomic (``O_EXCL``), so two processes starting together end up with one key.
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not p.exists():
        seed = secrets.token_bytes(32)
        try:
            fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as fh:
                fh.write(b64e(seed) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            return nacl.signing.SigningKey(seed)
    text = p.read_text(encoding="ascii").strip()
    seed = b64d(text)
    if len(seed) != 32:
        raise ValueError(f"{p}: not an Ed25519 seed")
    return nacl.signing.SigningKey(seed)


def verify_key_to_text(key: nacl.signing.VerifyKey) -> str:
    """``ed25519:<base64url>`` — the form public keys take in config and bundles."""
    return "ed25519:" + b64e(bytes(key))


def verify_key_from_text(text: str) -> nacl.signing.VerifyKey:
    scheme, _, body = text.strip().partition(":")
    if scheme != "ed25519":
        raise ValueError("expected ed25519:<base64url>")
    raw = b64d(body)
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key has 32 bytes")
    return nacl.signing.VerifyKey(raw)
