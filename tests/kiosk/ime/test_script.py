"""Traditional characters for zh_HK with OpenCC."""

from __future__ import annotations

from kiosk.ime.script import converter, is_traditional, to_script


def test_zh_hk_gets_hong_kong_traditional_characters() -> None:
    assert is_traditional("zh_HK") and not is_traditional("zh_CN")
    assert to_script("广东省佛山市南海区", "zh_HK") == "廣東省佛山市南海區"
    assert to_script("头发", "zh_HK") == "頭髮"  # phrase-aware, not a character table
    assert to_script("发展", "zh_HK") == "發展"


def test_other_languages_keep_simplified_characters() -> None:
    for lang in ("zh_CN", "en", "xx"):
        assert to_script("广州", lang) == "广州"
    assert converter("zh_HK") is converter("zh_HK")
