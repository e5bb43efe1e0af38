"""Voice guidance (issue 17): Cantonese for traditional Chinese and as an elderly-mode choice,
through the real espeak-ng, without ever blocking the caller (the UI thread)."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from screens.voice import Speaker, speakable, voice_for

ESPEAK = shutil.which("espeak-ng")
LONG = "请把身份证平放在屏幕下方的感应区，听到提示音后请勿移动，直到读取完成。" * 6


def test_voices_per_language_and_dialect() -> None:
    assert voice_for("zh_CN") == "cmn"
    assert voice_for("zh_HK") == "yue"
    assert voice_for("en") == "en"
    assert voice_for("zh_CN", "yue") == "yue"  # the elderly-mode choice
    assert voice_for("zh_HK", "cmn") == "cmn"
    assert voice_for("en", "yue") == "en"  # English text is never read as Cantonese


def test_marks_beside_words_are_not_read_out() -> None:
    assert speakable("✓ 办理成功") == "办理成功"
    assert speakable("★★★  Good") == "Good"
    assert speakable("● 请携带原件") == "请携带原件"


def test_espeak_ng_has_a_cantonese_voice() -> None:
    assert ESPEAK is not None, "espeak-ng is installed by scripts/setup.sh"
    voices = subprocess.run([ESPEAK, "--voices=yue"], capture_output=True, text=True,
                            timeout=20, check=True).stdout
    assert "yue" in voices
    wav = subprocess.run([ESPEAK, "-v", "yue", "--stdout", "請把身份證放在感應區"],
                         capture_output=True, timeout=30, check=True).stdout
    assert wav[:4] == b"RIFF" and len(wav) > 10_000


def test_speaking_never_blocks_and_newer_text_replaces_older() -> None:
    speaker = Speaker(enabled=True, exe=ESPEAK)
    assert speaker.enabled
    try:
        started = time.perf_counter()
        speaker.say(LONG, "zh_HK")
        first = time.perf_counter() - started
        assert speaker.wait_spoken(1, 20)
        started = time.perf_counter()
        speaker.say("請核對資料，無誤後點擊確認提交。", "zh_CN", voice="yue")  # while speaking
        second = time.perf_counter() - started
        assert speaker.wait_spoken(2, 20)
        speaker.say("Please check, then tap Submit.", "en")
        assert speaker.wait_spoken(3, 20)
    finally:
        speaker.close()
    assert first < 0.05 and second < 0.05, (first, second)
    assert [voice for voice, _ in speaker.history] == ["yue", "yue", "en"]


@pytest.mark.parametrize("exe", ["/nonexistent/espeak-ng"])
def test_a_missing_engine_is_silence(exe: str) -> None:
    speaker = Speaker(enabled=True, exe=exe)
    speaker.say("测试", "zh_CN")  # OSError on the worker: logged, never raised
    assert speaker.wait_spoken(1, 0.5) is False
    speaker.close()
