"""The signature pad's rules without a window: smoothing keeps the stroke's ends, and an empty
pad, a dot or a tick is refused with a plain message key while a written name is taken."""

from __future__ import annotations

import pytest

from screens.signature import catmull_rom, ink_length, refusal

NAME = [[(0.08, 0.55), (0.16, 0.5), (0.25, 0.6), (0.3, 0.72)],
        [(0.34, 0.4), (0.46, 0.42), (0.58, 0.45)],
        [(0.62, 0.6), (0.78, 0.66), (0.92, 0.58)]]


def test_smoothing_passes_through_the_points() -> None:
    stroke = [(0.0, 0.0), (0.5, 1.0), (1.0, 0.0)]
    smooth = catmull_rom(stroke, steps=4)
    assert smooth[0] == stroke[0] and smooth[-1] == pytest.approx(stroke[-1])
    assert smooth[4] == pytest.approx(stroke[1])  # the spline meets every control point
    assert len(smooth) == 1 + 4 * (len(stroke) - 1)
    assert catmull_rom([(0.2, 0.2)]) == [(0.2, 0.2)]


@pytest.mark.parametrize("strokes, key", [
    ([], "signature_empty"),
    ([[]], "signature_empty"),
    ([[(0.5, 0.5)]], "signature_too_small"),  # a dot
    ([[(0.5, 0.5), (0.52, 0.52)]], "signature_too_small"),  # a tick
    (NAME, ""),
])
def test_refusal(strokes: list[list[tuple[float, float]]], key: str) -> None:
    assert refusal(strokes, aspect=0.35) == key


def test_ink_length_counts_height_by_aspect() -> None:
    assert ink_length([[(0.0, 0.0), (0.0, 1.0)]], aspect=0.5) == pytest.approx(0.5)
