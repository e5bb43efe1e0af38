"""Cold start benchmark: ``kiosk run --no-ui`` to ready (baseline in the same run: a bare
interpreter start, ``python -c pass``). The UI's cold start is ``screens/bench.py``: it needs
the UI's virtual display, and the core imports the UI only where it starts it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable

from kiosk.bench.harness import BenchOptions, BenchResult, compare, sample


def runner(args: list[str], env: dict[str, str]) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(args, env=env, check=True, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)

    return run


def env_for(var_dir: str) -> dict[str, str]:
    env = dict(os.environ)
    env["KIOSK__VAR_DIR"] = var_dir  # every state path is under it
    env["KIVY_NO_ARGS"] = "1"
    return env


def bench_core(opts: BenchOptions) -> list[BenchResult]:
    n = max(3, opts.repeat // 4)
    with tempfile.TemporaryDirectory() as var:
        env = env_for(var)
        kiosk = [sys.executable, "-m", "kiosk.cli", "run", "--no-ui", "--exit-when-ready"]
        samples = sample(runner(kiosk, env), n)
        base = sample(runner([sys.executable, "-c", "pass"], env), n)
    return [compare("startup.core", "ms", samples, "python -c pass", base)]


BENCHMARKS = {"startup.core": bench_core}  # startup.ui: screens/bench.py (needs a display)
