"""Technician access to maintenance mode: a signed, kiosk-bound, expiring, single-use token
plus a PIN, with attempts rate-limited and locked out after repeated failures.

Token wire format (short enough for a QR code, about 270 characters)::

    KTECH1.<base64url(payload)>.<base64url(signature)>

``payload`` is JSON with exactly ``i`` issuer, ``p`` purpose (``maintenance``), ``k`` the kiosk
id, ``t`` issued-at, ``e`` expiry (Unix seconds) and ``n`` a random nonce; the Ed25519
signature covers ``KTECH1.<base64url(payload)>``. A token names no person: the issuer keeps
which technician got which token id (``sha256(nonce)``, 16 hex digits), the audit log records
that id.

The lock-out state and the used nonces live in ``technician-access.sqlite`` under the var dir
(0600), so neither a restart nor a second process resets them. Every attempt and every action
goes to the audit log.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing

from kiosk.audit import AuditLog
from kiosk.config.schema import TechnicianConfig
from kiosk.diag.redact import redact
from kiosk.files import private_file
from kiosk.identity.codes import MalformedCode, b64d, b64e, verify_key_from_text

PREFIX = "KTECH1"
PURPOSE = "maintenance"
DEFAULT_ISSUER = "fleet-ops"
MAX_ISSUE_TTL_S = 7 * 86400
MAX_TOKEN_CHARS = 1024
CLOCK_SKEW_S = 60.0
STATE_FILE = "technician-access.sqlite"
_KEYS = frozenset("ipkten")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}")
_PIN = re.compile(r"\d{6,16}")
_SCRYPT = {"n_log2": 14, "r": 8, "p": 1}
_TTL = re.compile(r"(\d+)\s*([smhd]?)")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


# -- errors --------------------------------------------------------------------------------
class TokenRefused(ValueError):
    """A technician token that is not accepted; ``code`` is stable, safe to show and audit."""

    code = "malformed"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.code)


class MalformedToken(TokenRefused):
    code = "malformed"


class BadSignature(TokenRefused):
    code = "bad_signature"


class WrongPurpose(TokenRefused):
    code = "wrong_purpose"


class WrongKiosk(TokenRefused):
    code = "wrong_kiosk"


class TokenExpired(TokenRefused):
    code = "expired"


class TokenNotYetValid(TokenRefused):
    code = "not_yet_valid"


class TokenTooLongLived(TokenRefused):
    code = "too_long_lived"


class AccessConfigError(Exception):
    """Maintenance access cannot be used as configured; ``key`` is the key path to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


# -- tokens --------------------------------------------------------------------------------
@dataclass(frozen=True)
class TechnicianClaim:
    issuer: str
    purpose: str
    kiosk: str
    issued_at: int
    expires_at: int
    nonce: str

    @property
    def token_id(self) -> str:
        return token_id(self.nonce)


def token_id(nonce: str) -> str:
    """The id the issuer and the audit log know a token by (no person in it)."""
    return hashlib.sha256(f"ktech:{nonce}".encode()).hexdigest()[:16]


def parse_ttl(text: str) -> int:
    """``8h``, ``30m``, ``3600`` or ``1d`` as seconds (1 s .. 7 days)."""
    m = _TTL.fullmatch(text.strip().lower())
    if not m:
        raise ValueError(f"{text!r} is not a duration such as 8h, 30m or 3600s")
    seconds = int(m.group(1)) * _UNITS[m.group(2)]
    if not 1 <= seconds <= MAX_ISSUE_TTL_S:
        raise ValueError(f"the lifetime must be 1 s to {MAX_ISSUE_TTL_S // 86400} days")
    return seconds


def issue_token(signing_key: nacl.signing.SigningKey, kiosk_id: str, ttl_s: int, now: float,
                *, issuer: str = DEFAULT_ISSUER, nonce: str | None = None) -> str:
    """A signed maintenance token for the one kiosk ``kiosk_id``, valid ``ttl_s`` seconds."""
    for label, value in (("kiosk", kiosk_id), ("issuer", issuer)):
        if not _NAME.fullmatch(value):
            raise ValueError(f"{label} must match {_NAME.pattern}")
    if not 1 <= ttl_s <= MAX_ISSUE_TTL_S:
        raise ValueError(f"ttl_s must be 1..{MAX_ISSUE_TTL_S}")
    nonce = nonce if nonce is not None else secrets.token_hex(16)  # a name: no leading - or _
    body = {"i": issuer, "p": PURPOSE, "k": kiosk_id, "t": int(now), "e": int(now) + ttl_s,
            "n": nonce}
    payload = json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    signed = f"{PREFIX}.{b64e(payload)}"
    return f"{signed}.{b64e(signing_key.sign(signed.encode('ascii')).signature)}"


def _claim(payload: bytes) -> TechnicianClaim:
    try:
        body = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise MalformedToken("payload is not JSON") from exc
    if not isinstance(body, dict) or set(body) != _KEYS:
        raise MalformedToken("payload keys")
    names = [body[k] for k in "ipkn"]
    if not all(isinstance(v, str) and _NAME.fullmatch(v) for v in names):
        raise MalformedToken("payload field")
    if not all(type(body[k]) is int and 0 <= body[k] < 2**40 for k in "te"):
        raise MalformedToken("payload time")
    return TechnicianClaim(body["i"], body["p"], body["k"], body["t"], body["e"], body["n"])


def verify_token(text: str, trusted: nacl.signing.VerifyKey, kiosk_id: str, now: float, *,
                 max_ttl_s: int = 86400) -> TechnicianClaim:
    """The claim of an authentic, current maintenance token for this kiosk, or
    :class:`TokenRefused`. Order: shape, signature, purpose, kiosk, lifetime, time."""
    text = text.strip()
    if len(text) > MAX_TOKEN_CHARS or not text.isascii():
        raise MalformedToken("too long or not ASCII")
    parts = text.split(".")
    if len(parts) != 3 or parts[0] != PREFIX:
        raise MalformedToken("not a technician token")
    try:
        payload, sig = b64d(parts[1]), b64d(parts[2])
    except MalformedCode as exc:
        raise MalformedToken(str(exc)) from None
    if len(sig) != 64:
        raise MalformedToken("signature length")
    claim = _claim(payload)
    try:
        trusted.verify(f"{PREFIX}.{parts[1]}".encode("ascii"), sig)
    except nacl.exceptions.BadSignatureError:
        raise BadSignature() from None
    if claim.purpose != PURPOSE:
        raise WrongPurpose()
    if claim.kiosk != kiosk_id:
        raise WrongKiosk()
    if not 0 < claim.expires_at - claim.issued_at <= max_ttl_s:
        raise TokenTooLongLived()
    if now + CLOCK_SKEW_S < claim.issued_at:
        raise TokenNotYetValid()
    if now >= claim.expires_at:
        raise TokenExpired()
    return claim


def load_trusted_key(path: str | None) -> nacl.signing.VerifyKey:
    key = "service.technician.trust_key_file"
    if not path:
        raise AccessConfigError(key, "not set: no technician token can be checked")
    try:
        return verify_key_from_text(Path(path).read_text(encoding="ascii"))
    except OSError as exc:
        raise AccessConfigError(key, f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise AccessConfigError(key, f"{path} holds no ed25519:<base64url> key ({exc})") from None


# -- PIN -----------------------------------------------------------------------------------
def hash_pin(pin: str, *, salt: bytes | None = None) -> str:
    """``scrypt$<log2 n>$<r>$<p>$<salt>$<hash>`` of a 6..16 digit PIN (for the config)."""
    if not _PIN.fullmatch(pin):
        raise ValueError("the PIN must be 6 to 16 digits")
    salt = salt if salt is not None else secrets.token_bytes(16)
    n_log2, r, p = _SCRYPT["n_log2"], _SCRYPT["r"], _SCRYPT["p"]
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**n_log2, r=r, p=p, dklen=32)
    return f"scrypt${n_log2}${r}${p}${b64e(salt)}${b64e(digest)}"


def check_pin(pin: str, stored: str) -> bool:
    try:
        kind, n_log2, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or not 10 <= int(n_log2) <= 20:
            return False
        want = b64d(digest)
        got = hashlib.scrypt(pin.encode("utf-8", "replace"), salt=b64d(salt), n=2 ** int(n_log2),
                             r=int(r), p=int(p), dklen=len(want))
    except (ValueError, MalformedCode):
        return False
    return hmac.compare_digest(got, want)


# -- attempts, lock-out, sessions ----------------------------------------------------------
@dataclass(frozen=True)
class MaintenanceSession:
    """An open maintenance mode: ends at ``expires_at`` or after ``idle_s`` without action."""

    token_id: str
    started_at: float
    expires_at: float
    idle_s: float
    last_action_at: float

    def ends_at(self) -> float:
        return min(self.expires_at, self.last_action_at + self.idle_s)

    def active(self, now: float) -> bool:
        return now < self.ends_at()


@dataclass(frozen=True)
class AccessResult:
    granted: bool
    code: str  # ok | locked_out | too_soon | not_configured | wrong_pin | replayed | <token>
    session: MaintenanceSession | None = None
    retry_after_s: float = 0.0
    failures: int = 0


_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS failures (id INTEGER PRIMARY KEY AUTOINCREMENT, "
    "at REAL NOT NULL, code TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS lockout (id INTEGER PRIMARY KEY CHECK (id = 1), "
    "until REAL NOT NULL)",
    "CREATE TABLE IF NOT EXISTS used_tokens (token_id TEXT PRIMARY KEY, "
    "expires_at REAL NOT NULL)",
)


class TechnicianAccess:
    """Checks token + PIN attempts for one kiosk; persists failures, lock-out, used tokens.

    After a failure the next attempt waits ``min(2**(failures-1), 60)`` seconds
    (``too_soon``); ``max_failures`` failures within ``failure_window_s`` lock access out for
    ``lockout_s`` (``locked_out``). A success clears the failures and uses the token up.
    """

    def __init__(self, cfg: TechnicianConfig, kiosk_id: str, var_dir: str | Path, *,
                 audit: AuditLog | None, clock: Callable[[], float] = time.time,
                 trusted: nacl.signing.VerifyKey | None = None) -> None:
        self.cfg = cfg
        self.kiosk_id = kiosk_id
        self.audit = audit
        self._clock = clock
        self._trusted = trusted
        self._lock = threading.Lock()
        self.path = Path(var_dir) / STATE_FILE
        self._db = sqlite3.connect(private_file(self.path), check_same_thread=False,
                                   isolation_level=None, timeout=30)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=30000"):
            self._db.execute(f"PRAGMA {pragma}")
        for statement in _SCHEMA:
            self._db.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- the state ------------------------------------------------------------------------
    def _failures(self, now: float) -> list[float]:
        rows = self._db.execute("SELECT at FROM failures WHERE at > ? ORDER BY at",
                                (now - self.cfg.failure_window_s,)).fetchall()
        return [float(r[0]) for r in rows]

    def _locked_until(self) -> float | None:
        row = self._db.execute("SELECT until FROM lockout WHERE id = 1").fetchone()
        return None if row is None else float(row[0])

    def lock_state(self) -> tuple[float | None, int]:
        """(locked until, or None; failures in the window) as of now."""
        now = self._clock()
        with self._lock:
            until = self._locked_until()
            return (until if until is not None and until > now else None,
                    len(self._failures(now)))

    def _trust(self) -> nacl.signing.VerifyKey:
        if self._trusted is None:
            self._trusted = load_trusted_key(self.cfg.trust_key_file)
        return self._trusted

    # -- attempts -------------------------------------------------------------------------
    def attempt(self, token: str, pin: str) -> AccessResult:
        """One login attempt; audited whatever its outcome."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # one attempt at a time, across processes
            try:
                result, tid = self._attempt(token, pin)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        self._audit("maintenance.login", result.code, token=tid, failures=result.failures,
                    retry_after_s=round(result.retry_after_s, 1))
        return result

    def _attempt(self, token: str, pin: str) -> tuple[AccessResult, str | None]:
        now = self._clock()
        until = self._locked_until()
        failures = self._failures(now)
        if until is not None and until > now:
            return AccessResult(False, "locked_out", retry_after_s=until - now,
                                failures=len(failures)), None
        if failures:
            wait = failures[-1] + min(2.0 ** (len(failures) - 1), 60.0) - now
            if wait > 0:
                return AccessResult(False, "too_soon", retry_after_s=wait,
                                    failures=len(failures)), None
        if not self.cfg.pin_hash:
            return AccessResult(False, "not_configured", failures=len(failures)), None
        try:
            trusted = self._trust()
        except AccessConfigError:
            return AccessResult(False, "not_configured", failures=len(failures)), None
        tid: str | None = None
        try:
            claim = verify_token(token, trusted, self.kiosk_id, now,
                                 max_ttl_s=self.cfg.max_token_ttl_s)
            tid = claim.token_id
        except TokenRefused as exc:
            return self._fail(now, exc.code, failures), None
        if self._db.execute("SELECT 1 FROM used_tokens WHERE token_id = ?",
                            (tid,)).fetchone() is not None:
            return self._fail(now, "replayed", failures), tid
        if not check_pin(pin, self.cfg.pin_hash):
            return self._fail(now, "wrong_pin", failures), tid
        self._db.execute("DELETE FROM used_tokens WHERE expires_at < ?", (now - CLOCK_SKEW_S,))
        self._db.execute("INSERT INTO used_tokens (token_id, expires_at) VALUES (?, ?)",
                         (tid, float(claim.expires_at)))
        self._db.execute("DELETE FROM failures")
        self._db.execute("DELETE FROM lockout")
        session = MaintenanceSession(tid, now, float(claim.expires_at), self.cfg.mode_timeout_s,
                                     now)
        return AccessResult(True, "ok", session), tid

    def _fail(self, now: float, code: str, failures: list[float]) -> AccessResult:
        self._db.execute("INSERT INTO failures (at, code) VALUES (?, ?)", (now, code))
        self._db.execute("DELETE FROM failures WHERE at <= ?", (now - self.cfg.failure_window_s,))
        count = len(failures) + 1
        if count >= self.cfg.max_failures:
            self._db.execute("INSERT INTO lockout (id, until) VALUES (1, ?) ON CONFLICT (id) "
                             "DO UPDATE SET until = excluded.until", (now + self.cfg.lockout_s,))
            self._db.execute("DELETE FROM failures")
            return AccessResult(False, code, retry_after_s=self.cfg.lockout_s, failures=count)
        return AccessResult(False, code, retry_after_s=min(2.0 ** (count - 1), 60.0),
                            failures=count)

    # -- the open mode --------------------------------------------------------------------
    def touch(self, session: MaintenanceSession) -> MaintenanceSession | None:
        """The session after an action now, or ``None`` (audited) when it has timed out."""
        now = self._clock()
        if not session.active(now):
            self._audit("maintenance.timeout", "ended", token=session.token_id)
            return None
        return MaintenanceSession(session.token_id, session.started_at, session.expires_at,
                                  session.idle_s, now)

    def record_action(self, session: MaintenanceSession, action: str, outcome: str,
                      **detail: Any) -> None:
        """Audit one maintenance action (``print_test_page``, ``reset_counters`` ...)."""
        if not _NAME.fullmatch(action):
            raise ValueError(f"action must match {_NAME.pattern}")
        self._audit(f"maintenance.{action}", outcome, token=session.token_id, **detail)

    def end(self, session: MaintenanceSession, reason: str = "exit") -> None:
        self._audit("maintenance.end", reason, token=session.token_id)

    def _audit(self, event: str, outcome: str, **detail: Any) -> None:
        if self.audit is not None:
            self.audit.append(event, outcome, None, **redact(detail, source="device"))
