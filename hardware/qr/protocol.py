"""Serial QR scanner protocol: framing, trigger commands, payload checks, de-duplication.

Pure: bytes and timestamps in, typed values out. Scanners in keyboard-less "serial" mode
send each code followed by a configured suffix (CR, or CR LF). pyserial's ``readline`` waits
for LF, so a CR-terminated scanner would never complete a line: we frame on the configured
terminator ourselves.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field

from hardware.base import InvalidData

TERMINATORS: dict[str, bytes] = {"cr": b"\r", "crlf": b"\r\n"}

# Honeywell / Datalogic serial trigger: SYN 'T' CR starts a decode, SYN 'U' CR stops it.
TRIGGER_START = b"\x16T\r"
TRIGGER_STOP = b"\x16U\r"
TRIGGER_COMMANDS: dict[bytes, str] = {TRIGGER_START: "start", TRIGGER_STOP: "stop"}

MAX_PAYLOAD = 2048  # bytes; a QR version 40 holds 2953 bytes but no kiosk code comes close
STALE_AFTER_S = 0.5  # a scanner sends a whole line in one burst; older partial data is stale


class PayloadRejected(InvalidData):
    """A frame that is not an acceptable code; ``detail`` is the reason."""


@dataclass(frozen=True)
class Frame:
    """One framed line (without terminator), or a refusal reason for a broken one."""

    data: bytes
    rejected: str | None = None


@dataclass
class LineFramer:
    """Split a byte stream into lines on ``terminator``, bounded by ``max_len``.

    A line longer than ``max_len`` yields one ``oversized`` frame and is skipped to its
    terminator. Buffered bytes older than ``stale_after_s`` (a line cut off by an unplug or a
    partial transmission) are dropped as ``partial`` when new bytes arrive or on
    :meth:`expire`.
    """

    terminator: bytes = b"\r"
    max_len: int = MAX_PAYLOAD
    stale_after_s: float = STALE_AFTER_S
    _buf: bytearray = field(default_factory=bytearray)
    _overflow: bool = False
    _last: float = 0.0

    @classmethod
    def for_suffix(cls, suffix: str, max_len: int = MAX_PAYLOAD) -> LineFramer:
        try:
            return cls(TERMINATORS[suffix], max_len)
        except KeyError:
            raise ValueError(f"suffix must be one of {sorted(TERMINATORS)}") from None

    @property
    def pending(self) -> int:
        return len(self._buf)

    def expire(self, now: float) -> list[Frame]:
        """Drop stale partial data; returns a ``partial`` frame if anything was dropped."""
        if (self._buf or self._overflow) and now - self._last > self.stale_after_s:
            return self.reset()
        return []

    def reset(self) -> list[Frame]:
        """Forget buffered bytes (on reconnect); a ``partial`` frame if there were any."""
        had = bool(self._buf) or self._overflow
        self._buf.clear()
        self._overflow = False
        return [Frame(b"", "partial")] if had else []

    def feed(self, data: bytes, now: float) -> list[Frame]:
        out = self.expire(now)
        self._last = now
        self._buf += data
        term = self.terminator
        while True:
            idx = self._buf.find(term)
            if idx < 0:
                break
            line = bytes(self._buf[:idx])
            del self._buf[: idx + len(term)]
            if self._overflow:
                self._overflow = False
                continue  # the tail of an oversized line, already reported
            if term == b"\r" and line.startswith(b"\n"):
                line = line[1:]  # a CR LF scanner on a CR config: tolerate the LF
            if len(line) > self.max_len:
                out.append(Frame(b"", "oversized"))
            else:
                out.append(Frame(line))
        # keep a possible partial terminator; report an over-long line once
        if len(self._buf) > self.max_len + len(term):
            if not self._overflow:
                out.append(Frame(b"", "oversized"))
            self._overflow = True
            del self._buf[: len(self._buf) - (len(term) - 1)]
        return out


# Unicode categories refused anywhere in a payload: format characters (bidi overrides and
# isolates, zero-width spaces and joiners, BOM / zero-width no-break space, tags), private use,
# unassigned, surrogates, line and paragraph separators. They are invisible or reorder what a
# person sees, so the code a citizen is shown would not be the code the kiosk acts on.
INVISIBLE_CATEGORIES = frozenset({"Cf", "Co", "Cn", "Cs", "Zl", "Zp"})
BOM = "\ufeff"


def sanitise(raw: bytes, max_len: int = MAX_PAYLOAD) -> str:
    """The payload as text, or :class:`PayloadRejected` (oversized, empty, not_utf8, binary,
    bom, format_char).

    Tab is the only control character allowed; DEL and C1 controls count as binary. A leading
    BOM is refused (``bom``), not stripped: no kiosk code begins with one, so it means a
    scanner set to a "UTF-8 with BOM" mode or a crafted code; stripping it would make two
    different scans the same accepted code, and a distinct reason tells the technician which
    scanner setting to fix. Bidi and other invisible format characters are refused
    (``format_char``) wherever they appear (see :data:`INVISIBLE_CATEGORIES`).
    """
    if len(raw) > max_len:
        raise PayloadRejected("payload too long", detail="oversized")
    if not raw:
        raise PayloadRejected("empty payload", detail="empty")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadRejected("payload is not UTF-8", detail="not_utf8") from None
    if any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F for c in text):
        raise PayloadRejected("payload holds control characters", detail="binary")
    if text.startswith(BOM):
        raise PayloadRejected("payload starts with a byte order mark", detail="bom")
    if any(not c.isascii() and unicodedata.category(c) in INVISIBLE_CATEGORIES for c in text):
        raise PayloadRejected("payload holds invisible or bidi format characters",
                              detail="format_char")
    return text


def parse_command(data: bytes) -> list[str]:
    """Trigger commands found in bytes sent *to* a scanner (used by the simulator)."""
    out = []
    for chunk in data.split(b"\r"):
        cmd = TRIGGER_COMMANDS.get(chunk + b"\r")
        if cmd:
            out.append(cmd)
    return out


@dataclass
class Deduplicator:
    """Suppress repeated reads of the same key within ``window_s`` of its last sighting.

    The window slides: a phone held under the scanner (read ten times a second) fires once.
    Also used to rate-limit rejections (key ``reject:<reason>``) during a burst of noise.
    """

    window_s: float = 2.0
    _seen: dict[str, float] = field(default_factory=dict)

    def accept(self, key: str, now: float) -> bool:
        last = self._seen.get(key)
        self._seen[key] = now
        if len(self._seen) > 256:
            self._seen = {k: t for k, t in self._seen.items() if now - t < self.window_s}
        return last is None or now - last >= self.window_s or now < last

    def clear(self) -> None:
        self._seen.clear()
