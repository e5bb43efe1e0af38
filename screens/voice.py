"""Voice guidance with espeak-ng on a worker thread; silent when there is no audio."""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading

log = logging.getLogger("screens.voice")

VOICES = {"zh_CN": "cmn", "zh_HK": "yue", "en": "en"}


class Speaker:
    """Speaks the latest instruction; newer text replaces what is still queued.

    Never blocks the caller, never raises: no espeak-ng or no audio device means silence.
    ``spoken`` counts what was handed to the engine (tests, diagnostics); only instruction
    texts are spoken, never personal data.
    """

    def __init__(self, enabled: bool = True, exe: str | None = None) -> None:
        self.exe = exe or shutil.which("espeak-ng")
        self.enabled = enabled and self.exe is not None
        self.spoken = 0
        self.last_text = ""
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def say(self, text: str, lang: str) -> None:
        if not self.enabled or not text:
            return
        self.last_text = text
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
            self._thread.start()
        try:
            self._queue.get_nowait()  # drop stale text
        except queue.Empty:
            pass
        self.stop_current()
        try:
            self._queue.put_nowait((text, VOICES.get(lang, "cmn")))
        except queue.Full:
            pass

    def stop_current(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()

    def close(self) -> None:
        self.stop_current()
        if self._thread is not None:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            text, voice = item
            assert self.exe is not None
            try:
                self._proc = subprocess.Popen(
                    [self.exe, "-v", voice, "-s", "140", text],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                self.spoken += 1
                self._proc.wait(timeout=30)
            except (OSError, subprocess.SubprocessError) as exc:
                log.info("voice unavailable: %s", type(exc).__name__)
                if self._proc is not None and self._proc.poll() is None:
                    self._proc.kill()
            finally:
                self._proc = None
