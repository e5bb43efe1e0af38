"""Cold start benchmark of the UI: ``kiosk run`` to the attract screen (ready), under a private
Xvfb when there is no display. Baseline in the same run: a minimal Kivy app opening its window
and closing. Listed in ``kiosk.bench.registry`` like every benchmark module; it lives with the
UI because it needs the UI's virtual display.
"""

from __future__ import annotations

import os
import sys
import tempfile
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from kiosk.bench.harness import BenchOptions, BenchResult, compare, sample
from kiosk.bench.startup import env_for, runner

PLAIN_KIVY = """
from kivy.app import App
from kivy.clock import Clock
from kivy.uix.label import Label
class A(App):
    def build(self):
        Clock.schedule_once(lambda dt: self.stop(), 0)
        return Label(text='ready')
A().run()
"""


def _display() -> AbstractContextManager[object]:
    if os.environ.get("DISPLAY"):
        return nullcontext()
    from screens.xvfb import Xvfb

    display: AbstractContextManager[object] = Xvfb()
    return display


def bench_ui(opts: BenchOptions) -> list[BenchResult]:
    n = max(3, opts.repeat // 5)
    with tempfile.TemporaryDirectory() as var, _display():
        env = env_for(var)
        env["KIOSK__UI__FULLSCREEN"] = "false"
        kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--exit-when-ready"]
        samples = sample(runner(kiosk, env), n)
        plain = Path(var) / "plain_kivy.py"  # Kivy looks for the app's source file
        plain.write_text(PLAIN_KIVY, encoding="utf-8")
        base = sample(runner([sys.executable, str(plain)], env), n)
    return [compare("startup.ui", "ms", samples, "minimal kivy app", base)]


BENCHMARKS = {"startup.ui": bench_ui}
