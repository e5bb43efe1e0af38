"""Matter search: by keyword (any language) and by pinyin initials (``hjzm`` -> 户籍证明)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from kiosk.backend.contract import Matter


@lru_cache(maxsize=4096)
def initials(text: str) -> str:
    """Lower-case pinyin initials of the Han characters in ``text`` (others kept as is)."""
    from pypinyin import Style, lazy_pinyin

    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="default")
    return "".join(p[0] for p in parts if p).lower()


@lru_cache(maxsize=4096)
def full_pinyin(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "".join(lazy_pinyin(text)).lower()


def _haystacks(matter: Matter) -> list[str]:
    texts = list(matter.name.values()) + list(matter.keywords)
    return texts


def matches(matter: Matter, query: str) -> bool:
    q = "".join(query.split()).lower()
    if not q:
        return True
    for text in _haystacks(matter):
        plain = "".join(text.split()).lower()
        if q in plain:
            return True
        if q.isascii() and q.isalpha() and (q in initials(text) or q in full_pinyin(text)):
            return True
    return False


def search(matters: Iterable[Matter], query: str, category: str | None = None) -> list[Matter]:
    """Matters of ``category`` (None: all) matching ``query``, in catalogue order."""
    return [m for m in matters
            if (category is None or m.category == category) and matches(m, query)]
