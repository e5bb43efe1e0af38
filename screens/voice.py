"""Voice guidance with espeak-ng on a worker thread; silent when there is no audio.

Mandarin (``cmn``) for simplified Chinese, Cantonese (``yue``) for traditional Chinese, and
Cantonese as an elderly-mode choice whatever the script on the screen (most elderly citizens
in Foshan speak Cantonese); English for English.
"""

from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import threading
from collections import deque

log = logging.getLogger("screens.voice")

VOICES = {"zh_CN": "cmn", "zh_HK": "yue", "en": "en"}
CHINESE_VOICES = ("cmn", "yue")


_SYMBOLS = str.maketrans("", "", "✓✕●○★←→└─┘·")


def speakable(text: str) -> str:
    """``text`` without the marks drawn beside words on screen (ticks, stars, bullets)."""
    return " ".join(text.translate(_SYMBOLS).split())


def voice_for(lang: str, dialect: str = "") -> str:
    """The espeak-ng voice for ``lang``; ``dialect`` (cmn | yue) overrides it for Chinese."""
    default = VOICES.get(lang, "cmn")
    if dialect in CHINESE_VOICES and default in CHINESE_VOICES:
        return dialect
    return default


class Speaker:
    """Speaks the latest instruction; newer text replaces what is still queued or playing.

    Never blocks the caller, never raises: no espeak-ng or no audio device means silence.
    ``requested`` keeps the last (voice, text) pairs asked for, ``history`` those handed
    to the engine (a newer text may replace one before it is) and ``spoken`` counts them
    (tests, diagnostics); only instruction texts are spoken, never personal data.
    """

    def __init__(self, enabled: bool = True, exe: str | None = None) -> None:
        self.exe = exe or shutil.which("espeak-ng")
        self.enabled = enabled and self.exe is not None
        self.spoken = 0
        self.last_text = ""
        self.history: deque[tuple[str, str]] = deque(maxlen=100)
        self.requested: deque[tuple[str, str]] = deque(maxlen=100)
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=1)
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None
        self._handed = threading.Condition()

    def say(self, text: str, lang: str, voice: str | None = None) -> None:
        """Speak ``text`` (in ``voice``, else the voice of ``lang``); returns at once."""
        text = speakable(text)
        if not self.enabled or not text:
            return
        self.last_text = text
        voice = voice or voice_for(lang)
        self.requested.append((voice, text))
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="voice", daemon=True)
            self._thread.start()
        try:
            self._queue.get_nowait()  # drop stale text
        except queue.Empty:
            pass
        self.stop_current()
        try:
            self._queue.put_nowait((text, voice))
        except queue.Full:
            pass

    def wait_spoken(self, count: int, timeout: float) -> bool:
        """Wait until ``count`` texts in all have been handed to the engine."""
        with self._handed:
            return self._handed.wait_for(lambda: self.spoken >= count, timeout)

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
                with self._handed:
                    self.spoken += 1
                    self.history.append((voice, text))
                    self._handed.notify_all()
                self._proc.wait(timeout=30)
            except (OSError, subprocess.SubprocessError) as exc:
                log.info("voice unavailable: %s", type(exc).__name__)
                if self._proc is not None and self._proc.poll() is None:
                    self._proc.kill()
            finally:
                self._proc = None
