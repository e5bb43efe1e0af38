"""Header widgets: the title that always shows whole, the journey's steps and the countdown
before an inactivity timeout. Styles in kv/root.kv; state from the view-model."""

from __future__ import annotations

from typing import Any

from kivy.clock import Clock
from kivy.properties import BooleanProperty, NumericProperty, StringProperty
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.label import Label


def _cjk(ch: str) -> bool:
    """A character a line may break before or after (Chinese and full-width punctuation)."""
    return "\u2e80" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef"


def whole_in_lines(text: str, lines: list[str]) -> bool:
    """Whether ``lines`` show all of ``text``, nothing left out or shortened, each break at
    a space or next to a Chinese character (never inside an English word)."""
    pos = 0
    for n, line in enumerate(part.strip() for part in lines):
        start = text.find(line, pos) if line else -1
        if start < 0 or text[pos:start].strip():
            return False  # something left out (an ellipsis, a lost word)
        if n and not (text[start - 1].isspace() or _cjk(text[start - 1]) or _cjk(line[0])):
            return False
        pos = start + len(line)
    return bool(lines) and not text[pos:].strip()


class FitLabel(Label):
    """Shows its whole text, never an ellipsis: wraps to at most ``max_lines`` lines and
    shrinks the font (not below ``min_scale`` of ``base_size``) until the text fits."""

    base_size = NumericProperty(30.0)  # the font size wanted, in pixels
    max_lines = NumericProperty(2)
    min_scale = NumericProperty(0.5)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._refit_trigger = Clock.create_trigger(self._refit, 0)
        self.bind(base_size=self._refit_trigger, text=self._refit_trigger,
                  width=self._refit_trigger, texture_size=self._check)
        self.font_size = self.base_size

    def _refit(self, *_args: Any) -> None:
        if self.font_size != self.base_size:
            self.font_size = self.base_size
        else:
            self._check()

    def rendered_lines(self) -> list[str]:
        """The lines as Kivy laid them out (what the citizen reads)."""
        lines = getattr(self._label, "_cached_lines", None) or []
        return ["".join(word.text for word in line.words) for line in lines]

    def fits(self) -> bool:
        """The whole text in at most ``max_lines`` lines, each break at a space or next to
        a Chinese character (never inside an English word), within the label's width."""
        lines = self.rendered_lines()
        return (0 < len(lines) <= self.max_lines and self.texture_size[0] <= self.width + 1
                and whole_in_lines(self.text, lines))

    def _check(self, *_args: Any) -> None:
        if not self.text or self.width <= 1 or self.fits():
            return
        smallest = self.base_size * self.min_scale
        if self.font_size > smallest:
            self.font_size = max(smallest, self.font_size * 0.92)


class StepChip(Label):
    """One step of the journey in the header (``step`` is identify | choose | fill |
    submit | collect); the current one is drawn filled and bold, finished ones ticked."""

    step = StringProperty("")
    number = NumericProperty(0)
    current = BooleanProperty(False)
    done = BooleanProperty(False)


class StepBar(BoxLayout):
    """The five steps; hidden (no height) on the attract screen."""

    shown = BooleanProperty(False)


class CountdownChip(Label):
    """Seconds left before the screen gives up, shown in the last part of its timeout."""

    seconds = NumericProperty(0)
