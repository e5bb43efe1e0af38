"""The header title is shown whole (issue 17: elderly mode cut it to "政...助"): the check the
journeys apply to what Kivy rendered, every screen, every language, both modes."""

from __future__ import annotations

import pytest

from screens.header import whole_in_lines


@pytest.mark.parametrize(("text", "lines"), [
    ("政务服务自助终端", ["政务服务自助终端"]),
    ("政务服务自助终端", ["政务服务", "自助终端"]),  # Chinese breaks anywhere
    ("Self-Service Kiosk", ["Self-Service", "Kiosk"]),
    ("Self-Service Kiosk", ["Self-Service Kiosk"]),
])
def test_whole_titles(text: str, lines: list[str]) -> None:
    assert whole_in_lines(text, lines)


@pytest.mark.parametrize(("text", "lines"), [
    ("政务服务自助终端", ["政...助"]),  # Kivy's shorten
    ("政务服务自助终端", ["政务服务自助…"]),
    ("Self-Service Kiosk", ["Self-Servi", "ce Kiosk"]),  # broken inside a word
    ("Self-Service Kiosk", ["Self-Service"]),  # a line lost
    ("Self-Service Kiosk", []),
])
def test_cut_titles(text: str, lines: list[str]) -> None:
    assert not whole_in_lines(text, lines)
