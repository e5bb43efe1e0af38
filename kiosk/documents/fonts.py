"""The CJK font embedded in every printed document.

reportlab embeds (subsets) TrueType outlines only, so the candidates are TrueType
collections: WenQuanYi Micro Hei (Debian ``fonts-wqy-microhei``) first. Noto Sans CJK ships
CFF outlines, which reportlab cannot embed, so it is not a candidate. ``KIOSK_CJK_FONT``
(path, optionally ``path#index``) overrides the choice.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_NAME = "KioskCJK"
CANDIDATES: tuple[tuple[str, int], ...] = (
    ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0),
    ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0),
    ("/usr/share/fonts/truetype/arphic/uming.ttc", 0),
)
_lock = threading.Lock()
_registered: str | None = None


class FontMissing(RuntimeError):
    """No CJK TrueType font is installed (install fonts-wqy-microhei)."""


def font_file() -> tuple[Path, int]:
    """The font file and collection index that will be embedded."""
    override = os.environ.get("KIOSK_CJK_FONT")
    if override:
        path, _, number = override.partition("#")
        return Path(path), int(number or 0)
    for candidate, index in CANDIDATES:
        if os.path.exists(candidate):
            return Path(candidate), index
    raise FontMissing("no CJK TrueType font found; install the Debian package fonts-wqy-microhei")


def cjk_font() -> str:
    """Register the CJK font with reportlab once; return its name for ``setFont``."""
    global _registered
    with _lock:
        if _registered is None:
            path, index = font_file()
            pdfmetrics.registerFont(TTFont(FONT_NAME, str(path), subfontIndex=index))
            _registered = FONT_NAME
        return _registered
