"""A private X server (Xvfb) for headless runs: tests, benchmarks and the demo walkthrough."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from types import TracebackType

_SOCKET_DIR = Path("/tmp/.X11-unix")


class XvfbError(RuntimeError):
    """Xvfb is missing or did not come up before its deadline."""


def _free_display(start: int = 90) -> int:
    for n in range(start, start + 200):
        if not (_SOCKET_DIR / f"X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise XvfbError("no free X display number")


class Xvfb:
    """Start Xvfb on a free display, wait for its socket, export ``DISPLAY``; stop on exit.

    >>> with Xvfb(1080, 1920) as x:
    ...     print(x.display)
    """

    def __init__(self, width: int = 1080, height: int = 1920, depth: int = 24,
                 timeout: float = 15.0) -> None:
        self.width, self.height, self.depth = width, height, depth
        self.timeout = timeout
        self.display: str | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._old_display: str | None = None

    def start(self) -> Xvfb:
        exe = shutil.which("Xvfb")
        if exe is None:
            raise XvfbError("Xvfb is not installed (apt-get install xvfb)")
        last_err = ""
        for _attempt in range(3):
            n = _free_display()
            self._proc = subprocess.Popen(
                [exe, f":{n}", "-screen", "0", f"{self.width}x{self.height}x{self.depth}",
                 "-nolisten", "tcp", "-noreset", "+extension", "GLX"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            sock = _SOCKET_DIR / f"X{n}"
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                if self._proc.poll() is not None:
                    break
                if sock.exists():
                    self.display = f":{n}"
                    self._old_display = os.environ.get("DISPLAY")
                    os.environ["DISPLAY"] = self.display
                    return self
                # poll the socket; the process wait doubles as a short, bounded pause
                try:
                    self._proc.wait(0.02)
                except subprocess.TimeoutExpired:
                    pass
            err = self._proc.stderr.read().decode(errors="replace") if (
                self._proc.poll() is not None and self._proc.stderr) else "timed out"
            last_err = err.strip()[-300:]
            self._kill()
        raise XvfbError(f"Xvfb did not start: {last_err}")

    def _kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None

    def stop(self) -> None:
        self._kill()
        if self.display is not None:
            if self._old_display is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = self._old_display
            self.display = None

    def __enter__(self) -> Xvfb:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
