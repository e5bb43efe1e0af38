"""Screen runs in parallel: Kivy makes one window per process, so each language (or variant)
of a screen test runs as its own subprocess under Xvfb, writes a JSON result and its
screenshots, and the test module asserts on the results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_parallel(module: str, runs: Mapping[str, Sequence[str]], artifacts: Path, *,
                 timeout_s: float = 600.0) -> dict[str, dict[str, Any]]:
    """Run ``python -m module ARG0 OUT.json ART_DIR ARG1...`` for each named run at once;
    name -> the run's JSON (``ok`` false when it wrote none) with its ``stderr_tail``.
    The run's earlier screenshots are removed first."""
    procs = {}
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # always Xvfb
    for name, args in runs.items():
        out, art = artifacts / f"{name}.json", artifacts / name
        if art.exists():
            for png in art.rglob("*.png"):
                png.unlink()
        art.mkdir(parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", module, args[0], str(out), str(art), *args[1:]]
        procs[name] = (subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE), out)
    results = {}
    for name, (proc, out) in procs.items():
        try:
            _, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
        data = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
        data.setdefault("ok", False)
        data["stderr_tail"] = err.decode(errors="replace")[-2000:]
        results[name] = data
    return results


def per_language(langs: Sequence[str], extra: Mapping[str, Sequence[str]] | None = None,
                 ) -> dict[str, tuple[str, ...]]:
    """One run per language, named by it, with ``extra`` arguments for some."""
    return {lang: (lang, *(extra or {}).get(lang, ())) for lang in langs}


def assert_ok(run: dict[str, Any]) -> None:
    """The run finished; otherwise the step it was at and the tail of its traceback."""
    detail = run.get("traceback") or run.get("error") or run["stderr_tail"]
    assert run["ok"], (run.get("at"), detail[-1500:])  # the tail names the failing line


@contextmanager
def recorded(out: dict[str, Any], out_path: Path) -> Iterator[None]:
    """The runner's side of :func:`run_parallel`: ``ok`` true when the block finishes,
    otherwise the error and its traceback; the JSON is written either way."""
    try:
        yield
        out["ok"] = True
    except Exception as exc:
        out["ok"] = False
        out["error"] = f"{type(exc).__name__}: {exc}"
        out["traceback"] = traceback.format_exc()
    finally:
        out_path.write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str),
                            encoding="utf-8")
