"""A private, real cupsd on 127.0.0.1 for the simulation profile, the demo and the tests.

It runs Debian's ``/usr/sbin/cupsd -f`` with its own ServerRoot, spool, cache, state, temp and
log directories under one temporary root, listening on a free loopback port, with no
authentication on loopback (it is reachable from this machine only) and no browsing/DNS-SD.
The system cupsd, if any, is not touched.

Backends: the system's, or for some URI schemes programs of our own in a private ServerBin
(:attr:`PrivateCupsd.backends`; the simulator's AppSocket backend with PJL status,
:mod:`hardware.printer.pjl_backend`).

Documents: ``PreserveJobFiles No`` (a job's document file is removed once the job is done;
the history, which holds only an opaque job tag, stays for the no-print-twice journal).

Modes. The root is ``0700``; as root it is ``0710 root:lp``, because cupsd runs its filters and
backends as ``User lp`` and they must reach the spool. What cupsd itself requires and sets:
``spool`` ``0710 root:lp`` with document files ``0640 root:lp`` (readable by the backend,
by nobody else), ``cache`` ``0770``, ``state`` and the ServerRoot ``conf`` ``0755`` (config
only). The temp folder is ``01770 root:lp`` (filters write there), ``log`` ``0700``.

Stale roots: each root holds ``owner.lock``, flock'ed by the process that owns it for its
lifetime. :meth:`PrivateCupsd.start` removes the roots of dead processes (lock free), with
whatever a kill -9 left in their spool. cupsd gets SIGTERM when the thread that started it
exits (PR_SET_PDEATHSIG), so a crashed kiosk or test run leaves no orphan; still call
:meth:`PrivateCupsd.cleanup` (or ``printer.close()``).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import grp
import logging
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path

CUPSD = "/usr/sbin/cupsd"
SERVER_BIN = "/usr/lib/cups"
PREFIX = "kiosk-cupsd-"
LOCK = "owner.lock"
_LEGACY_GRACE_S = 60.0  # a root without a lock file (older version) is left alone this long
log = logging.getLogger("hardware.printer.cupsd")
_CUPS_FILES = """\
ServerRoot {root}/conf
RequestRoot {root}/spool
CacheDir {root}/cache
StateDir {root}/state
TempDir {root}/tmp
ErrorLog {root}/log/error_log
AccessLog {root}/log/access_log
PageLog {root}/log/page_log
Printcap {root}/state/printcap
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
PreserveJobFiles {preserve_job_files}
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
                 *, log_level: str = "info", preserve_job_files: str = "No",
                 backends: Mapping[str, str | os.PathLike[str]] | None = None) -> None:
        """``preserve_job_files``: ``No`` (kiosk), or seconds/``Yes`` to act like a stock CUPS
        (tests of the driver's own purging). ``backends``: URI scheme -> a backend program
        of ours used instead of (or beside) the system's, e.g. ``{"socket":
        PJL_BACKEND}`` for the simulator (a private ServerBin mirrors the system's)."""
        self.backends = {scheme: Path(path) for scheme, path in (backends or {}).items()}
        self._own_root = root is None
        self.root = Path(root) if root is not None else _new_root()
        self._owner = _lock_root(self.root)
        self.port = port or _free_port()
        self.log_level = log_level
        self.preserve_job_files = preserve_job_files
        self.proc: subprocess.Popen[bytes] | None = None

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
        if self._own_root:
            sweep_stale_roots(self.root.parent, keep=self.root)
        self._write_config()
        out = open(self.root / "log" / "cupsd.out", "ab")
        try:
            self.proc = subprocess.Popen(
                [CUPSD, "-f", "-c", str(self.root / "conf" / "cupsd.conf"),
                 "-s", str(self.root / "conf" / "cups-files.conf")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent)
        finally:
            out.close()
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
        """Stop and remove the private root (if this object created it), then let it go."""
        self.stop()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)
        if self._owner is not None:
            os.close(self._owner)  # releases the lock
            self._owner = None

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
        user, group = _run_as()
        lp_gid = grp.getgrnam(group).gr_gid if os.geteuid() == 0 else -1
        # (folder, mode, group lp?) — see the module docstring for what cupsd requires
        layout = (("conf", 0o755, True), ("conf/ppd", 0o755, True), ("spool", 0o710, True),
                  ("spool/tmp", 0o1770, True), ("cache", 0o770, True),
                  ("state", 0o755, True), ("log", 0o700, False), ("tmp", 0o1770, True))
        for sub, mode, lp in layout:
            path = self.root / sub
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            if lp_gid >= 0 and lp:
                os.chown(path, 0, lp_gid)
            elif lp:
                mode &= 0o700  # not root: cupsd runs as us, nobody else needs in
            os.chmod(path, mode)
        if lp_gid >= 0:
            os.chown(self.root, 0, lp_gid)
            os.chmod(self.root, 0o710)  # noqa: S103 - lp traverses to its spool, no one else
        else:
            os.chmod(self.root, 0o700)
        server_bin = self._server_bin(lp_gid >= 0) if self.backends else Path(SERVER_BIN)
        (self.root / "conf" / "cups-files.conf").write_text(_CUPS_FILES.format(
            root=self.root, server_bin=server_bin, data_dir="/usr/share/cups",
            user=user, group=group, system_group=_system_group()))
        (self.root / "conf" / "cupsd.conf").write_text(_CUPSD_CONF.format(
            port=self.port, log_level=self.log_level,
            preserve_job_files=self.preserve_job_files))

    def _server_bin(self, as_root: bool) -> Path:
        """A ServerBin of our own: the system's folders linked, its backends linked but for
        the schemes of :attr:`backends`, which are copies of ours (``0755``; as root owned by
        root: cupsd refuses programs others could change, and runs them as ``User``). A
        Python backend runs with the system's ``python3`` in isolated mode."""
        bin_dir = self.root / "serverbin"
        shutil.rmtree(bin_dir, ignore_errors=True)
        (bin_dir / "backend").mkdir(parents=True, mode=0o755)
        system = Path(SERVER_BIN)
        for entry in system.iterdir():
            if entry.name != "backend":
                os.symlink(entry, bin_dir / entry.name)
        for entry in (system / "backend").iterdir():
            if entry.name not in self.backends:
                os.symlink(entry, bin_dir / "backend" / entry.name)
        python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
        for scheme, source in self.backends.items():
            text = source.read_text(encoding="utf-8")
            if text.startswith("#!") and source.suffix == ".py":
                text = f"#!{python} -I\n" + text.split("\n", 1)[1]
            target = bin_dir / "backend" / scheme
            target.write_text(text, encoding="utf-8")
            os.chmod(target, 0o755)  # noqa: S103 - a program cupsd runs as lp
        for folder in (bin_dir, bin_dir / "backend"):
            os.chmod(folder, 0o755)  # noqa: S103 - lp reaches its backends
        if as_root:
            for path in (bin_dir, bin_dir / "backend",
                         *(bin_dir / "backend" / scheme for scheme in self.backends)):
                os.chown(path, 0, 0)
        return bin_dir

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


def sweep_stale_roots(parent: str | os.PathLike[str] | None = None, *,
                      keep: Path | None = None) -> list[Path]:
    """Remove the private roots (``kiosk-cupsd-*`` in ``parent``, default the temp folder) of
    processes that are gone, with the spool and log files they left. Returns what it removed.

    A root is stale when its ``owner.lock`` is not locked and no live process names it on its
    command line (its cupsd may still be shutting down: then it is removed next time). A root
    without a lock file (an older version) is stale once that holds for a minute.
    """
    base = Path(parent if parent is not None else tempfile.gettempdir())
    candidates = [p for p in base.glob(PREFIX + "*") if p.is_dir() and p != keep]
    if not candidates:
        return []
    in_use = _roots_on_command_lines()
    removed: list[Path] = []
    for root in candidates:
        if str(root) in in_use:
            continue
        try:
            fd = os.open(root / LOCK, os.O_RDWR)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                if time.time() - root.stat().st_mtime > _LEGACY_GRACE_S:
                    shutil.rmtree(root, ignore_errors=True)
                    removed.append(root)
            continue
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # its owner is alive
            os.close(fd)
            continue
        try:
            shutil.rmtree(root, ignore_errors=True)
            removed.append(root)
        finally:
            os.close(fd)
    if removed:
        log.info("removed %d stale private cupsd root(s)", len(removed))
    return removed


def _new_root() -> Path:
    return Path(tempfile.mkdtemp(prefix=PREFIX))


def _lock_root(root: Path) -> int | None:
    """Hold ``root/owner.lock`` for this process's lifetime. The lock file is locked before it
    appears under its name (rename keeps the lock), so no sweep sees it unlocked."""
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = root / f".{LOCK}.{os.getpid()}"
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        os.unlink(tmp)
        raise CupsdError(f"{root} is locked by another process") from exc
    try:
        existing = os.open(root / LOCK, os.O_RDWR)
    except FileNotFoundError:
        pass
    else:
        try:
            fcntl.flock(existing, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            raise CupsdError(f"{root} is used by another live process") from exc
        finally:
            os.close(existing)
    os.replace(tmp, root / LOCK)
    return fd


def _roots_on_command_lines() -> set[str]:
    """Private roots a running cupsd serves (``cupsd -c <root>/conf/cupsd.conf``). A backend
    orphaned by a killed cupsd does not keep its root: it names the spool, not a config."""
    found: set[str] = set()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = [a.decode(errors="replace") for a in cmdline.read_bytes().split(b"\0")]
        except OSError:
            continue
        if not args or os.path.basename(args[0]) != "cupsd" or "-c" not in args[:-1]:
            continue
        conf = Path(args[args.index("-c") + 1])
        for root in (conf.parent.parent, conf.parent):  # <root>/conf/ and the older <root>/
            if root.name.startswith(PREFIX):
                found.add(str(root))
    return found


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
