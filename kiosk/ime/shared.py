"""The kiosk's one pinyin engine and one division tree, each built once on a worker."""

from __future__ import annotations

import threading

from kiosk.address.divisions import DivisionTree, load_tree
from kiosk.ime.engine import PinyinEngine
from kiosk.ime.lexicon import build_lexicon
from kiosk.ime.service import Warm

# place names enter the lexicon at least this frequent (佛山 has 264 in jieba's counts,
# 南海区 4, 桂城 none): the kiosk's own city's, typed whole, come on the first page; the
# rest of its province's rank below common words of the same reading (黄芪 before 黄磜)
CITY_FREQUENCY = 300
PROVINCE_FREQUENCY = 20

_lock = threading.Lock()
_build_lock = threading.Lock()  # one build at a time: pypinyin's imports are not thread-safe
_tree: Warm[DivisionTree] = Warm("address divisions", load_tree)
_engines: dict[str, Warm[PinyinEngine]] = {}


def division_tree() -> Warm[DivisionTree]:
    return _tree


def build_engine(district: str = "") -> PinyinEngine:
    """The engine from the lexicon plus the division names of ``district``'s province."""
    with _build_lock:
        return _build_engine(district)


def _build_engine(district: str) -> PinyinEngine:
    extra: list[tuple[str, int]] = []
    if district:
        tree = _tree.wait()
        start = tree.start_for(district) if tree is not None else []
        if tree is not None and start:
            extra = [(name, PROVINCE_FREQUENCY) for name in tree.names_under(start[0].code)]
            city = start[1] if len(start) > 2 else start[0]
            extra += [(name, CITY_FREQUENCY) for name in tree.names_under(city.code)]
    return PinyinEngine(build_lexicon(extra))


def pinyin_engine(district: str = "") -> Warm[PinyinEngine]:
    """The engine for a kiosk in ``district`` (its province's place names known)."""
    with _lock:
        warm = _engines.get(district)
        if warm is None:
            warm = _engines[district] = Warm("pinyin input", lambda: build_engine(district))
        return warm


def warm_input(district: str = "") -> None:
    """Start building the division tree and the engine (the kiosk calls this once it is
    up, so both are ready before a citizen reaches a form)."""
    _tree.start()
    pinyin_engine(district).start()
