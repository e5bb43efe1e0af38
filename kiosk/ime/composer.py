"""The pinyin keyboard's state: letters being composed, their candidates, the page shown.

The keyboard hands every key to :meth:`Composer.press` and applies what comes back to the
field, as keys of the kiosk's keypads (``"<bs>"``, ``"1"``) or whole words (``"南海"``).
Nothing the citizen did not choose is converted: a digit, Done or the language key while
letters are pending puts the letters themselves in the field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kiosk.ime.engine import Candidate, PinyinEngine
from kiosk.ime.pinyin import SEPARATOR, normalize
from kiosk.ime.script import converter

MODES = ("zh", "en")


@dataclass(frozen=True)
class Shown:
    """A candidate as the citizen sees it (in the script of the language)."""

    word: str
    end: int


class Composer:
    """Pinyin composition for one keyboard. ``engine`` answers None until it is built."""

    def __init__(self, engine: Callable[[], PinyinEngine | None], lang: str = "zh_CN",
                 mode: str = "zh", page_size: int = 5, max_letters: int = 40) -> None:
        self._engine = engine
        self.lang = lang
        self.mode = mode if mode in MODES else "zh"
        self.page_size = max(1, page_size)
        self.max_letters = max_letters
        self.buffer = ""
        self.page = 0
        self._shown: list[Shown] = []
        self._limit = 0
        self._for: tuple[str, str, int] | None = None  # (buffer, lang, limit) shown

    # -- what the keyboard draws ------------------------------------------------------------
    @property
    def composing(self) -> bool:
        return bool(self.buffer)

    @property
    def waiting(self) -> bool:
        """Letters are pending but the engine is not built yet."""
        return self.composing and self._engine() is None

    @property
    def page_words(self) -> list[str]:
        start = self.page * self.page_size
        return [s.word for s in self._shown[start:start + self.page_size]]

    @property
    def has_prev(self) -> bool:
        return self.page > 0

    @property
    def has_next(self) -> bool:
        return len(self._shown) > (self.page + 1) * self.page_size

    @property
    def preedit(self) -> str:
        """The pending letters as the engine reads them (``nan'hai``)."""
        if not self.buffer:
            return ""
        engine = self._engine()
        if engine is None:
            return self.buffer
        readings = engine.lexicon.syllables.segment(self.buffer)
        if not readings:
            return self.buffer
        best = readings[0]
        read = SEPARATOR.join(self.buffer[t.start:t.end] for t in best)
        return read + self.buffer[best[-1].end:].lstrip(SEPARATOR)

    # -- what the citizen does --------------------------------------------------------------
    def press(self, key: str) -> list[str]:
        """One key of the keyboard; returns what goes into the field."""
        if key == "<lang>":
            return self.toggle()
        if self.mode == "en":
            return [key]
        if len(key) == 1 and key.isascii() and key.isalpha():
            if len(self.buffer) < self.max_letters:
                self._set(self.buffer + key.lower())
            return []
        if key == SEPARATOR:
            if self.buffer and not self.buffer.endswith(SEPARATOR):
                self._set(self.buffer + SEPARATOR)
            return []
        if not self.buffer:
            return [key]
        if key == "<bs>":
            self._set(self.buffer[:-1])
            return []
        if key == "<clear>":
            self._set("")
            return []
        if key == "<space>":
            return self.choose(0) if self._shown else self.flush()
        return self.flush() + [key]

    def choose(self, index: int) -> list[str]:
        """Take candidate ``index`` of the page shown; the letters it read are consumed."""
        self.refresh()
        at = self.page * self.page_size + index
        if not 0 <= index < self.page_size or at >= len(self._shown):
            return []
        chosen = self._shown[at]
        self._set(self.buffer[chosen.end:].lstrip(SEPARATOR))
        return [chosen.word]

    def flush(self) -> list[str]:
        """End the composition: the pending letters go into the field as they are."""
        letters = self.buffer.replace(SEPARATOR, "")
        self._set("")
        return [letters] if letters else []

    def toggle(self) -> list[str]:
        """Switch between Chinese (pinyin) and English letters."""
        out = self.flush()
        self.mode = "en" if self.mode == "zh" else "zh"
        return out

    def next_page(self) -> None:
        if self.has_next:
            self.page += 1
            self.refresh()

    def prev_page(self) -> None:
        if self.page > 0:
            self.page -= 1

    def set_lang(self, lang: str) -> None:
        if lang != self.lang:
            self.lang = lang
            self.refresh()

    def reset(self) -> None:
        """Forget everything pending (the field lost focus, the session ended)."""
        self._set("")

    # -- candidates -------------------------------------------------------------------------
    def _set(self, buffer: str) -> None:
        self.buffer = normalize(buffer) if buffer else ""
        self.page = 0
        self._limit = 0
        self.refresh()

    def refresh(self) -> bool:
        """Look the candidates up again if the letters, the language or the page need it
        (or the engine has just become ready); True when they changed."""
        if not self.buffer:
            changed = bool(self._shown)
            self._shown, self._for = [], None
            return changed
        engine = self._engine()
        if engine is None:
            return False
        need = max(4 * self.page_size, (self.page + 3) * self.page_size)
        if self._for is not None and self._for[:2] == (self.buffer, self.lang) \
                and self._for[2] >= need:
            return False
        self._limit = max(need, 2 * self._limit)
        found = engine.candidates(self.buffer, self._limit)
        self._shown = self._convert(found)
        self._for = (self.buffer, self.lang, self._limit)
        return True

    def _convert(self, found: list[Candidate]) -> list[Shown]:
        convert = converter(self.lang)
        out: list[Shown] = []
        seen: set[str] = set()
        for c in found:
            word = convert(c.word)
            if word not in seen:
                seen.add(word)
                out.append(Shown(word, c.end))
        return out
