"""The pinyin lexicon: words with their readings and frequencies, from maintained packages.

- Words and frequencies: jieba's dictionary (``jieba/dict.txt``, ~350,000 words counted over
  a large corpus, MIT licence). Only the data file is read; jieba itself is not imported.
- Readings: pypinyin's data (MIT licence): its phrase readings and its forward
  maximum-matching segmentation for words, each character's default reading otherwise, the
  same result as ``pypinyin.lazy_pinyin`` (a test compares them) at a fraction of its cost;
  every reading of a single character (行: xing and hang).
- Characters of the basic CJK block that jieba does not count (rare characters of names)
  are kept with frequency 0, so a citizen can still type them one by one.

Built once (about 3 s of one core) on a worker, never on the UI thread; see
:class:`kiosk.ime.service.Warm`.
"""

from __future__ import annotations

import importlib.util
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from kiosk.ime.pinyin import Syllables, Token

HAN = re.compile(r"^[\u4e00-\u9fff]+$")
MAX_WORD = 8  # characters; longer entries are idioms and names nobody types whole
FIRST_CJK, LAST_CJK = 0x4E00, 0x9FFF
OTHER_READING_FACTOR = 0.03


class LexiconError(RuntimeError):
    """The lexicon's data packages are missing or unreadable."""


def jieba_dictionary() -> Path:
    """Where jieba's word-frequency dictionary is installed (without importing jieba)."""
    spec = importlib.util.find_spec("jieba")
    if spec is None or not spec.submodule_search_locations:
        raise LexiconError("the jieba package is not installed (its dictionary is needed)")
    path = Path(next(iter(spec.submodule_search_locations))) / "dict.txt"
    if not path.is_file():
        raise LexiconError(f"jieba's dictionary is missing: {path}")
    return path


def read_frequencies(path: Path) -> Iterator[tuple[str, int]]:
    """(word, frequency) of jieba's dictionary, Han words of at most MAX_WORD characters."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split(" ")
            if len(parts) < 2:
                continue
            word = parts[0]
            if len(word) <= MAX_WORD and HAN.match(word):
                try:
                    yield word, int(parts[1])
                except ValueError:
                    continue


class Readings:
    """pypinyin's readings without tones (``nan``, ``lve``)."""

    def __init__(self) -> None:
        from pypinyin.constants import PHRASES_DICT, PINYIN_DICT
        from pypinyin.contrib.tone_convert import to_normal
        from pypinyin.seg.mmseg import seg

        self._phrases = PHRASES_DICT
        self._seg = seg
        self._plain: dict[str, str] = {}
        self._to_normal = to_normal
        self.of_char: dict[str, list[str]] = {}
        for cp, readings in PINYIN_DICT.items():
            if FIRST_CJK <= cp <= LAST_CJK:
                plain = []
                for r in readings.split(","):
                    p = self.plain(r)
                    if p not in plain:
                        plain.append(p)
                self.of_char[chr(cp)] = plain

    def plain(self, toned: str) -> str:
        out = self._plain.get(toned)
        if out is None:
            out = self._plain[toned] = self._to_normal(toned)
        return out

    def of_word(self, word: str) -> tuple[str, ...] | None:
        """The reading pypinyin gives ``word``; None when a character has none."""
        phrase = self._phrases.get(word)
        if phrase is not None:
            return tuple(self.plain(r[0]) for r in phrase)
        out: list[str] = []
        for piece in self._seg.cut(word):
            phrase = self._phrases.get(piece) if len(piece) > 1 else None
            if phrase is not None:
                out.extend(self.plain(r[0]) for r in phrase)
                continue
            for ch in piece:
                readings = self.of_char.get(ch)
                if not readings:
                    return None
                out.append(readings[0])
        return tuple(out)


@dataclass
class Lexicon:
    """Words (a character once per reading), frequencies and an index: for each
    abbreviation (the first letter of each syllable: ``nh`` for nan'hai) the lines
    ``reading<TAB>id`` of its words, most frequent first, one string searched with a
    compiled pattern (C speed, not a Python loop)."""

    words: list[str] = field(default_factory=list)
    freqs: array[int] = field(default_factory=lambda: array("I"))
    buckets: dict[str, str] = field(default_factory=dict)
    syllables: Syllables = field(default_factory=lambda: Syllables(()))

    def __len__(self) -> int:
        return len(self.words)

    def lookup(self, tokens: Iterable[Token], limit: int) -> list[int]:
        """Ids of words read as ``tokens`` (exact syllables or prefixes), most frequent
        first, ``limit`` at most."""
        toks = list(tokens)
        bucket = self.buckets.get("".join(t.text[0] for t in toks))
        if bucket is None:
            return []
        parts = [re.escape(t.text) + ("" if t.complete else "[a-z]*") for t in toks]
        pattern = re.compile("^" + "'".join(parts) + r"\t(\d+)$", re.M)
        out: list[int] = []
        for m in pattern.finditer(bucket):
            out.append(int(m.group(1)))
            if len(out) >= limit:
                break
        return out


def build_lexicon(extra: Iterable[tuple[str, int]] = (),
                  dictionary: Path | None = None) -> Lexicon:
    """The lexicon from jieba's frequencies and pypinyin's readings, plus ``extra``
    (word, frequency) pairs (place names of the kiosk's province), which never lower a
    word's own frequency."""
    readings = Readings()
    freq: dict[str, int] = {}
    for word, count in read_frequencies(dictionary or jieba_dictionary()):
        if count > freq.get(word, -1):
            freq[word] = count
    for word, count in extra:
        if HAN.match(word) and len(word) <= MAX_WORD and count > freq.get(word, -1):
            freq[word] = count
    for ch in readings.of_char:
        freq.setdefault(ch, 0)
    lex = Lexicon()
    entries: list[tuple[str, int, int]] = []  # (reading, -freq, id)
    for word, count in freq.items():
        keys: list[tuple[tuple[str, ...], int]]
        if len(word) == 1:
            # a character's other readings are rarer than its first (省: sheng, xing, xian)
            keys = [((r,), count if i == 0 else int(count * OTHER_READING_FACTOR))
                    for i, r in enumerate(readings.of_char.get(word, []))]
        else:
            one = readings.of_word(word)
            keys = [(one, count)] if one is not None else []
        for key, weight in keys:
            if not all(s.isascii() and s.isalpha() for s in key):
                continue
            wid = len(lex.words)
            lex.words.append(word)
            lex.freqs.append(weight)
            entries.append(("'".join(key), -weight, wid))
    entries.sort(key=lambda e: (e[1], e[2]))
    lines: dict[str, list[str]] = {}
    for reading, _neg, wid in entries:
        abbrev = "".join(s[0] for s in reading.split("'"))
        lines.setdefault(abbrev, []).append(f"{reading}\t{wid}")
    lex.buckets = {abbrev: "\n".join(rows) for abbrev, rows in lines.items()}
    syllables: set[str] = set()
    for plain in readings.of_char.values():
        syllables.update(plain)
    lex.syllables = Syllables(syllables)
    return lex
