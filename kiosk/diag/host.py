"""Facts about the host the kiosk runs on: free disk of the var dir, memory, clock sync and
offset, uptime, temperatures. Each fact that cannot be read is ``None`` with a short reason, or
``unknown``; nothing here raises. Paths and the command runner are parameters, for tests.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.diag.model import ClockFacts, DiskFacts, HostFacts, MemoryFacts, Temperature

DISK_WARN_PERCENT = 5.0
COMMAND_TIMEOUT_S = 2.0

Runner = Callable[[Sequence[str]], str | None]


def run_command(argv: Sequence[str]) -> str | None:
    """stdout of ``argv`` when it exists and succeeds within the timeout, else ``None``."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def disk_facts(var_dir: str | Path) -> DiskFacts:
    """Free space of the file system holding ``var_dir`` (its nearest existing parent)."""
    path = Path(var_dir).absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        usage = shutil.disk_usage(path)
    except OSError as exc:
        return DiskFacts(path=str(var_dir), detail=f"cannot read: {exc.strerror}")
    percent = 100.0 * usage.free / usage.total if usage.total else 0.0
    warn = percent < DISK_WARN_PERCENT
    return DiskFacts(path=str(var_dir), total_bytes=usage.total, free_bytes=usage.free,
                     free_percent=round(percent, 2), warning=warn,
                     detail=f"free disk {percent:.1f}% (under {DISK_WARN_PERCENT:g}%)"
                     if warn else "")


def memory_facts(proc: Path = Path("/proc")) -> MemoryFacts:
    try:
        text = (proc / "meminfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return MemoryFacts(detail="unknown (no /proc/meminfo)")
    values: dict[str, int] = {}
    for line in text.splitlines():
        m = re.match(r"(\w+):\s+(\d+)\s*kB", line)
        if m:
            values[m.group(1)] = int(m.group(2)) * 1024
    return MemoryFacts(total_bytes=values.get("MemTotal"),
                       available_bytes=values.get("MemAvailable", values.get("MemFree")))


def uptime_s(proc: Path = Path("/proc")) -> float | None:
    try:
        return round(float((proc / "uptime").read_text(encoding="ascii").split()[0]), 1)
    except (OSError, ValueError, IndexError):
        return None


def temperatures(thermal: Path = Path("/sys/class/thermal")) -> list[Temperature]:
    """Every thermal zone with a readable sensor, in degrees Celsius."""
    out = []
    try:
        zones = sorted(thermal.glob("thermal_zone*"))
    except OSError:
        return []
    for zone in zones:
        try:
            milli = int((zone / "temp").read_text(encoding="ascii").strip())
        except (OSError, ValueError):
            continue
        try:
            kind = (zone / "type").read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            kind = zone.name
        out.append(Temperature(sensor=kind or zone.name, celsius=round(milli / 1000.0, 1)))
    return out


_CHRONY_OFFSET = re.compile(r"System time\s*:\s*([\d.]+) seconds (fast|slow)")
_CHRONY_LEAP = re.compile(r"Leap status\s*:\s*(.+)")
_NTPQ_OFFSET = re.compile(r"offset=(-?[\d.]+)")


def clock_facts(run: Runner = run_command) -> ClockFacts:
    """Clock synchronisation from timedatectl, chrony or ntpd, whichever answers first."""
    shown = run(["timedatectl", "show"])
    if shown:
        values = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        sync = values.get("NTPSynchronized")
        if sync in ("yes", "no"):
            return ClockFacts(synchronized=sync == "yes", source="timedatectl",
                              detail="" if sync == "yes" else "NTP not synchronized")
    tracking = run(["chronyc", "tracking"])
    if tracking:
        leap = _CHRONY_LEAP.search(tracking)
        offset = _CHRONY_OFFSET.search(tracking)
        synced = leap is not None and "not synchronised" not in leap.group(1).lower()
        seconds = None
        if offset:
            seconds = float(offset.group(1)) * (1 if offset.group(2) == "fast" else -1)
        return ClockFacts(synchronized=synced, offset_s=seconds, source="chrony",
                          detail="" if synced else "chrony not synchronised")
    readvar = run(["ntpq", "-c", "rv 0 offset"])
    if readvar:  # "status=0615 leap_none, sync_ntp, ...\noffset=0.123" (milliseconds)
        m = _NTPQ_OFFSET.search(readvar)
        synced = not any(word in readvar for word in ("leap_alarm", "sync_unspec"))
        return ClockFacts(synchronized=synced, source="ntp",
                          offset_s=float(m.group(1)) / 1000.0 if m else None,
                          detail="" if synced else "ntpd not synchronized")
    return ClockFacts(synchronized=None, source="unknown",
                      detail="no time service answered (timedatectl, chronyc, ntpq)")


def collect_host(var_dir: str | Path, *, proc: Path = Path("/proc"),
                 thermal: Path = Path("/sys/class/thermal"),
                 run: Runner = run_command) -> HostFacts:
    """All host facts; never raises."""
    return HostFacts(hostname=socket.gethostname(), disk=disk_facts(var_dir),
                     memory=memory_facts(proc), clock=clock_facts(run),
                     uptime_s=uptime_s(proc), temperatures=temperatures(thermal))
