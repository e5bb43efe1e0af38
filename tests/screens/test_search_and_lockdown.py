"""Matter search (keyword, pinyin initials), lockdown keys, the technician gesture, the
frame-gap monitor: the screen logic that needs no window."""

from __future__ import annotations

from kiosk.backend.contract import ApprovalMode, Delivery, Matter
from screens.frames import FrameMonitor
from screens.lockdown import CornerTaps, is_escape_key
from screens.search import initials, search
from screens.widgets import apply_key


def matter(mid: str, zh: str, category: str = "personal", keywords: list[str] | None = None,
           en: str = "") -> Matter:
    return Matter(id=mid, name={"zh_CN": zh, "en": en or mid}, category=category,
                  department={"zh_CN": "部门"}, keywords=keywords or [],
                  conditions={"zh_CN": "-"}, fee={"zh_CN": "免费"}, time_limit_days=0,
                  materials=[], fields=[], approval=ApprovalMode.INSTANT,
                  delivery=[Delivery.PRINT])


MATTERS = [
    matter("hukou", "户籍证明开具", keywords=["户口"], en="Household registration certificate"),
    matter("sb", "社保参保证明打印", keywords=["社保"], en="Social insurance record"),
    matter("licence", "营业执照副本补领", category="enterprise", en="Business licence copy"),
]


def test_pinyin_initials_find_chinese_matters() -> None:
    assert initials("户籍证明") == "hjzm"
    assert [m.id for m in search(MATTERS, "hjzm")] == ["hukou"]
    assert [m.id for m in search(MATTERS, "HJZM")] == ["hukou"]
    assert [m.id for m in search(MATTERS, "sbcb")] == ["sb"]


def test_keyword_search_in_any_language_and_by_category() -> None:
    assert [m.id for m in search(MATTERS, "户口")] == ["hukou"]
    assert [m.id for m in search(MATTERS, "licence")] == ["licence"]
    assert [m.id for m in search(MATTERS, "", "enterprise")] == ["licence"]
    assert [m.id for m in search(MATTERS, "", "personal")] == ["hukou", "sb"]
    assert search(MATTERS, "zzzz") == []


def test_escape_keys_are_recognised() -> None:
    assert is_escape_key(27, [])
    assert is_escape_key(285, ["alt"])  # Alt-F4
    assert is_escape_key(99, ["ctrl"])  # Ctrl-C
    assert not is_escape_key(99, [])  # a plain "c"
    assert not is_escape_key(13, [])


def test_five_corner_taps_make_the_technician_gesture() -> None:
    now = [0.0]
    hits: list[int] = []
    taps = CornerTaps(lambda: hits.append(1), clock=lambda: now[0])
    for _ in range(4):
        assert not taps.tap(10, 990, 1000)
        now[0] += 0.3
    taps.tap(500, 500, 1000)  # a tap elsewhere resets
    assert not hits
    for _ in range(5):
        now[0] += 0.3
        taps.tap(10, 990, 1000)
    assert hits == [1] and taps.detected == 1
    for _ in range(4):
        now[0] += 2.0  # too slow
        taps.tap(10, 990, 1000)
    assert hits == [1]


def test_keypad_editing() -> None:
    assert apply_key("138", "0") == "1380"
    assert apply_key("138", "<bs>") == "13"
    assert apply_key("138", "<clear>") == ""
    assert apply_key("A", "<space>") == "A "
    assert apply_key("12", "3", max_len=2) == "12"


def test_frame_monitor_separates_screen_loads() -> None:
    mon = FrameMonitor()
    mon.frame()
    mon.mark_load(frames=1)
    mon.frame()
    mon.frame()
    assert len(mon.load_gaps) == 1 and len(mon.gaps) == 1
    assert mon.summary()["frames"] == 1.0
