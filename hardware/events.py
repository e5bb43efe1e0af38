"""The typed events devices deliver to their one sink (``device.start(sink)``).

Every event is a frozen dataclass deriving from :class:`~hardware.base.DeviceEvent`; a
consumer matches them by type (``match event: case CardRead(card=card): ...``), never by a
string. ``kind`` is only the event's name in JSON output. No event carries personal data
except :class:`CardRead` (the card, whose repr is redacted) and :class:`CodeScanned` (the
scanned text, kept out of its repr).

Every device also delivers :class:`~hardware.base.StatusChange` (only what changed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hardware.base import DeviceEvent, StatusChange
from hardware.idcard.card import IdCardData

__all__ = [
    "CARD_ERROR_CODES", "CardInserted", "CardRead", "CardReadFailed", "CardRemoved",
    "CodeScanned", "DeviceEvent", "FrameSourceOffline", "FrameSourceOnline", "JobProgress",
    "ScanRejected", "StatusChange",
]

# CardReadFailed codes and the situations they stand for
CARD_ERROR_CODES = (
    "no_card", "timeout", "checksum", "sam_error", "partial", "no_device", "removed_mid_read",
    "invalid_data", "unknown_card",
)


# -- ID-card reader ----------------------------------------------------------------------------
@dataclass(frozen=True)
class CardInserted(DeviceEvent):
    """A card entered the field; reading it starts now."""

    kind: ClassVar[str] = "card_inserted"


@dataclass(frozen=True)
class CardRead(DeviceEvent):
    """A card was placed and read completely."""

    kind: ClassVar[str] = "card_read"
    card: IdCardData


@dataclass(frozen=True)
class CardRemoved(DeviceEvent):
    """The card that was read has left the field."""

    kind: ClassVar[str] = "card_removed"


@dataclass(frozen=True)
class CardReadFailed(DeviceEvent):
    """Reading a placed card failed ("place your card again"); ``code`` is one of
    :data:`CARD_ERROR_CODES`; the message has no personal data."""

    kind: ClassVar[str] = "card_error"
    code: str
    message: str


# -- QR code scanner (serial, or the camera's decoder) ----------------------------------------
@dataclass(frozen=True)
class CodeScanned(DeviceEvent):
    """A code was read; ``source`` is ``serial`` or ``camera``. ``data`` is UTF-8 text."""

    kind: ClassVar[str] = "code_scanned"
    data: str
    source: str

    def __repr__(self) -> str:  # scanned text may be personal: keep it out of log reprs
        return f"CodeScanned(source={self.source!r}, len={len(self.data)})"


@dataclass(frozen=True)
class ScanRejected(DeviceEvent):
    """Something was read but refused: ``oversized``, ``binary``, ``not_utf8``, ``empty``,
    ``partial`` (a line cut off, e.g. by an unplug)."""

    kind: ClassVar[str] = "scan_rejected"
    reason: str
    source: str = "serial"


# -- camera -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class FrameSourceOnline(DeviceEvent):
    """Frames arrive (again)."""

    kind: ClassVar[str] = "frames_online"
    source: str


@dataclass(frozen=True)
class FrameSourceOffline(DeviceEvent):
    """No frame for ``offline_after_s`` (camera unplugged, stalled, or closed)."""

    kind: ClassVar[str] = "frames_offline"
    source: str


# -- printer ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobProgress(DeviceEvent):
    """A print job moved on: ``state`` is ``submitted`` or a final outcome (``completed``,
    ``aborted``, ``canceled``, ``timeout``, ``duplicate``). No document content or title."""

    kind: ClassVar[str] = "job_progress"
    job_id: int | None
    state: str
    message_key: str | None = None
