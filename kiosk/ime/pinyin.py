"""Pinyin syllables and the ways to read typed letters as them.

Typed letters (``a``-``z``, ``v`` for ü, ``'`` as a chosen boundary) are split into tokens:
a whole syllable (``nan``), matched exactly, or the start of one (an initial such as ``g`` or
``zh`` anywhere, any beginning at the end of the input, ``guangzho``), matched as a prefix.
So ``guangzhou``, ``gz`` and ``gzhou`` all reach 广州. The syllables themselves come from the
lexicon's data (pypinyin's readings), not from a table kept here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

SEPARATOR = "'"
# initials may stand for a whole syllable anywhere (abbreviated input: gz -> 广州)
INITIALS = frozenset(("b", "p", "m", "f", "d", "t", "n", "l", "g", "k", "h", "j", "q", "x",
                      "zh", "ch", "sh", "r", "z", "c", "s", "y", "w"))
# readings that are interjections (呣 嗯 哼 欸), reached through their initial instead: as
# whole syllables they would make every "n" or "m" ambiguous
INTERJECTIONS = frozenset(("m", "n", "ng", "hm", "hng"))
VOWELS = frozenset("aoe")
# the spellings people type for lüe and nüe besides pypinyin's own lve and nve
ALIASES = {"lue": "lve", "nue": "nve"}


@dataclass(frozen=True)
class Token:
    """One piece of the typed letters: ``text`` at ``start:end`` of the input; a whole
    syllable when ``complete`` (matched exactly), else the start of one (matched as a
    prefix)."""

    text: str
    start: int
    end: int
    complete: bool


Reading = tuple[Token, ...]


class Syllables:
    """The set of syllables a reading may use, and the segmentation of typed letters."""

    def __init__(self, syllables: Iterable[str]) -> None:
        full = {s for s in syllables if s.isascii() and s.isalpha() and s.islower()}
        full -= INTERJECTIONS
        full |= {alias for alias, real in ALIASES.items() if real in full}
        self.full = frozenset(full)
        self.prefixes = frozenset(s[:i] for s in self.full for i in range(1, len(s)))
        self.longest = max((len(s) for s in self.full), default=1)
        self._segment = lru_cache(maxsize=256)(self._segment_uncached)

    def forget(self) -> None:
        """Drop the cache of segmented input (what a citizen typed)."""
        self._segment.cache_clear()

    def __contains__(self, text: object) -> bool:
        return text in self.full

    def segment(self, letters: str, slack: int = 1, limit: int = 24) -> list[Reading]:
        """Readings of ``letters``, fewest tokens first: every reading with at most
        ``slack`` tokens more than the fewest, ``limit`` at most. Letters that no syllable
        can start (a stray ``i``) end the readable part; what follows is left out."""
        return list(self._segment(letters, slack, limit))

    def _options(self, letters: str, i: int) -> list[tuple[int, bool]]:
        """Tokens that can start at ``i``: (end, complete), longest first."""
        n = len(letters)
        out: list[tuple[int, bool]] = []
        for j in range(min(n, i + self.longest), i, -1):
            text = letters[i:j]
            if SEPARATOR in text:
                continue
            at_boundary = j == n or letters[j] == SEPARATOR
            if text in self.full:
                out.append((j, True))
            elif text in INITIALS or (at_boundary and text in self.prefixes):
                out.append((j, False))
        return out

    def _segment_uncached(self, letters: str, slack: int, limit: int) -> tuple[Reading, ...]:
        n = len(letters)
        options = [self._options(letters, i) if letters[i] != SEPARATOR else []
                   for i in range(n)]

        def skip(i: int) -> int:
            while i < n and letters[i] == SEPARATOR:
                i += 1
            return i

        # the furthest point a reading can reach from the start
        start = skip(0)
        reach = {start}
        for i in range(start, n):
            if i in reach:
                for j, _ in options[i]:
                    reach.add(skip(j))
        end = max(reach)
        if end == start:
            return ()
        # fewest tokens from each point to the end
        inf = n + 1
        fewest = [inf] * (n + 1)
        fewest[end] = 0
        for i in range(end - 1, start - 1, -1):
            best = inf
            for j, _ in options[i]:
                k = skip(j)
                if k <= end and fewest[k] + 1 < best:
                    best = fewest[k] + 1
            fewest[i] = best
        budget = fewest[start] + slack
        found: list[Reading] = []
        path: list[Token] = []

        def walk(i: int, strict: bool) -> None:
            if len(found) >= limit:
                return
            if i == end:
                found.append(tuple(path))
                return
            for j, complete in options[i]:
                k = skip(j)
                if k > end or fewest[k] >= inf or len(path) + 1 + fewest[k] > budget:
                    continue
                if strict and path and not path[-1].complete and path[-1].end == i \
                        and letters[i] in VOWELS:
                    continue  # "nan" is not n + an: after an initial, a vowel needs '
                text = letters[i:j]
                path.append(Token(ALIASES.get(text, text), i, j, complete))
                walk(k, strict)
                path.pop()

        walk(start, True)
        if not found:  # readable only against that habit: read it anyway
            walk(start, False)
        found.sort(key=len)
        return tuple(found)


def normalize(letters: str) -> str:
    """Typed keys as the segmenter reads them: lower case, ü as v, one separator at most
    between letters, none at the start."""
    out: list[str] = []
    for ch in letters.lower().replace("ü", "v"):
        if "a" <= ch <= "z":
            out.append(ch)
        elif ch == SEPARATOR and out and out[-1] != SEPARATOR:
            out.append(ch)
    return "".join(out)
