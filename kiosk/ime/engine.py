"""Candidate words for typed pinyin, ranked.

Order: words that read the whole input first, then words for a shorter leading part (the
citizen picks 南海 from ``nanhaidadao`` and goes on with ``dadao``), longest part first.
Within a part, by frequency; a reading with more tokens than the fewest possible (``xi'an``
for ``xian``) ranks its words lower, by a factor per extra token.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from kiosk.ime.lexicon import Lexicon
from kiosk.ime.pinyin import Reading, Token, normalize

EXTRA_TOKEN_FACTOR = 0.25


@dataclass(frozen=True)
class Candidate:
    """A word offered for the typed letters; choosing it consumes ``letters[:end]``."""

    word: str
    end: int
    score: float


class PinyinEngine:
    """Looks candidates up in a :class:`Lexicon`. Pure and thread-safe for reading."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._lookup = lru_cache(maxsize=2048)(self._lookup_uncached)

    def forget(self) -> None:
        """Drop the caches of what was looked up (typed letters are the citizen's)."""
        self._lookup.cache_clear()
        self.lexicon.syllables.forget()

    def _lookup_uncached(self, key: tuple[tuple[str, bool], ...], limit: int) -> list[int]:
        return self.lexicon.lookup((Token(t, 0, 0, c) for t, c in key), limit)

    def candidates(self, letters: str, limit: int = 40) -> list[Candidate]:
        """Up to ``limit`` candidates for ``letters`` (normalized first), best first."""
        text = normalize(letters)
        readings = self.lexicon.syllables.segment(text)
        if not readings:
            return []
        fewest: dict[int, int] = {}  # fewest tokens seen reaching an end
        for reading in readings:
            for k, tok in enumerate(reading, 1):
                fewest[tok.end] = min(fewest.get(tok.end, k), k)
        by_end: dict[int, dict[str, float]] = {}
        for reading in readings:
            self._collect(reading, fewest, by_end, limit)
        out: list[Candidate] = []
        seen: set[str] = set()
        for end in sorted(by_end, reverse=True):
            group = sorted(by_end[end].items(), key=lambda kv: (-kv[1], kv[0]))
            for word, score in group:
                if word in seen:
                    continue
                seen.add(word)
                out.append(Candidate(word, end, score))
                if len(out) >= limit:
                    return out
        return out

    def _collect(self, reading: Reading, fewest: dict[int, int],
                 by_end: dict[int, dict[str, float]], limit: int) -> None:
        freqs, words = self.lexicon.freqs, self.lexicon.words
        for k in range(len(reading), 0, -1):
            toks = reading[:k]
            end = toks[-1].end
            factor = EXTRA_TOKEN_FACTOR ** (k - fewest[end])
            group = by_end.setdefault(end, {})
            key = tuple((t.text, t.complete) for t in toks)
            for wid in self._lookup(key, limit):
                score = (freqs[wid] + 1) * factor
                word = words[wid]
                if score > group.get(word, -1.0):
                    group[word] = score
