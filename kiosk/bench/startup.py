"""Cold start benchmarks: ``kiosk run --no-ui`` to ready, and the UI to the attract screen.

Baselines in the same run: a bare interpreter start (``python -c pass``) for the core, and a
minimal Kivy app opening its window and closing, for the UI.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from kiosk.bench.harness import BenchOptions, BenchResult, compare, sample

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


def _runner(args: list[str], env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(args, env=env, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    return run


def _env(var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KIOSK__VAR_DIR"] = var_dir  # every state path is under it
    env["KIVY_NO_ARGS"] = "1"
    return env


def bench_core(opts: BenchOptions) -> list[BenchResult]:
    n = max(3, opts.repeat // 4)
    with tempfile.TemporaryDirectory() as var:
        env = _env(var)
        kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--no-ui", "--exit-when-ready"]
        samples = sample(_runner(kiosk, env), n)
        base = sample(_runner([sys.executable, "-c", "pass"], env), n)
    return [compare("startup.core", "ms", samples, "python -c pass", base)]


def _display() -> AbstractContextManager[object]:
    if os.environ.get("DISPLAY"):
        return nullcontext()
    from screens.xvfb import Xvfb  # the UI's own virtual-display helper

    display: AbstractContextManager[object] = Xvfb()
    return display


def bench_ui(opts: BenchOptions) -> list[BenchResult]:
    n = max(3, opts.repeat // 5)
    with tempfile.TemporaryDirectory() as var, _display():
        env = _env(var)
        env["KIOSK__UI__FULLSCREEN"] = "false"
        kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--exit-when-ready"]
        samples = sample(_runner(kiosk, env), n)
        plain = Path(var) / "plain_kivy.py"  # Kivy looks for the app's source file
        plain.write_text(PLAIN_KIVY, encoding="utf-8")
        base = sample(_runner([sys.executable, str(plain)], env), n)
    return [compare("startup.ui", "ms", samples, "minimal kivy app", base)]


BENCHMARKS = {"startup.core": bench_core, "startup.ui": bench_ui}
