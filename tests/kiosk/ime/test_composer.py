"""The keyboard's composition state: letters pending, pages of candidates, choices."""

from __future__ import annotations

import time

import pytest

from kiosk.ime.composer import Composer
from kiosk.ime.engine import PinyinEngine


def typed(c: Composer, keys: str) -> list[str]:
    out: list[str] = []
    for k in keys:
        out += c.press(k.upper() if k.isalpha() else k)
    return out


def test_letters_compose_and_a_choice_goes_into_the_field(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine)
    assert typed(c, "nanhai") == []
    assert c.composing and c.preedit == "nan'hai"
    assert c.page_words[0] == "南海"
    assert c.choose(0) == ["南海"]
    assert not c.composing and c.page_words == []


def test_a_choice_of_the_leading_part_leaves_the_rest(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine)
    typed(c, "nanhaidadaobei")
    assert c.page_words[0] == "南海"
    assert c.choose(0) == ["南海"]
    assert c.buffer == "dadaobei"
    assert c.page_words[0] == "大道北"


def test_keys_that_are_not_letters(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine)
    assert c.press("<bs>") == ["<bs>"]  # nothing pending: the field's own key
    assert c.press("8") == ["8"]
    typed(c, "hao")
    assert c.press("<bs>") == [] and c.buffer == "ha"
    top = c.page_words[0]
    assert c.press("<space>") == [top]  # space takes the first candidate
    # a digit while letters are pending: the letters as typed, then the digit
    typed(c, "a")
    assert c.press("1") == ["a", "1"]
    typed(c, "nan")
    assert c.press("<clear>") == [] and not c.composing
    assert c.press("<clear>") == ["<clear>"]
    typed(c, "shi")
    assert c.press("<space>") == ["是"]
    typed(c, "xi")
    assert c.press("'") == [] and c.buffer == "xi'"
    typed(c, "an")
    assert c.page_words[0] == "西安"
    assert c.flush() == ["xian"]


def test_the_language_key_switches_to_english_letters(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine)
    typed(c, "nan")
    assert c.press("<lang>") == ["nan"] and c.mode == "en"
    assert typed(c, "A1") == ["A", "1"]
    assert c.press("<lang>") == [] and c.mode == "zh"


def test_pages(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine, page_size=5)
    typed(c, "shi")
    first = c.page_words
    assert len(first) == 5 and not c.has_prev and c.has_next
    for _ in range(6):
        c.next_page()
    assert c.page == 6 and c.has_prev
    later = c.page_words
    assert len(later) == 5 and not set(first) & set(later)
    assert c.choose(1) == [later[1]]
    assert c.page == 0


def test_traditional_characters_for_zh_hk(engine: PinyinEngine) -> None:
    c = Composer(lambda: engine, lang="zh_HK")
    typed(c, "guangzhou")
    assert c.page_words[0] == "廣州"
    typed(c, "")
    c.reset()
    typed(c, "toufa")
    assert "頭髮" in c.page_words
    assert len(c.page_words) == len(set(c.page_words))  # 发 and 發 do not repeat
    c.set_lang("zh_CN")
    assert "头发" in c.page_words


def test_until_the_engine_is_built_letters_wait(engine: PinyinEngine) -> None:
    ready: list[PinyinEngine] = []
    c = Composer(lambda: ready[0] if ready else None)
    typed(c, "nanhai")
    assert c.waiting and c.page_words == [] and c.preedit == "nanhai"
    ready.append(engine)
    assert c.refresh() is True
    assert not c.waiting and c.page_words[0] == "南海"


CORPUS = ["nanhai", "guangdongsheng", "foshanshi", "nanhaiqu", "guichengjiedao", "dali",
          "nanhaidadaobei", "haobalu", "gz", "gzhou", "xian", "zhongguo", "shenzhen",
          "zhangsan", "lishi", "wangwu", "chenxiaoming", "dongguanshi", "jiangmen", "shiji",
          "shunde", "sanshui", "gaoming", "chancheng", "xiqiao", "jiujiang", "danzao", "lishui",
          "shishan", "huangqi", "guangfolu", "sanshisanhao", "zhongshan", "lvse", "nvren",
          "huayuan", "xiaoqu", "dong", "xi", "nan", "bei", "lou", "shi", "hao", "cun", "zu"]


@pytest.mark.parametrize("lang", ["zh_CN", "zh_HK"])
def test_a_keystroke_costs_little_time(engine: PinyinEngine, lang: str) -> None:
    """Candidates are looked up on the UI thread: p95 per keystroke well under a frame."""
    c = Composer(lambda: engine, lang=lang)
    times: list[float] = []
    for word in CORPUS:
        c.reset()
        engine._lookup.cache_clear()
        for ch in word:
            t0 = time.perf_counter()
            c.press(ch.upper())
            times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c.choose(0)
        times.append(time.perf_counter() - t0)
    times.sort()
    p95 = times[int(0.95 * (len(times) - 1))]
    print(f"{lang}: {len(times)} keystrokes, p50 {times[len(times) // 2] * 1e3:.2f} ms, "
          f"p95 {p95 * 1e3:.2f} ms, max {times[-1] * 1e3:.2f} ms")
    assert p95 < 0.010
