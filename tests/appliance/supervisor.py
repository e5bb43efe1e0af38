"""A small service manager for tests: what systemd does for ``Type=notify`` + ``WatchdogSec=``.

It listens on a ``NOTIFY_SOCKET`` (a path or an abstract socket, ``SO_PASSCRED`` so that each
datagram carries its sender's pid), starts a real process with ``NOTIFY_SOCKET`` and
``WATCHDOG_USEC`` set, and enforces what the unit says:

* readiness: ``activating`` until ``READY=1`` (from the main pid only: ``NotifyAccess=main``),
  killed when ``TimeoutStartSec`` passes first;
* the watchdog: armed at readiness; no ``WATCHDOG=1`` within ``WatchdogSec`` -> ``SIGABRT``
  (systemd's default ``WatchdogSignal``), ``SIGKILL`` after ``TimeoutAbortSec``;
* ``Restart=on-failure``/``always`` after ``RestartSec``, ``RestartForceExitStatus=``, with the
  start limit (``StartLimitBurst`` starts within ``StartLimitIntervalSec`` -> ``failed``);
* ``STATUS=``, ``STOPPING=1``; ``NRestarts``, ``MainPID``, ``ActiveState``, ``SubState``,
  ``Result`` as ``systemctl show`` names them.

Settings are read from a real unit file (:meth:`ServiceSettings.from_unit`), ExecStart and
environment overridable. A control socket lets ``tests/appliance/systemctl_shim.py`` answer
``systemctl restart|stop|start|show`` for tools under test (``kiosk-update``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shlex
import signal
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_UNITS = {"": 1.0, "s": 1.0, "sec": 1.0, "ms": 0.001, "min": 60.0, "m": 60.0, "h": 3600.0}


def parse_seconds(text: str) -> float:
    """systemd time spans as used in our units: ``30``, ``30s``, ``500ms``, ``2min``, ``1h``."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text.strip()):
        total += float(number) * _UNITS[unit]
    return total


def read_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """A unit file as ``{section: {key: [values...]}}`` (repeated keys kept in order)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


@dataclass
class ServiceSettings:
    """The parts of a ``[Service]`` section this supervisor honours."""

    exec_start: list[str]
    watchdog_s: float | None = None
    timeout_start_s: float = 90.0
    timeout_stop_s: float = 90.0
    timeout_abort_s: float | None = None
    restart: str = "no"
    restart_s: float = 0.1
    start_limit_interval_s: float = 10.0
    start_limit_burst: int = 5
    notify_access: str = "main"
    restart_force_exit_status: set[int] = field(default_factory=set)
    environment: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_unit(cls, path: Path, **overrides: Any) -> ServiceSettings:
        unit = read_unit(path)
        svc, head = unit.get("Service", {}), unit.get("Unit", {})

        def one(section: Mapping[str, list[str]], key: str) -> str | None:
            values = section.get(key)
            return values[-1] if values else None

        env: dict[str, str] = {}
        for line in svc.get("Environment", []):
            for item in shlex.split(line):
                name, _, value = item.partition("=")
                env[name] = value
        kwargs: dict[str, Any] = {
            "exec_start": shlex.split(one(svc, "ExecStart") or "true"),
            "environment": env,
        }
        if (value := one(svc, "WatchdogSec")) is not None:
            kwargs["watchdog_s"] = parse_seconds(value) or None
        for key, attr in (("TimeoutStartSec", "timeout_start_s"),
                          ("TimeoutStopSec", "timeout_stop_s"),
                          ("TimeoutAbortSec", "timeout_abort_s"),
                          ("RestartSec", "restart_s")):
            if (value := one(svc, key)) is not None:
                kwargs[attr] = parse_seconds(value)
        if (value := one(head, "StartLimitIntervalSec")) is not None:
            kwargs["start_limit_interval_s"] = parse_seconds(value)
        if (value := one(head, "StartLimitBurst")) is not None:
            kwargs["start_limit_burst"] = int(value)
        for key, attr in (("Restart", "restart"), ("NotifyAccess", "notify_access")):
            if (value := one(svc, key)) is not None:
                kwargs[attr] = value
        if (value := one(svc, "RestartForceExitStatus")) is not None:
            kwargs["restart_force_exit_status"] = {int(v) for v in value.split()}
        kwargs.update(overrides)
        return cls(**kwargs)


class NotifyListener:
    """The service manager's end of ``NOTIFY_SOCKET``: datagrams with the sender's pid."""

    def __init__(self, path: Path | None = None) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        if path is None:  # abstract: "@name" in NOTIFY_SOCKET
            name = f"kiosk-test-notify-{os.getpid()}-{id(self)}"
            self.sock.bind(b"\0" + name.encode())
            self.env_value = "@" + name
        else:
            self.sock.bind(str(path))
            self.env_value = str(path)

    def fileno(self) -> int:
        return self.sock.fileno()

    def receive(self) -> tuple[int | None, dict[str, str]]:
        """One datagram (the socket must be readable): sender pid and its assignments."""
        size = struct.calcsize("3i")
        data, ancdata, _flags, _addr = self.sock.recvmsg(4096, socket.CMSG_SPACE(size))
        pid = None
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid, _uid, _gid = struct.unpack("3i", payload[:size])
        fields = {}
        for line in data.decode(errors="replace").split("\n"):
            key, sep, value = line.partition("=")
            if sep:
                fields[key] = value
        return pid, fields

    def close(self) -> None:
        self.sock.close()


class Supervisor:
    """Runs one service the way systemd would (see the module docstring)."""

    def __init__(self, settings: ServiceSettings, workdir: Path,
                 abstract_socket: bool = True) -> None:
        self.settings = settings
        self.workdir = workdir
        self.listener = NotifyListener(None if abstract_socket else workdir / "notify.sock")
        self._cond = threading.Condition()
        self._wake_r, self._wake_w = os.pipe()
        self._commands: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._pidfd: int | None = None
        self._thread: threading.Thread | None = None
        self._control: socket.socket | None = None
        self._quit = False
        # what systemctl show would say
        self.active_state = "inactive"
        self.sub_state = "dead"
        self.result = "success"
        self.main_pid = 0
        self.n_restarts = 0
        self.status_text = ""
        self.pings = 0
        self.events: list[tuple[Any, ...]] = []
        # tests: called on the control thread after each ``show`` answer is taken
        self.on_show: Callable[[], None] | None = None
        # deadlines (monotonic), None when not running
        self._start_deadline: float | None = None
        self._watchdog_deadline: float | None = None
        self._kill_deadline: float | None = None
        self._restart_at: float | None = None
        self._starts: list[float] = []
        self._stop_reason: str | None = None  # "stop" | "restart" | kill result
        self._log = open(workdir / "service.log", "ab")  # noqa: SIM115 - closed in close()

    # -- public ---------------------------------------------------------------------------
    def start(self) -> Supervisor:
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()
        self.command("start")
        return self

    def command(self, name: str) -> None:
        """``start``, ``stop`` or ``restart``, as ``systemctl --no-block`` would queue it."""
        with self._cond:
            self._commands.append(name)
        os.write(self._wake_w, b"x")

    def properties(self) -> dict[str, str]:
        with self._cond:
            return {"ActiveState": self.active_state, "SubState": self.sub_state,
                    "Result": self.result, "MainPID": str(self.main_pid),
                    "NRestarts": str(self.n_restarts), "StatusText": self.status_text}

    def wait_for(self, predicate: Callable[[Supervisor], bool], timeout: float,
                 what: str) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: predicate(self), timeout):
                raise AssertionError(f"supervisor: timed out waiting for {what}; "
                                     f"{self.properties_unlocked()}, events {self.events[-8:]}, "
                                     f"log:\n{self.log_tail()}")

    def properties_unlocked(self) -> dict[str, str]:
        return {"ActiveState": self.active_state, "SubState": self.sub_state,
                "Result": self.result, "MainPID": str(self.main_pid),
                "NRestarts": str(self.n_restarts)}

    def log_tail(self, size: int = 3000) -> str:
        self._log.flush()
        return (self.workdir / "service.log").read_bytes()[-size:].decode(errors="replace")

    def serve_control(self) -> Path:
        """A unix stream socket answering one JSON request per connection (the shim's)."""
        path = self.workdir / "control.sock"
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        server.bind(str(path))
        server.listen(8)
        self._control = server

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    request = json.loads(conn.makefile("rb").readline() or b"{}")
                    cmd = request.get("cmd")
                    if cmd in ("start", "stop", "restart"):
                        self.command(cmd)
                        answer: dict[str, Any] = {"ok": True}
                    elif cmd == "show":
                        answer = {"ok": True, "properties": self.properties()}
                        hook = self.on_show
                        if hook is not None:  # after the answer is taken, before it is read
                            hook()
                    else:
                        answer = {"ok": False, "error": f"unknown command {cmd!r}"}
                    conn.sendall(json.dumps(answer).encode() + b"\n")

        threading.Thread(target=serve, name="supervisor-control", daemon=True).start()
        return path

    def close(self, timeout: float = 20.0) -> None:
        self.command("stop")
        with contextlib.suppress(AssertionError):
            self.wait_for(lambda s: s.active_state in ("inactive", "failed"), timeout, "stop")
        self._quit = True
        os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout)
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait()
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.shutdown(socket.SHUT_RDWR)
            self._control.close()
        self.listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._log.close()

    # -- the loop -------------------------------------------------------------------------
    def _event(self, *event: Any) -> None:
        self.events.append(event)
        self._cond.notify_all()

    def _loop(self) -> None:
        while not self._quit:
            now = time.monotonic()
            deadlines = [d for d in (self._start_deadline, self._watchdog_deadline,
                                     self._kill_deadline, self._restart_at) if d is not None]
            timeout = max(0.0, min(deadlines) - now) if deadlines else None
            fds: list[int] = [self.listener.fileno(), self._wake_r]
            if self._pidfd is not None:
                fds.append(self._pidfd)
            readable, _, _ = select.select(fds, [], [], timeout)
            with self._cond:
                if self._wake_r in readable:
                    os.read(self._wake_r, 4096)
                if self.listener.fileno() in readable:
                    self._on_notify(*self.listener.receive())
                if self._pidfd is not None and self._pidfd in readable:
                    self._on_exit()
                for cmd in self._take_commands():
                    self._on_command(cmd)
                self._on_deadlines(time.monotonic())

    def _take_commands(self) -> list[str]:
        taken, self._commands = self._commands, []
        return taken

    def _spawn(self) -> None:
        s = self.settings
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **s.environment,
               "NOTIFY_SOCKET": self.listener.env_value}
        if s.watchdog_s:
            env["WATCHDOG_USEC"] = str(int(s.watchdog_s * 1e6))
        self._proc = subprocess.Popen(s.exec_start, env=env, stdin=subprocess.DEVNULL,
                                      stdout=self._log, stderr=self._log,
                                      start_new_session=True)
        self._pidfd = os.pidfd_open(self._proc.pid)
        self.main_pid = self._proc.pid
        self.active_state, self.sub_state = "activating", "start"
        self.status_text = ""
        self._start_deadline = time.monotonic() + s.timeout_start_s
        self._watchdog_deadline = None
        self._starts.append(time.monotonic())
        self._event("start", self._proc.pid)

    def _on_command(self, cmd: str) -> None:
        if cmd == "start":
            if self._proc is None:
                self._restart_at = None
                self._starts.clear()
                self._spawn()
        elif cmd in ("stop", "restart"):
            self._restart_at = None
            if self._proc is None:
                if cmd == "restart":
                    self._spawn()
                else:
                    self.active_state, self.sub_state = "inactive", "dead"
                    self._cond.notify_all()
                return
            self._stop_reason = cmd
            self._signal(signal.SIGTERM, "deactivating", "stop-sigterm",
                         self.settings.timeout_stop_s)

    def _signal(self, sig: int, state: str, sub: str, grace: float) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)
        self.active_state, self.sub_state = state, sub
        self._start_deadline = self._watchdog_deadline = None
        self._kill_deadline = time.monotonic() + grace
        self._event("signal", self._proc.pid, signal.Signals(sig).name)

    def _on_notify(self, pid: int | None, fields: dict[str, str]) -> None:
        if self._proc is None:
            return
        if self.settings.notify_access == "main" and pid != self._proc.pid:
            self._event("ignored", pid, tuple(fields))
            return
        if "STATUS" in fields:
            self.status_text = fields["STATUS"]
        if fields.get("READY") == "1" and self.active_state == "activating":
            self.active_state, self.sub_state = "active", "running"
            self._start_deadline = None
            if self.settings.watchdog_s:
                self._watchdog_deadline = time.monotonic() + self.settings.watchdog_s
            self._event("ready", pid)
        if fields.get("WATCHDOG") == "1" and self.active_state == "active":
            self.pings += 1
            if self.settings.watchdog_s:
                self._watchdog_deadline = time.monotonic() + self.settings.watchdog_s
            self._event("ping", pid)
        if fields.get("STOPPING") == "1":
            self._event("stopping", pid)
        self._cond.notify_all()

    def _on_deadlines(self, now: float) -> None:
        if self._start_deadline is not None and now >= self._start_deadline:
            self._stop_reason = "timeout"
            self._signal(signal.SIGTERM, "deactivating", "stop-sigterm",
                         self.settings.timeout_stop_s)
        if self._watchdog_deadline is not None and now >= self._watchdog_deadline:
            self._stop_reason = "watchdog"
            abort = self.settings.timeout_abort_s
            self._signal(signal.SIGABRT, "deactivating", "stop-watchdog",
                         self.settings.timeout_stop_s if abort is None else abort)
        if self._kill_deadline is not None and now >= self._kill_deadline \
                and self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._kill_deadline = None
            self._event("signal", self._proc.pid, "SIGKILL")
        if self._restart_at is not None and now >= self._restart_at:
            self._restart_at = None
            self._spawn()

    def _on_exit(self) -> None:
        assert self._proc is not None and self._pidfd is not None
        code = self._proc.wait()
        os.close(self._pidfd)
        pid, reason = self._proc.pid, self._stop_reason
        self._proc, self._pidfd, self._stop_reason = None, None, None
        with contextlib.suppress(ProcessLookupError):  # KillMode=control-group
            os.killpg(pid, signal.SIGKILL)
        self._start_deadline = self._watchdog_deadline = self._kill_deadline = None
        self.main_pid = 0
        self._event("exit", pid, code, reason)
        if reason == "restart":
            self._spawn()
            return
        if reason == "stop":
            self.active_state, self.sub_state, self.result = "inactive", "dead", "success"
            self._cond.notify_all()
            return
        failed = reason in ("watchdog", "timeout") or code != 0
        self.result = reason or ("exit-code" if code > 0 else "signal" if code < 0 else
                                 "success")
        forced = code in self.settings.restart_force_exit_status
        again = forced or self.settings.restart == "always" or (
            failed and self.settings.restart == "on-failure")
        if not again:
            self.active_state, self.sub_state = ("failed", "failed") if failed \
                else ("inactive", "dead")
            self._cond.notify_all()
            return
        now = time.monotonic()
        recent = [t for t in self._starts if now - t < self.settings.start_limit_interval_s]
        if len(recent) >= self.settings.start_limit_burst:
            self.active_state, self.sub_state, self.result = "failed", "failed", \
                "start-limit-hit"
            self._event("start-limit-hit", pid)
            return
        self.n_restarts += 1
        self.active_state, self.sub_state = "activating", "auto-restart"
        self._restart_at = now + self.settings.restart_s
        self._cond.notify_all()
