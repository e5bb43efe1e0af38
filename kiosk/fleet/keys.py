"""Fleet keys: an offline root key certifies online signing keys, each with an expiry.

Files written by ``kiosk ops keygen``::

    root.key     {"kind": "fleet-root-key", "seed": B64}               (0600, keep offline)
    root.pub     ed25519:B64                                             (the kiosks' trust root)
    signing.key  {"kind": "fleet-signing-key", "seed": B64, "cert": CERT} (0600)

A certificate ``CERT`` is ``{"body": {...}, "sig": B64}``: the root's Ed25519 signature over
the canonical encoding of a body naming the signing key, the root it chains to, what it may
sign (``purposes``: ``config``, ``command``, ``release``: :mod:`kiosk.appliance.release`) and
``not_after`` (Unix seconds). A verifier
holds only ``root.pub`` (:func:`trusted_signer`).
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.exceptions
import nacl.signing

from kiosk.fleet.canonical import NotCanonical, b64d, b64e, canonical, strict_loads
from kiosk.fleet.errors import OperatorError, Rejected

CERT_KIND = "fleet-key-cert"
# what a signing key may sign: config bundles, remote commands, software releases
# (kiosk.appliance.release); keygen and certify give all three unless told otherwise
PURPOSES = ("config", "command", "release")
MAX_KEY_FILE = 16 * 1024
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """``90``, ``45s``, ``30m``, ``12h``, ``7d``, ``2w`` -> seconds (ValueError otherwise)."""
    match = _DURATION.fullmatch(text.strip())
    if not match or float(match.group(1)) <= 0:
        raise ValueError(f"not a duration: {text!r} (e.g. 90s, 30m, 12h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]


def pub_text(key: nacl.signing.VerifyKey) -> str:
    return "ed25519:" + b64e(bytes(key))


def pub_from_text(text: str) -> nacl.signing.VerifyKey:
    """``ed25519:B64`` -> the key; ValueError unless it is a point of the curve's main
    subgroup (32 bytes of anything would pass as a key but verify nothing)."""
    scheme, _, body = text.strip().partition(":")
    raw = b64d(body) if scheme == "ed25519" else b""
    if len(raw) != 32:
        raise ValueError("expected ed25519:<base64url of 32 bytes>")
    try:  # libsodium refuses what is not a valid point, or one of small order
        nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
    except (RuntimeError, nacl.exceptions.CryptoError):
        raise ValueError("not a valid Ed25519 public key (not a point of the curve)") from None
    return nacl.signing.VerifyKey(raw)


def key_id(key: nacl.signing.VerifyKey) -> str:
    return b64e(bytes(key))[:11]


@dataclass(frozen=True)
class SigningKey:
    """An online signing key with the root's certificate for it."""

    key: nacl.signing.SigningKey
    cert: dict[str, Any]

    @property
    def not_after(self) -> float:
        return float(self.cert["body"]["not_after"])


def certify(root: nacl.signing.SigningKey, key: nacl.signing.VerifyKey, valid_s: float,
            purposes: tuple[str, ...] = PURPOSES, now: float | None = None) -> dict[str, Any]:
    """The root's certificate for ``key``, valid ``valid_s`` seconds from ``now``."""
    issued = int(time.time() if now is None else now)
    body = {"kind": CERT_KIND, "key": pub_text(key), "key_id": key_id(key),
            "root": pub_text(root.verify_key), "purposes": list(purposes),
            "issued_at": issued, "not_after": issued + int(valid_s)}
    return {"body": body, "sig": b64e(root.sign(canonical(body)).signature)}


def trusted_signer(cert: object, root: nacl.signing.VerifyKey, purpose: str,
                   now: float) -> nacl.signing.VerifyKey:
    """The signing key ``cert`` certifies, if ``root`` signed it for ``purpose`` and it has
    not expired; else :class:`Rejected` ``untrusted_key``."""
    try:
        if not isinstance(cert, dict) or set(cert) != {"body", "sig"}:
            raise ValueError("certificate shape")
        body = cert["body"]
        if not isinstance(body, dict) or body.get("kind") != CERT_KIND:
            raise ValueError("certificate kind")
        sig = b64d(cert["sig"])
        key = pub_from_text(str(body.get("key", "")))
        not_after = body.get("not_after")
        purposes = body.get("purposes")
    except (ValueError, NotCanonical) as exc:
        raise Rejected("untrusted_key", f"unreadable signing-key certificate ({exc})") from None
    try:
        root.verify(canonical(body), sig)
    except (nacl.exceptions.BadSignatureError, ValueError, NotCanonical):
        raise Rejected("untrusted_key", "signing key not certified by the trusted root "
                       f"(key {key_id(key)})") from None
    if not isinstance(purposes, list) or purpose not in purposes:
        raise Rejected("untrusted_key", f"signing key {key_id(key)} may not sign {purpose}")
    if type(not_after) is not int or now >= not_after:
        raise Rejected("untrusted_key", f"the certificate of signing key {key_id(key)} "
                       "has expired")
    return key


# -- files -------------------------------------------------------------------------------
def _write_new(path: Path, text: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _read(path: str | Path, what: str) -> str:
    p = Path(path)
    try:
        if p.stat().st_size > MAX_KEY_FILE:
            raise OperatorError(str(p), f"too large for {what}")
        return p.read_text(encoding="utf-8")
    except OSError as exc:
        raise OperatorError(str(p), f"cannot read {what} ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise OperatorError(str(p), f"not {what} (not UTF-8)") from None


def _read_json_key(path: str | Path, kind: str) -> dict[str, Any]:
    try:
        data = strict_loads(_read(path, kind), MAX_KEY_FILE)
    except NotCanonical as exc:
        raise OperatorError(str(path), f"not a {kind} file ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != kind:
        raise OperatorError(str(path), f"not a {kind} file")
    return data


def _seed_key(data: dict[str, Any], path: str | Path) -> nacl.signing.SigningKey:
    try:
        seed = b64d(data.get("seed"))
    except NotCanonical:
        seed = b""
    if len(seed) != 32:
        raise OperatorError(f"{path}: seed", "not an Ed25519 seed")
    return nacl.signing.SigningKey(seed)


def keygen(out: str | Path, valid_s: float, now: float | None = None,
           purposes: tuple[str, ...] = PURPOSES) -> dict[str, Path]:
    """Create ``root.key``, ``root.pub`` and ``signing.key`` (certified for ``purposes``)
    in ``out``.

    Refuses to overwrite any of them (a lost root key cannot be replaced in the field).
    """
    folder = Path(out)
    paths = {n: folder / n for n in ("root.key", "root.pub", "signing.key")}
    taken = [str(p) for p in paths.values() if p.exists()]
    if taken:
        raise OperatorError(taken[0], "exists; keys are never overwritten")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    root = nacl.signing.SigningKey(secrets.token_bytes(32))
    signing = nacl.signing.SigningKey(secrets.token_bytes(32))
    cert = certify(root, signing.verify_key, valid_s, purposes, now=now)
    _write_new(paths["root.key"], canonical(
        {"kind": "fleet-root-key", "seed": b64e(bytes(root))}).decode() + "\n", 0o600)
    _write_new(paths["root.pub"], pub_text(root.verify_key) + "\n", 0o644)
    write_signing_key(paths["signing.key"], signing, cert)
    return paths


def write_signing_key(path: str | Path, key: nacl.signing.SigningKey,
                      cert: dict[str, Any]) -> None:
    try:
        _write_new(Path(path), canonical({"kind": "fleet-signing-key", "seed": b64e(bytes(key)),
                                          "cert": cert}).decode() + "\n", 0o600)
    except FileExistsError:
        raise OperatorError(str(path), "exists; keys are never overwritten") from None


def load_root_key(path: str | Path) -> nacl.signing.SigningKey:
    return _seed_key(_read_json_key(path, "fleet-root-key"), path)


def load_signing_key(path: str | Path) -> SigningKey:
    data = _read_json_key(path, "fleet-signing-key")
    key = _seed_key(data, path)
    cert = data.get("cert")
    if not isinstance(cert, dict) or not isinstance(cert.get("body"), dict) \
            or cert["body"].get("key") != pub_text(key.verify_key):
        raise OperatorError(f"{path}: cert", "the certificate is not for this key")
    return SigningKey(key, cert)


def load_trust_root(path: str | Path) -> nacl.signing.VerifyKey:
    """``root.pub`` (``ed25519:B64``); :class:`OperatorError` naming the file otherwise."""
    try:
        return pub_from_text(_read(path, "a public key"))
    except (ValueError, NotCanonical) as exc:
        raise OperatorError(str(path), f"not a root public key ({exc})") from None
