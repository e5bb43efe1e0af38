"""A private X server (Xvfb) for headless runs: tests, benchmarks and the demo walkthrough."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import time
from types import TracebackType


class XvfbError(RuntimeError):
    """Xvfb is missing or did not come up before its deadline."""


class Xvfb:
    """Start Xvfb on a display of its own choosing, export ``DISPLAY``; stop on exit.

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
        """Xvfb chooses a free display itself and writes its number to a pipe once it
        accepts connections (``-displayfd``): servers started at the same moment by
        parallel runs never share a number, and no socket is mistaken for one's own."""
        exe = shutil.which("Xvfb")
        if exe is None:
            raise XvfbError("Xvfb is not installed (apt-get install xvfb)")
        read_fd, write_fd = os.pipe()
        try:
            self._proc = subprocess.Popen(
                [exe, "-displayfd", str(write_fd), "-screen", "0",
                 f"{self.width}x{self.height}x{self.depth}",
                 "-nolisten", "tcp", "-noreset", "+extension", "GLX"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, pass_fds=(write_fd,))
        finally:
            os.close(write_fd)
        try:
            number = self._read_display(read_fd)
        finally:
            os.close(read_fd)
        if number is None:
            err = "timed out"
            if self._proc.poll() is not None and self._proc.stderr is not None:
                err = self._proc.stderr.read().decode(errors="replace").strip()[-300:]
            self._kill()
            raise XvfbError(f"Xvfb did not start: {err}")
        self.display = f":{number}"
        self._old_display = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = self.display
        return self

    def _read_display(self, fd: int) -> int | None:
        """The number Xvfb writes (``"N\\n"``) when ready; None when it exits first or
        the deadline passes."""
        data = b""
        deadline = time.monotonic() + self.timeout
        while not data.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 16)
            if not chunk:  # the server exited (its end of the pipe closed)
                return None
            data += chunk
        return int(data.strip())

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

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
