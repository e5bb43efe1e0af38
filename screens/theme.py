"""Colours and sizes of the two themes: standard and high contrast (elderly mode)."""

from __future__ import annotations

from dataclasses import dataclass

RGBA = tuple[float, float, float, float]


def _hex(value: str, alpha: float = 1.0) -> RGBA:
    value = value.lstrip("#")
    r, g, b = (int(value[i:i + 2], 16) / 255 for i in (0, 2, 4))
    return (r, g, b, alpha)


@dataclass(frozen=True)
class Palette:
    """Named colours the .kv files bind to (through the view-model)."""

    bg: RGBA
    surface: RGBA
    fg: RGBA
    muted: RGBA
    primary: RGBA
    on_primary: RGBA
    accent: RGBA
    danger: RGBA
    success: RGBA
    border: RGBA
    disabled: RGBA


STANDARD = Palette(
    bg=_hex("#eef3f8"), surface=_hex("#ffffff"), fg=_hex("#17212b"), muted=_hex("#52606d"),
    primary=_hex("#1f5fae"), on_primary=_hex("#ffffff"), accent=_hex("#c0392b"),
    danger=_hex("#b3261e"), success=_hex("#1e7b34"), border=_hex("#c5d0db"),
    disabled=_hex("#9aa5b1"))

HIGH_CONTRAST = Palette(
    bg=_hex("#000000"), surface=_hex("#111111"), fg=_hex("#ffffff"), muted=_hex("#f2f2f2"),
    primary=_hex("#ffd400"), on_primary=_hex("#000000"), accent=_hex("#ffd400"),
    danger=_hex("#ff6b6b"), success=_hex("#7CFC00"), border=_hex("#ffffff"),
    disabled=_hex("#8a8a8a"))

FONT_SCALE_STANDARD = 1.0
FONT_SCALE_ELDERLY = 1.6  # issue 8: at least 1.5x
