"""Events the ID-card reader emits to the kiosk core (no personal data outside CardRead)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hardware.idcard.card import IdCardData

# CardError codes and the situations they stand for
ERROR_CODES = (
    "no_card", "timeout", "checksum", "sam_error", "partial", "no_device", "removed_mid_read",
    "invalid_data", "unknown_card",
)


@dataclass(frozen=True)
class CardRead:
    """A card was placed and read completely."""

    kind: ClassVar[str] = "card_read"
    card: IdCardData


@dataclass(frozen=True)
class CardRemoved:
    """The card that was read has left the field."""

    kind: ClassVar[str] = "card_removed"


@dataclass(frozen=True)
class CardError:
    """Reading a placed card failed ("place your card again"); the message has no personal data."""

    kind: ClassVar[str] = "card_error"
    code: str
    message: str
