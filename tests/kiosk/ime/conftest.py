"""One real engine for the input-method tests (jieba's and pypinyin's data, ~3 s to build)."""

from __future__ import annotations

import pytest

from kiosk.ime.engine import PinyinEngine
from kiosk.ime.shared import pinyin_engine

DISTRICT = "南海区"  # config/default.yaml: kiosk.district


@pytest.fixture(scope="session")
def engine() -> PinyinEngine:
    warm = pinyin_engine(DISTRICT)
    built = warm.wait(120)
    assert built is not None, warm.error
    return built
