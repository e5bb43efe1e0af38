"""Operator sessions, CSRF tokens and the login rate limit, all in memory.

A session is a random token in an HttpOnly, SameSite=Strict cookie (Secure over HTTPS),
mapped server-side to the user and a CSRF token that every POST form carries; logging out
or restarting the dashboard ends it. Before login, the login form's CSRF token is an HMAC
of a random pre-login cookie under a per-process secret (no server state per visitor).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_SESSIONS = 10_000


@dataclass
class Session:
    """One logged-in browser."""

    token: str
    user: str
    role: str
    csrf: str
    created: float
    last_seen: float


class SessionStore:
    """Sessions with an idle and an absolute lifetime; the oldest go first when full."""

    def __init__(self, idle_s: float = 1800, absolute_s: float = 12 * 3600,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self.clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def create(self, user: str, role: str) -> Session:
        now = self.clock()
        s = Session(secrets.token_urlsafe(32), user, role, secrets.token_urlsafe(32), now, now)
        with self._lock:
            self._sessions[s.token] = s
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return s

    def get(self, token: str | None) -> Session | None:
        """The live session of ``token``, now counted as active."""
        return self._find(token, touch=True)

    def peek(self, token: str | None) -> Session | None:
        """The live session of ``token``, not counted as activity."""
        return self._find(token, touch=False)

    def _find(self, token: str | None, touch: bool) -> Session | None:
        if not token:
            return None
        now = self.clock()
        with self._lock:
            s = self._sessions.get(token)
            if s is None:
                return None
            if now - s.last_seen > self.idle_s or now - s.created > self.absolute_s:
                del self._sessions[token]
                return None
            if touch:
                s.last_seen = now
                self._sessions.move_to_end(token)
            return s

    def end(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def end_user(self, user: str) -> None:
        """End every session of ``user`` (account removed or its role changed)."""
        with self._lock:
            for token in [t for t, s in self._sessions.items() if s.user == user]:
                del self._sessions[token]


class LoginCsrf:
    """CSRF for the login form: ``token = HMAC(secret, pre-login cookie)``."""

    def __init__(self) -> None:
        self._secret = secrets.token_bytes(32)

    @staticmethod
    def new_cookie() -> str:
        return secrets.token_urlsafe(24)

    def token(self, cookie: str) -> str:
        return hmac.new(self._secret, cookie.encode("utf-8"), hashlib.sha256).hexdigest()

    def check(self, cookie: str | None, token: str | None) -> bool:
        return bool(cookie and token) and hmac.compare_digest(self.token(cookie or ""),
                                                              token or "")


def same_token(expected: str, given: str | None) -> bool:
    """Constant-time comparison of a CSRF token."""
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


@dataclass
class _Window:
    failures: deque[float] = field(default_factory=deque)


class LoginLimiter:
    """Failed logins per account name and per client address in a sliding window; past the
    limit, logins for that name (or from that address) are refused until the window slides,
    without checking the password."""

    def __init__(self, per_name: int = 5, per_address: int = 20, window_s: float = 300,
                 max_keys: int = 10_000) -> None:
        self.per_name = per_name
        self.per_address = per_address
        self.window_s = window_s
        self.max_keys = max_keys
        self._lock = threading.Lock()
        self._keys: OrderedDict[str, _Window] = OrderedDict()

    def _window(self, key: str, now: float) -> _Window:
        w = self._keys.get(key)
        if w is None:
            w = self._keys[key] = _Window()
            while len(self._keys) > self.max_keys:
                self._keys.popitem(last=False)
        while w.failures and now - w.failures[0] > self.window_s:
            w.failures.popleft()
        return w

    def retry_after(self, name: str, address: str) -> float:
        """Seconds until a login for ``name`` from ``address`` is tried again; 0: now."""
        now = time.monotonic()
        wait = 0.0
        with self._lock:
            for key, limit in ((f"n:{name.lower()}", self.per_name),
                               (f"a:{address}", self.per_address)):
                w = self._window(key, now)
                if len(w.failures) >= limit:
                    wait = max(wait, self.window_s - (now - w.failures[0]))
        return wait

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self._lock:
            for key in (f"n:{name.lower()}", f"a:{address}"):
                self._window(key, now).failures.append(now)
                self._keys.move_to_end(key)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._keys.pop(f"n:{name.lower()}", None)
