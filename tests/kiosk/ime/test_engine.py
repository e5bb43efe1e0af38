"""Candidate words for typed pinyin, from jieba's frequencies and pypinyin's readings."""

from __future__ import annotations

import random

from pypinyin import lazy_pinyin

from kiosk.ime.engine import PinyinEngine
from kiosk.ime.lexicon import Readings, build_lexicon, jieba_dictionary, read_frequencies


def words(engine: PinyinEngine, letters: str, n: int = 5) -> list[str]:
    return [c.word for c in engine.candidates(letters, 40)[:n]]


def test_full_pinyin_finds_the_word_first(engine: PinyinEngine) -> None:
    assert words(engine, "nanhai")[0] == "南海"
    assert words(engine, "guangzhou")[0] == "广州"
    assert words(engine, "zhongguo")[0] == "中国"
    assert words(engine, "foshan")[0] == "佛山"


def test_initials_and_mixed_input_find_words_ranked_by_frequency(engine: PinyinEngine) -> None:
    gz = words(engine, "gz", 10)
    assert "广州" in gz
    assert gz[0] == "工作"  # jieba counts 工作 66,367 times, 广州 5,640
    assert words(engine, "gzhou")[0] == "广州"
    assert words(engine, "guangzh")[0] == "广州"


def test_whole_input_first_then_its_leading_part(engine: PinyinEngine) -> None:
    cands = engine.candidates("nanhaidadao", 40)
    first = cands[0]
    assert (first.word, first.end) == ("南海", 6)
    ends = [c.end for c in cands]
    assert ends == sorted(ends, reverse=True)  # longer reading parts before shorter ones
    assert "南" in [c.word for c in cands if c.end == 3]


def test_single_characters_rank_their_usual_reading_first(engine: PinyinEngine) -> None:
    xian = words(engine, "xian", 8)
    assert {"先", "现", "县", "线"} <= set(xian)
    assert "省" not in xian  # 省 is read xian only in old texts
    assert "行" in words(engine, "xing", 3) and "行" in words(engine, "hang", 8)


def test_the_separator_splits_syllables(engine: PinyinEngine) -> None:
    assert words(engine, "xi'an")[0] == "西安"
    assert "西安" not in words(engine, "xian", 5)


def test_place_names_of_the_kiosks_province_are_known(engine: PinyinEngine) -> None:
    assert "桂城" in words(engine, "guicheng")
    assert "桂城街道" in words(engine, "guichengjiedao")
    assert words(engine, "nanhaiqu")[0] == "南海区"
    assert "大沥" in words(engine, "dali", 10)


def test_unreadable_letters_give_no_candidates(engine: PinyinEngine) -> None:
    assert engine.candidates("i") == []
    assert engine.candidates("") == []
    assert engine.candidates("88") == []


def test_readings_are_pypinyins(engine: PinyinEngine) -> None:
    """The lexicon's fast path reads every sampled word as pypinyin.lazy_pinyin does."""
    readings = Readings()
    sample = random.Random(17).sample(list(read_frequencies(jieba_dictionary())), 3000)
    wrong = [(w, readings.of_word(w), lazy_pinyin(w)) for w, _ in sample
             if readings.of_word(w) not in (None, tuple(lazy_pinyin(w)))]
    assert wrong == []


def test_lexicon_holds_jieba_words_and_every_common_character(engine: PinyinEngine) -> None:
    lex = engine.lexicon
    assert len(set(lex.words)) > 340_000
    assert {"堃", "喆", "昇"} <= set(lex.words)  # name characters jieba may not count


def test_extra_words_never_lower_a_frequency(tmp_path) -> None:  # type: ignore[no-untyped-def]
    dictionary = tmp_path / "dict.txt"
    dictionary.write_text("南海 2087 ns\n男孩 956 n\nAT&T 3 nz\n", encoding="utf-8")
    lex = build_lexicon([("南海", 5), ("桂城", 300), ("abc", 9)], dictionary=dictionary)
    freq = {w: f for w, f in zip(lex.words, lex.freqs, strict=True) if len(w) > 1}
    assert freq == {"南海": 2087, "男孩": 956, "桂城": 300}
    assert [c.word for c in PinyinEngine(lex).candidates("nanhai")][:2] == ["南海", "男孩"]
