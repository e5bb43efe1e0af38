"""What the attract screen shows, from configuration (no Kivy here): the district's notices
in the citizen's language, the built-in tips after them, the most used matters as shortcuts,
and where below the screen the card reader and the scanner are."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

TIPS = ("notice_1", "notice_2", "notice_3")  # message keys, after the district's notices

# horizontal place (0..1 of the screen width) of a device below the screen
PLACE_X = {"below_left": 0.2, "below_center": 0.5, "below_right": 0.8}


def notices(attract: Any, lang: str, today: dt.date) -> list[str]:
    """The texts of the configured notices still valid ``today``, in ``lang`` (zh_CN when
    the operator gave none in that language)."""
    out = []
    for notice in getattr(attract, "notices", []):
        if notice.until is not None and notice.until < today:
            continue
        text = getattr(notice, lang, None) or notice.zh_CN
        out.append(text)
    return out


def shortcuts(matters: Iterable[Any], wanted: Sequence[str]) -> list[Any]:
    """The catalogue's matters named in ``wanted``, in that order; unknown ids left out."""
    by_id = {m.id: m for m in matters}
    return [by_id[m] for m in wanted if m in by_id]


def device_places(reader: str, scanner: str) -> tuple[float, float]:
    """Where to point at the card reader and the scanner; two devices configured at the
    same place are drawn side by side rather than on top of each other."""
    rx, sx = PLACE_X.get(reader, 0.5), PLACE_X.get(scanner, 0.5)
    if rx == sx:
        rx, sx = (rx + 0.12, rx - 0.12) if rx < 0.8 else (rx, rx - 0.24)
    return rx, sx
