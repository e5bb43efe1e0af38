"""A finger signature pad (告知承诺 signatures): smooth strokes, undo and clear, a plain refusal
of an empty or trivially small signature, and the signature as a PNG in memory.

Strokes are kept in pad-relative coordinates (0..1), so the elderly-mode layout (a larger
pad) redraws the same signature. The PNG is rendered offscreen (an ``Fbo``) at a fixed width
and never written to a file; :meth:`SignaturePad.clear` drops every stroke (the signature is
personal data: screens clear it with the session).
"""

from __future__ import annotations

import io
import math
from typing import Any

from kivy.graphics import ClearBuffers, ClearColor, Color, Fbo, Line, Rectangle
from kivy.properties import BooleanProperty, ColorProperty, NumericProperty, StringProperty
from kivy.uix.widget import Widget

Point = tuple[float, float]

EXPORT_WIDTH = 600
MIN_STEP = 0.004  # a move shorter than this (pad-relative) adds no point
MIN_LENGTH = 0.35  # total ink (in pad widths) below which a signature is a dot or a tick
MIN_EXTENT = 0.12  # the signature's box must be at least this wide (in pad widths)


def catmull_rom(points: list[Point], steps: int = 4) -> list[Point]:
    """The stroke through ``points`` as a Catmull-Rom spline (``steps`` per segment)."""
    if len(points) < 3:
        return list(points)
    out: list[Point] = [points[0]]
    padded = [points[0], *points, points[-1]]
    for i in range(1, len(padded) - 2):
        p0, p1, p2, p3 = padded[i - 1], padded[i], padded[i + 1], padded[i + 2]
        for s in range(1, steps + 1):
            t = s / steps
            t2, t3 = t * t, t * t * t
            out.append(tuple(  # type: ignore[arg-type]
                0.5 * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2
                       + (-a + 3 * b - 3 * c + d) * t3)
                for a, b, c, d in zip(p0, p1, p2, p3, strict=True)))
    return out


def ink_length(strokes: list[list[Point]], aspect: float) -> float:
    """Total length of the strokes in pad widths (``aspect``: height / width)."""
    total = 0.0
    for stroke in strokes:
        for (x0, y0), (x1, y1) in zip(stroke, stroke[1:], strict=False):
            total += math.hypot(x1 - x0, (y1 - y0) * aspect)
    return total


def refusal(strokes: list[list[Point]], aspect: float) -> str:
    """The message key refusing these strokes as a signature, or ``""`` (acceptable)."""
    if not any(strokes):
        return "signature_empty"
    xs = [x for s in strokes for x, _y in s]
    ys = [y for s in strokes for _x, y in s]
    extent = max(max(xs) - min(xs), (max(ys) - min(ys)) * aspect)
    if ink_length(strokes, aspect) < MIN_LENGTH or extent < MIN_EXTENT:
        return "signature_too_small"
    return ""


class SignaturePad(Widget):
    """Draw with a finger; :meth:`undo`, :meth:`clear`, :meth:`check`, :meth:`export_png`."""

    name = StringProperty("signature_pad")
    strokes_count = NumericProperty(0)
    editable = BooleanProperty(True)
    ink_width = NumericProperty(3.0)  # in window pixels; kv binds it to the layout unit
    paper = ColorProperty((1, 1, 1, 1))
    ink = ColorProperty((0.05, 0.1, 0.25, 1))
    rule = ColorProperty((0.6, 0.65, 0.7, 1))

    def __init__(self, **kwargs: Any) -> None:
        self._strokes: list[list[Point]] = []
        self._lines: list[Line] = []
        super().__init__(**kwargs)
        self.bind(pos=self._redraw, size=self._redraw, ink_width=self._redraw,
                  paper=self._redraw, ink=self._redraw)
        self._redraw()

    # -- drawing ---------------------------------------------------------------------------
    @property
    def aspect(self) -> float:
        return self.height / self.width if self.width else 1.0

    def _to_pad(self, x: float, y: float) -> Point:
        w, h = max(self.width, 1.0), max(self.height, 1.0)
        return (min(max((x - self.x) / w, 0.0), 1.0), min(max((y - self.y) / h, 0.0), 1.0))

    def _on_screen(self, stroke: list[Point]) -> list[float]:
        flat: list[float] = []
        for px, py in catmull_rom(stroke):
            flat += [self.x + px * self.width, self.y + py * self.height]
        if len(flat) == 2:  # a single touch: a dot the citizen can see
            flat += flat
        return flat

    def _redraw(self, *_args: Any) -> None:
        self.canvas.clear()
        self._lines = []
        with self.canvas:
            Color(*self.paper)
            Rectangle(pos=self.pos, size=self.size)
            Color(*self.rule)  # the line to sign on
            Line(points=[self.x + self.width * 0.06, self.y + self.height * 0.22,
                         self.x + self.width * 0.94, self.y + self.height * 0.22],
                 width=max(1.0, self.ink_width / 3))
            Line(rectangle=(self.x, self.y, self.width, self.height), width=1.2)
            Color(*self.ink)
            for stroke in self._strokes:
                self._lines.append(Line(points=self._on_screen(stroke), width=self.ink_width,
                                        cap="round", joint="round"))

    def on_touch_down(self, touch: Any) -> bool:
        if not self.editable or self.disabled or not self.collide_point(*touch.pos):
            return bool(super().on_touch_down(touch))
        touch.grab(self)
        self._strokes.append([self._to_pad(*touch.pos)])
        with self.canvas:
            Color(*self.ink)
            self._lines.append(Line(points=self._on_screen(self._strokes[-1]),
                                    width=self.ink_width, cap="round", joint="round"))
        return True

    def on_touch_move(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return bool(super().on_touch_move(touch))
        stroke = self._strokes[-1]
        point = self._to_pad(*touch.pos)
        last = stroke[-1]
        if math.hypot(point[0] - last[0], (point[1] - last[1]) * self.aspect) >= MIN_STEP:
            stroke.append(point)
            self._lines[-1].points = self._on_screen(stroke)
        return True

    def on_touch_up(self, touch: Any) -> bool:
        if touch.grab_current is not self:
            return bool(super().on_touch_up(touch))
        touch.ungrab(self)
        self.strokes_count = len(self._strokes)
        return True

    # -- actions ---------------------------------------------------------------------------
    def undo(self) -> None:
        if self._strokes:
            self._strokes.pop()
            self.strokes_count = len(self._strokes)
            self._redraw()

    def clear(self) -> None:
        """Drop every stroke (the signature is personal data)."""
        for stroke in self._strokes:
            stroke.clear()
        self._strokes = []
        self.strokes_count = 0
        self._redraw()

    def check(self) -> str:
        """``""`` when the strokes make a signature, else the message key saying why not."""
        return refusal(self._strokes, self.aspect)

    def export_png(self, width: int = EXPORT_WIDTH) -> bytes:
        """The signature as a greyscale PNG (dark ink on white), rendered offscreen."""
        from PIL import Image

        height = max(64, min(1024, round(width * self.aspect)))
        fbo = Fbo(size=(width, height))
        with fbo:
            ClearColor(1, 1, 1, 1)
            ClearBuffers()
            Color(0, 0, 0, 1)
            scale = width / max(self.width, 1.0)
            for stroke in self._strokes:
                flat: list[float] = []
                for px, py in catmull_rom(stroke):
                    flat += [px * width, py * height]
                if len(flat) == 2:
                    flat += flat
                Line(points=flat, width=max(1.5, self.ink_width * scale), cap="round",
                     joint="round")
        fbo.draw()
        pixels = fbo.pixels
        image = Image.frombytes("RGBA", (width, height), pixels)
        image = image.transpose(Image.Transpose.FLIP_TOP_BOTTOM).convert("L")
        buf = io.BytesIO()
        image.save(buf, format="PNG", optimize=True)
        del fbo, pixels
        return buf.getvalue()
