"""Segmentation of typed letters into pinyin syllables or their starts."""

from __future__ import annotations

import pytest

from kiosk.ime.pinyin import Syllables, normalize


@pytest.fixture(scope="module")
def syl(engine) -> Syllables:  # type: ignore[no-untyped-def]
    return engine.lexicon.syllables


def texts(reading):  # type: ignore[no-untyped-def]
    return [(t.text, t.complete) for t in reading]


def test_the_syllables_come_from_the_data(syl: Syllables) -> None:
    assert 380 < len(syl.full) < 430
    for s in ("guang", "zhou", "nan", "hai", "lve", "lue", "a", "er", "zhuang"):
        assert s in syl
    for s in ("n", "m", "ng", "gz", "i", "v"):
        assert s not in syl


def test_full_pinyin_reads_as_whole_syllables(syl: Syllables) -> None:
    first = syl.segment("guangzhou")[0]
    assert texts(first) == [("guang", True), ("zhou", True)]
    assert [(t.start, t.end) for t in first] == [(0, 5), (5, 9)]
    assert texts(syl.segment("nanhai")[0]) == [("nan", True), ("hai", True)]


def test_initials_stand_for_syllables(syl: Syllables) -> None:
    assert texts(syl.segment("gz")[0]) == [("g", False), ("z", False)]
    assert texts(syl.segment("gzhou")[0]) == [("g", False), ("zhou", True)]
    assert texts(syl.segment("zhg")[0]) == [("zh", False), ("g", False)]


def test_the_last_syllable_may_be_unfinished(syl: Syllables) -> None:
    assert texts(syl.segment("guangzho")[0]) == [("guang", True), ("zho", False)]
    # mid-input, only an initial may stand for a syllable: "gua" here is whole
    assert ("zho", False) not in [p for r in syl.segment("zhoug") for p in texts(r)]


def test_ambiguous_letters_have_several_readings_fewest_first(syl: Syllables) -> None:
    readings = [texts(r) for r in syl.segment("xian")]
    assert readings[0] == [("xian", True)]
    assert [("xi", True), ("an", True)] in readings
    # the separator decides
    split = [texts(r) for r in syl.segment("xi'an")]
    assert split[0] == [("xi", True), ("an", True)]
    assert all(r[0] == ("xi", True) for r in split)


def test_a_vowel_after_an_initial_needs_the_separator(syl: Syllables) -> None:
    readings = [texts(r) for r in syl.segment("nanhai")]
    assert [("n", False), ("an", True), ("hai", True)] not in readings
    assert texts(syl.segment("n'an")[0]) == [("n", False), ("an", True)]


def test_unreadable_letters_end_the_readable_part(syl: Syllables) -> None:
    first = syl.segment("nanhaii")[0]
    assert texts(first) == [("nan", True), ("hai", True)]
    assert first[-1].end == 6
    assert syl.segment("i") == []
    assert syl.segment("") == []


def test_lue_is_read_as_pypinyins_lve(syl: Syllables) -> None:
    assert texts(syl.segment("lue")[0]) == [("lve", True)]


def test_normalize_keeps_letters_and_single_separators() -> None:
    assert normalize("NanHai") == "nanhai"
    assert normalize("'xi''an'") == "xi'an'"
    assert normalize("lü3 e-") == "lve"


def test_long_input_stays_bounded(syl: Syllables) -> None:
    readings = syl.segment("guangdongshengfoshanshinanhaiqu" * 2)
    assert 0 < len(readings) <= 24
    assert readings[0][-1].end == 62
