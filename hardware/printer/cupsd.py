"""A private, real cupsd on 127.0.0.1 for the simulation profile, the demo and the tests.

It runs Debian's ``/usr/sbin/cupsd -f`` with its own ServerRoot, spool, cache, state, temp and
log directories under one temporary root, listening on a free loopback port, with no
authentication on loopback (it is reachable from this machine only) and no browsing/DNS-SD.
The system cupsd, if any, is not touched.

As root, cupsd runs its filters and backends as ``User lp``/``Group lp``; the private
directories are made world-traversable (0755, temp 1777) for that reason. Queues are raw
(no PPD, no filters): the document bytes go to the device unchanged. cupsd gets SIGTERM
when the thread that started it exits (PR_SET_PDEATHSIG), so a crashed kiosk or test run
leaves no orphan; still call :meth:`PrivateCupsd.cleanup` (or ``printer.close()``).
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

CUPSD = "/usr/sbin/cupsd"
_CUPS_FILES = """\
ServerRoot {root}
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
ServerBin {server_bin}
DataDir {data_dir}
User {user}
Group {group}
SystemGroup {system_group}
FileDevice No
Sandboxing Relaxed
"""
_CUPSD_CONF = """\
Listen 127.0.0.1:{port}
LogLevel {log_level}
MaxLogSize 0
Browsing No
BrowseLocalProtocols none
WebInterface No
DefaultAuthType None
DefaultShared No
JobRetryInterval 5
PreserveJobHistory Yes
MaxJobs 0
Timeout 30
<Location />
  Order allow,deny
  Allow from 127.0.0.1
</Location>
<Policy default>
  JobPrivateAccess all
  JobPrivateValues none
  SubscriptionPrivateAccess all
  SubscriptionPrivateValues none
  <Limit All>
    Order allow,deny
    Allow from 127.0.0.1
  </Limit>
</Policy>
"""


class CupsdError(RuntimeError):
    """The private cupsd could not be started or configured (message holds the log tail)."""


class PrivateCupsd:
    """A real cupsd of our own: ``start()``, ``add_raw_queue()``, ``server``, ``stop()``."""

    def __init__(self, root: str | os.PathLike[str] | None = None, port: int | None = None,
                 *, log_level: str = "info") -> None:
        self._own_root = root is None
        self.root = Path(root if root is not None else tempfile.mkdtemp(prefix="kiosk-cupsd-"))
        self.port = port or _free_port()
        self.log_level = log_level
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def server(self) -> str:
        """``host:port`` for ``cups.setServer`` / ``lpadmin -h`` / ``CupsPrinter(server=...)``."""
        return f"127.0.0.1:{self.port}"

    @property
    def error_log(self) -> Path:
        return self.root / "log" / "error_log"

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- lifecycle ------------------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> PrivateCupsd:
        """Write the configuration, start cupsd and wait until it answers IPP requests."""
        if not os.path.exists(CUPSD):
            raise CupsdError(f"{CUPSD} not found: install the Debian package 'cups'")
        self._write_config()
        log = open(self.root / "log" / "cupsd.out", "ab")
        try:
            self.proc = subprocess.Popen(
                [CUPSD, "-f", "-c", str(self.root / "cupsd.conf"),
                 "-s", str(self.root / "cups-files.conf")],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            log.close()
        end = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            if self.proc.poll() is not None:
                raise CupsdError(f"cupsd exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._answers():
                return self
            if time.monotonic() >= end:
                self.stop()
                raise CupsdError(f"cupsd did not answer within {timeout:.0f}s:\n"
                                 f"{self.log_tail()}")
            pause.wait(0.05)  # readiness probe: cupsd has no start notification without systemd

    def stop(self, timeout: float = 10.0) -> None:
        """Stop cupsd (SIGTERM, then SIGKILL) — its spool survives until :meth:`cleanup`."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout)

    def cleanup(self) -> None:
        """Stop and remove the private root, if this object created it."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> PrivateCupsd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()

    # -- queues ---------------------------------------------------------------------------
    def add_raw_queue(self, name: str, device_uri: str, *,
                      error_policy: str = "abort-job") -> None:
        """Create, enable and accept a raw queue (no PPD) on ``device_uri``.

        ``abort-job`` is the kiosk policy: a job that fails is dropped rather than printed
        later, when the citizen has gone.
        """
        self._admin("lpadmin", "-p", name, "-E", "-v", device_uri,
                    "-o", f"printer-error-policy={error_policy}")

    def remove_queue(self, name: str) -> None:
        self._admin("lpadmin", "-x", name)

    def pause_queue(self, name: str) -> None:
        self._admin("cupsdisable", name)

    def resume_queue(self, name: str) -> None:
        self._admin("cupsenable", name)

    def _admin(self, tool: str, *args: str) -> None:
        exe = shutil.which(tool) or f"/usr/sbin/{tool}"
        try:
            done = subprocess.run([exe, "-h", self.server, *args], capture_output=True,
                                  timeout=15, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise CupsdError(f"{tool} failed: {exc}") from exc
        if done.returncode != 0:
            raise CupsdError(f"{tool} {' '.join(args)} failed: "
                             f"{done.stderr.decode(errors='replace').strip()}\n{self.log_tail()}")

    # -- internals ------------------------------------------------------------------------
    def log_tail(self, lines: int = 20) -> str:
        out: list[str] = []
        for path in (self.error_log, self.root / "log" / "cupsd.out"):
            with contextlib.suppress(OSError):
                out += path.read_text(errors="replace").splitlines()[-lines:]
        return "\n".join(out) or "(cupsd wrote no log)"

    def _check_traversable(self) -> None:
        """Filters and backends run as lp: every parent of the root must be world-searchable."""
        if os.geteuid() != 0:
            return
        for parent in self.root.resolve().parents:
            if not os.stat(parent).st_mode & 0o001:
                raise CupsdError(f"{parent} is not world-searchable (mode "
                                 f"{os.stat(parent).st_mode & 0o777:o}); cupsd's backends run as "
                                 "lp and could not read the spool: choose another root")

    def _write_config(self) -> None:
        self._check_traversable()
        for sub in ("spool", "spool/tmp", "cache", "state", "log", "ppd"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
            os.chmod(self.root / sub, 0o755)
        (self.root / "tmp").mkdir(exist_ok=True)
        os.chmod(self.root / "tmp", 0o1777)
        os.chmod(self.root, 0o755)
        user, group = _run_as()
        (self.root / "cups-files.conf").write_text(_CUPS_FILES.format(
            root=self.root, server_bin="/usr/lib/cups", data_dir="/usr/share/cups",
            user=user, group=group, system_group=_system_group()))
        (self.root / "cupsd.conf").write_text(_CUPSD_CONF.format(
            port=self.port, log_level=self.log_level))

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                pass
        except OSError:
            return False
        lpstat = shutil.which("lpstat")
        if lpstat is None:
            return True
        try:
            done = subprocess.run([lpstat, "-h", self.server, "-r"], capture_output=True,
                                  timeout=5, check=False)
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0 and b"is running" in done.stdout


def _die_with_parent() -> None:
    """In the child: SIGTERM when the thread that started cupsd exits (no orphaned cupsd)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[str, str]:
    """cupsd refuses ``User root``; as root use lp, otherwise the current user."""
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("lp")
            grp.getgrnam("lp")
            return "lp", "lp"
        except KeyError:
            return "nobody", "nogroup"
    return pwd.getpwuid(os.geteuid()).pw_name, grp.getgrgid(os.getegid()).gr_name


def _system_group() -> str:
    if os.geteuid() == 0:
        return "root"
    return grp.getgrgid(os.getegid()).gr_name
