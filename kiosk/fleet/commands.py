"""Remote commands: signed, expiring, kiosk-scoped envelopes with a single-use nonce.

An envelope on ``kiosk/<id>/cmd`` is JSON ``{"body": BODY, "cert": CERT, "sig": B64}``::

    BODY = {"format": "kiosk-command/1", "purpose": "command", "kiosk": "k1",
            "command": "out_of_service", "args": {}, "nonce": B64, "issued_at": T,
            "expires_at": T2}

signed like a bundle (:mod:`kiosk.fleet.bundle`) by a key certified for ``command``. A
lifetime is at most :data:`MAX_TTL_S`; the kiosk keeps each nonce (on disk, so a restart
does not reopen a replay) until its envelope expires.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from kiosk.files import write_private
from kiosk.fleet.canonical import NotCanonical, b64d, b64e, canonical, strict_loads
from kiosk.fleet.errors import Rejected
from kiosk.fleet.keys import SigningKey, trusted_signer

log = logging.getLogger("kiosk.fleet")

FORMAT = "kiosk-command/1"
COMMANDS = ("out_of_service", "back_in_service", "restart_when_idle", "run_diagnostics",
            "collect_logs", "screenshot")
MAX_TTL_S = 3600
CLOCK_SKEW_S = 30
MAX_COMMAND_BYTES = 16 * 1024
MAX_LIVE_NONCES = 10_000
_NONCE = re.compile(r"[A-Za-z0-9_\-]{16,64}")
_BODY_KEYS = frozenset({"format", "purpose", "kiosk", "command", "args", "nonce", "issued_at",
                        "expires_at"})


@dataclass(frozen=True)
class Command:
    """A verified command for this kiosk."""

    name: str
    args: dict[str, Any]
    nonce: str
    issued_at: int
    expires_at: int


def sign_command(key: SigningKey, kiosk_id: str, name: str, args: Mapping[str, Any] | None = None,
                 ttl_s: float = 300, now: float | None = None,
                 nonce: str | None = None) -> bytes:
    """A signed envelope asking ``kiosk_id`` to run ``name``."""
    if name not in COMMANDS:
        raise ValueError(f"unknown command {name!r} (known: {', '.join(COMMANDS)})")
    if not 1 <= ttl_s <= MAX_TTL_S:
        raise ValueError(f"a command lives 1..{MAX_TTL_S} s")
    issued = int(time.time() if now is None else now)
    body = {"format": FORMAT, "purpose": "command", "kiosk": kiosk_id, "command": name,
            "args": dict(args or {}), "nonce": nonce or b64e(secrets.token_bytes(18)),
            "issued_at": issued, "expires_at": issued + int(ttl_s)}
    return canonical({"body": body, "cert": key.cert,
                      "sig": b64e(key.key.sign(canonical(body)).signature)})


def peek_nonce(payload: bytes) -> str | None:
    """The nonce of an envelope, unverified (to address a refusal), if it has one."""
    try:
        doc = strict_loads(payload, MAX_COMMAND_BYTES)
        nonce = doc["body"]["nonce"]
    except (NotCanonical, KeyError, TypeError):
        return None
    return nonce if isinstance(nonce, str) and _NONCE.fullmatch(nonce) else None


def verify_command(payload: bytes, root: nacl.signing.VerifyKey, kiosk_id: str,
                   now: float | None = None) -> Command:
    """The command in ``payload`` for ``kiosk_id``, or :class:`Rejected` (no replay check:
    that is :class:`NonceLedger`'s)."""
    now = time.time() if now is None else now
    try:
        doc = strict_loads(payload, MAX_COMMAND_BYTES)
        if not isinstance(doc, dict) or set(doc) != {"body", "cert", "sig"} \
                or not isinstance(doc["body"], dict):
            raise NotCanonical("not a command envelope")
        body, sig = doc["body"], b64d(doc["sig"])
    except NotCanonical as exc:
        raise Rejected("malformed", str(exc)) from None
    signer = trusted_signer(doc["cert"], root, "command", now)
    try:
        signer.verify(canonical(body), sig)
    except (nacl.exceptions.BadSignatureError, ValueError):
        raise Rejected("bad_signature", "the signature does not match the envelope") from None
    if set(body) != _BODY_KEYS or body["format"] != FORMAT or body["purpose"] != "command" \
            or not isinstance(body["args"], dict) or not isinstance(body["command"], str) \
            or not isinstance(body["nonce"], str) or not _NONCE.fullmatch(body["nonce"]) \
            or type(body["issued_at"]) is not int or type(body["expires_at"]) is not int:
        raise Rejected("malformed", "not a command envelope")
    if not 0 < body["expires_at"] - body["issued_at"] <= MAX_TTL_S:
        raise Rejected("malformed", f"a command lives at most {MAX_TTL_S} s")
    if now >= body["expires_at"]:
        raise Rejected("expired", f"expired at {body['expires_at']}")
    if body["issued_at"] > now + CLOCK_SKEW_S:
        raise Rejected("expired", "issued in the future (check the clocks)")
    if body["kiosk"] != kiosk_id:
        raise Rejected("wrong_scope", "for another kiosk")
    if body["command"] not in COMMANDS:
        raise Rejected("unknown_command", f"{body['command'][:40]!r}")
    return Command(body["command"], body["args"], body["nonce"], body["issued_at"],
                   body["expires_at"])


class NonceLedger:
    """Nonces seen, each kept until its envelope expires, persisted in one JSON file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self._not_before = 0.0
        try:
            data = strict_loads(self.path.read_bytes(), 4 * 1024 * 1024)
            if isinstance(data, dict):
                self._seen = {str(k): float(v) for k, v in data.items()
                              if isinstance(v, int | float)}
        except FileNotFoundError:
            pass
        except (OSError, NotCanonical, ValueError) as exc:
            # the nonces are lost: refuse every envelope issued before now (each of those
            # may be a replay); the ones issued from now on are recorded again
            self._not_before = time.time()
            log.error("fleet nonce ledger %s unreadable (%s); commands issued before now are "
                      "refused", self.path.name, exc)

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_record(self, command: Command, now: float | None = None) -> None:
        """Record the command's nonce; :class:`Rejected` ``replayed`` if seen before."""
        now = time.time() if now is None else now
        nonce, expires_at = command.nonce, command.expires_at
        if command.issued_at < self._not_before:
            raise Rejected("replayed", "issued before the nonce ledger was lost")
        with self._lock:
            self._seen = {n: e for n, e in self._seen.items() if e + CLOCK_SKEW_S > now}
            if nonce in self._seen:
                raise Rejected("replayed", "this command was already received")
            if len(self._seen) >= MAX_LIVE_NONCES:
                raise Rejected("failed", "too many live commands; retry later")
            self._seen[nonce] = expires_at
            write_private(self.path, canonical(self._seen))
