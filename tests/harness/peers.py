"""Starting real peers on free loopback ports for tests: helpers shared by every area."""

from __future__ import annotations

import os
import pwd
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
               interval: float = 0.02) -> None:
    """Poll ``predicate`` until true; raise with ``what`` when ``timeout`` passes."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not ready after {timeout} s")
        time.sleep(interval)  # polling a peer that has no readiness event of its own


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

    def start(self, timeout: float = 10.0) -> Mosquitto:
        conf = self.workdir / "mosquitto.conf"
        store = f"persistence true\npersistence_location {self.workdir}/\n" \
            if self.persistent else "persistence false\n"
        # started as root, mosquitto would switch to the "mosquitto" user and lose access to
        # the test's private folder (log, persistence, password and ACL files)
        user = pwd.getpwuid(os.geteuid()).pw_name
        conf.write_text(
            f"user {user}\nlistener {self.port} 127.0.0.1\n"
            f"allow_anonymous {'true' if self.anonymous else 'false'}\n{store}"
            f"log_dest file {self.workdir / 'mosquitto.log'}\n{self.config}\n",
            encoding="utf-8")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def ready() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                err = self.proc.stderr.read().decode() if self.proc.stderr else ""
                raise RuntimeError(f"mosquitto exited: {err}")
            return port_open(self.port)

        wait_until(ready, timeout, "mosquitto")
        return self

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
