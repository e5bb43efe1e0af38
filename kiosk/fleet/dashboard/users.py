"""The dashboard's accounts: one JSON file (0600) of names, roles and scrypt hashes.

``{"format": "kiosk-dashboard-users/1", "users": {"NAME": {"role": "operator",
"hash": "scrypt$N$r$p$SALT$KEY", "created_at": T}}}``. A password is never stored nor
logged; :class:`UserStore` re-reads the file when it changes, so an account added, removed
or given another role takes effect at the next request without a restart.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from kiosk.files import write_private
from kiosk.fleet.acl import check_name
from kiosk.fleet.canonical import NotCanonical, b64d, b64e, canonical, strict_loads
from kiosk.fleet.errors import OperatorError

FORMAT = "kiosk-dashboard-users/1"
ROLES = ("viewer", "operator")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
MAX_USERS_FILE = 4 * 1024 * 1024
# scrypt (RFC 7914) at 32 MiB: about 0.1 s a check on one core
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
_MAXMEM = 64 * 1024 * 1024


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$SALT$KEY`` for ``password`` with a fresh 16-byte salt."""
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=32,
                         maxmem=_MAXMEM)
    return f"scrypt${n}${r}${p}${b64e(salt)}${b64e(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """True when ``password`` matches ``encoded`` (constant-time comparison)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            return False
        want = b64d(key)
        got = hashlib.scrypt(password.encode("utf-8"), salt=b64d(salt), n=int(n), r=int(r),
                             p=int(p), dklen=len(want), maxmem=_MAXMEM)
    except (ValueError, NotCanonical, UnicodeEncodeError):
        return False
    return hmac.compare_digest(got, want)


@functools.cache
def _dummy() -> str:
    """Checked against for an unknown name, so a wrong name costs what a wrong password
    costs (made on first use: ``kiosk ops`` starts without it)."""
    return hash_password(secrets.token_urlsafe(16))


def check_password(password: str) -> str:
    """``password`` if acceptable, else :class:`OperatorError` (never echoing it)."""
    if len(password) < MIN_PASSWORD:
        raise OperatorError("password", f"at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise OperatorError("password", f"at most {MAX_PASSWORD} characters")
    if any(ord(c) < 32 for c in password):
        raise OperatorError("password", "control characters are not allowed")
    return password


@dataclass(frozen=True)
class User:
    """An account as the dashboard sees it (no hash)."""

    name: str
    role: str

    @property
    def may_command(self) -> bool:
        return self.role == "operator"


class UserStore:
    """The accounts file, re-read when it changes on disk."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._users: dict[str, dict[str, object]] = {}

    def _load(self) -> dict[str, dict[str, object]]:
        with self._lock:
            try:
                st = os.stat(self.path)
            except FileNotFoundError:
                self._stamp, self._users = None, {}
                return self._users
            except OSError as exc:
                raise OperatorError(str(self.path), f"cannot read ({exc.strerror})") from None
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                self._users = _read(self.path)
                self._stamp = stamp
            return self._users

    def names(self) -> list[str]:
        return sorted(self._load())

    def get(self, name: str) -> User | None:
        entry = self._load().get(name)
        return User(name, str(entry["role"])) if entry else None

    def authenticate(self, name: str, password: str) -> User | None:
        """The user if ``password`` is theirs; None otherwise (same cost either way)."""
        entry = self._load().get(name)
        encoded = str(entry["hash"]) if entry else _dummy()
        ok = verify_password(password, encoded)
        return User(name, str(entry["role"])) if ok and entry else None

    def add(self, name: str, role: str, password: str, *, replace: bool = False) -> User:
        """Create (or with ``replace``, reset) an account."""
        check_name(name, "NAME")
        if role not in ROLES:
            raise OperatorError("--role", f"one of {', '.join(ROLES)}")
        check_password(password)
        users = dict(self._load())
        if name in users and not replace:
            raise OperatorError("NAME", f"{name} exists (use --replace to reset it)")
        users[name] = {"role": role, "hash": hash_password(password),
                       "created_at": int(time.time())}
        self._write(users)
        return User(name, role)

    def remove(self, name: str) -> None:
        users = dict(self._load())
        if name not in users:
            raise OperatorError("NAME", f"no account {name[:70]!r}")
        del users[name]
        self._write(users)

    def _write(self, users: dict[str, dict[str, object]]) -> None:
        write_private(self.path, canonical({"format": FORMAT, "users": users}) + b"\n")
        with self._lock:
            self._stamp = None


def _read(path: Path) -> dict[str, dict[str, object]]:
    try:
        data = strict_loads(path.read_bytes(), MAX_USERS_FILE)
    except OSError as exc:
        raise OperatorError(str(path), f"cannot read ({exc.strerror})") from None
    except NotCanonical as exc:
        raise OperatorError(str(path), f"not a dashboard users file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT \
            or not isinstance(data.get("users"), dict):
        raise OperatorError(str(path), "not a dashboard users file (made by "
                            "`kiosk ops user add`)")
    users: dict[str, dict[str, object]] = {}
    for name, entry in data["users"].items():
        if not isinstance(entry, dict) or entry.get("role") not in ROLES \
                or not isinstance(entry.get("hash"), str):
            raise OperatorError(f"{path}: users.{name[:64]}", "needs a role and a hash")
        users[name] = entry
    return users
