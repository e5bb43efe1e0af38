"""A private mosquitto on a free loopback port, for the fleet's tests and benchmark (like
:class:`hardware.printer.cupsd.PrivateCupsd` for the printer's): the real broker, started
with a generated configuration in a folder of the caller's."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Mosquitto:
    """A private mosquitto broker on a free loopback port.

    ``config`` adds lines to the generated configuration (an ACL, a password file, a TLS
    listener's options); ``anonymous=False`` requires an account; ``persistent=True`` keeps
    retained messages across :meth:`restart` (on the same port).
    """

    def __init__(self, workdir: Path, *, config: str = "", anonymous: bool = True,
                 persistent: bool = False) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.config = config
        self.anonymous = anonymous
        self.persistent = persistent
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    def start(self, timeout: float = 10.0) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        store = f"persistence true\npersistence_location {self.workdir}/\n" \
            if self.persistent else "persistence false\n"
        # started as root, mosquitto would switch to the "mosquitto" user and lose access to
        # the caller's private folder (log, persistence, password and ACL files)
        user = pwd.getpwuid(os.geteuid()).pw_name
        conf.write_text(
            f"user {user}\nlistener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if self.anonymous else 'false'}\n{store}"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n{self.config}\n",
            encoding="utf-8")
        log = self.workdir / "mosquitto.log"
        offset = log.stat().st_size if log.exists() else 0
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)],  # noqa: S607 - the OS's
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        end = time.monotonic() + timeout
        # ready: this process says "running" (its listeners are bound: a port taken by someone
        # else in the meantime makes it exit instead) and the port answers
        while not (self._running(log, offset) and port_open(self.port)):
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}")
            if time.monotonic() > end:
                self.stop()
                raise TimeoutError(f"mosquitto: not listening after {timeout} s")
            time.sleep(0.02)  # mosquitto has no readiness signal but its log and its port
        return self

    @staticmethod
    def _running(log: Path, offset: int) -> bool:
        try:
            with log.open("rb") as fh:
                fh.seek(offset)
                return b" running" in fh.read()
        except FileNotFoundError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        if self.proc is not None and self.proc.stderr is not None:
            self.proc.stderr.close()

    def restart(self, timeout: float = 10.0) -> Mosquitto:
        """Stop and start again on the same port (retained messages kept if persistent)."""
        self.stop()
        return self.start(timeout)
