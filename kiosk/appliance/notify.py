"""``sd_notify`` over ``NOTIFY_SOCKET``: a tiny implementation of systemd's documented protocol.

Why not a library: ``sdnotify`` (PyPI) has not been released since 2017, swallows every error
and does not read ``WATCHDOG_USEC``; ``systemd-python``'s ``daemon.notify`` is maintained but
is a C extension built against ``libsystemd`` (a compiler and ``libsystemd-dev`` on every
kiosk and CI machine) for one ``sendto``. The protocol is stable and documented for
reimplementation (sd_notify(3), "Notes"): a datagram of newline-separated ``KEY=VALUE``
assignments to the ``AF_UNIX`` socket named by ``NOTIFY_SOCKET`` (a path, or ``@name`` for an
abstract socket). ``WATCHDOG_USEC`` (and ``WATCHDOG_PID``, when set, naming this process) says
the service manager expects ``WATCHDOG=1`` at least that often (sd_watchdog_enabled(3)).

Without ``NOTIFY_SOCKET`` (not started by systemd, or ``Type=simple``) every call is a no-op.
A failing socket is logged once and never raises: a kiosk must not crash because its
supervisor went away.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("kiosk.appliance")

MAX_STATUS = 200  # STATUS= is shown by systemctl status; keep it one short line


def socket_address(value: str) -> str | bytes | None:
    """The ``sendto`` address for a ``NOTIFY_SOCKET`` value (``@x`` is abstract), or None
    when it is not a socket this implementation speaks to (empty, relative, ``vsock:``)."""
    if value.startswith("@") and len(value) > 1:
        return b"\0" + value[1:].encode()
    if value.startswith("/"):
        return value
    return None


def watchdog_usec(environ: Mapping[str, str], pid: int | None = None) -> int | None:
    """The watchdog period in microseconds when the watchdog is enabled for this process."""
    raw = environ.get("WATCHDOG_USEC", "")
    if not raw.isdigit() or int(raw) == 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner and owner != str(os.getpid() if pid is None else pid):
        return None  # meant for another process (a parent that exec'd us did not pass it on)
    return int(raw)


def clean(text: str) -> str:
    """``text`` as one line of printable characters (a value must not add assignments)."""
    one = "".join(ch if ch.isprintable() else " " for ch in text)
    return one[:MAX_STATUS]


class Notifier:
    """Sends ``sd_notify`` messages to the service manager (no-op when there is none)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = socket_address(raw)
        if raw and self.address is None:
            log.warning("NOTIFY_SOCKET %r is not a unix socket; notifications are off",
                        raw[:60])
        usec = watchdog_usec(env)
        self.watchdog_s: float | None = usec / 1e6 if usec else None
        self._failed = False

    @classmethod
    def from_env(cls, unset: bool = True) -> Notifier:
        """From ``os.environ``; ``unset`` removes the variables so that the processes this one
        starts (lpr, helpers) do not talk to the service manager in its name."""
        notifier = cls(dict(os.environ))
        if unset:
            for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                os.environ.pop(name, None)
        return notifier

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, **fields: str) -> bool:
        """Send ``KEY=VALUE`` lines; True when the datagram went out."""
        if self.address is None or not fields:
            return False
        message = "\n".join(f"{key}={clean(value)}" for key, value in fields.items())
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.sendto(message.encode(), self.address)
        except OSError as exc:
            if not self._failed:
                log.error("cannot notify the service manager (%s)", exc.strerror or exc)
                self._failed = True
            return False
        if self._failed:
            log.info("notifying the service manager again")
            self._failed = False
        return True

    def ready(self, status: str | None = None) -> bool:
        fields = {"READY": "1"}
        if status:
            fields["STATUS"] = status
        return self.send(**fields)

    def status(self, text: str) -> bool:
        return self.send(STATUS=text)

    def watchdog(self) -> bool:
        return self.send(WATCHDOG="1")

    def stopping(self, status: str | None = None) -> bool:
        fields = {"STOPPING": "1"}
        if status:
            fields["STATUS"] = status
        return self.send(**fields)
