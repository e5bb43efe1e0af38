"""Translations of every visible string: gettext catalogues read with Babel.

Sources are ``screens/locale/<lang>/LC_MESSAGES/kiosk.po`` with message keys as msgids
(``touch_to_start``, notice keys such as ``card_expired``). The ``.po`` files are read
directly at first use, so a fresh clone needs no compile step; ``compile_catalogues()``
also writes the binary ``.mo`` next to them for tools that want them.

Unknown keys never reach the screen: :func:`tr` falls back to a plain generic message.
"""

from __future__ import annotations

import logging
import string
import threading
from pathlib import Path
from typing import Any

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "kiosk"
LANGUAGES = ("zh_CN", "zh_HK", "en")
FALLBACK_KEY = "generic_error"
# an unknown key of a known family still gets that family's plain message and alternative
FAMILY_FALLBACKS = (("printer.", "printer_down"), ("print_", "printer_down"),
                    ("card_", "card_invalid"), ("code_", "code_invalid"),
                    ("face_", "face_failed"), ("certificate_", "matter_blocked"))

log = logging.getLogger("screens.i18n")
_catalogues: dict[str, dict[str, str]] = {}
_lock = threading.Lock()
_reported: set[str] = set()


def _po_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _load(lang: str) -> dict[str, str]:
    from babel.messages.pofile import read_po

    path = _po_path(lang)
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id and m.string}


def catalogue(lang: str) -> dict[str, str]:
    """The translations of ``lang`` (key -> text), loaded once."""
    with _lock:
        if lang not in _catalogues:
            _catalogues[lang] = _load(lang)
        return _catalogues[lang]


def has(key: str, lang: str = "zh_CN") -> bool:
    return key in catalogue(lang)


class _SafeParams(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def tr(key: str, lang: str = "zh_CN", /, **params: Any) -> str:
    """The text of ``key`` in ``lang``; missing keys fall back to zh_CN, then to a generic
    message (logged once), never the raw key."""
    text = catalogue(lang).get(key) or catalogue("zh_CN").get(key)
    if text is None:
        family = next((k for prefix, k in FAMILY_FALLBACKS if key.startswith(prefix)), None)
        text = catalogue(lang).get(family) if family else None
    if text is None:
        if key not in _reported:
            _reported.add(key)
            log.warning("no translation for message key %r", key)
        text = catalogue(lang).get(FALLBACK_KEY) or "Sorry, something went wrong."
    if params or "{" in text:
        try:
            return string.Formatter().vformat(text, (), _SafeParams(params))
        except (ValueError, IndexError):
            return text
    return text


def keys() -> set[str]:
    return set(catalogue("zh_CN"))


def compile_catalogues() -> list[Path]:
    """Write ``kiosk.mo`` next to each ``kiosk.po`` (for gettext tools); returns the paths."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    written = []
    for lang in LANGUAGES:
        po = _po_path(lang)
        mo = po.with_suffix(".mo")
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        with mo.open("wb") as fh:
            write_mo(fh, catalog)
        written.append(mo)
    return written


def _main() -> None:  # python -m screens.i18n
    for path in compile_catalogues():
        print(path)


if __name__ == "__main__":
    _main()
