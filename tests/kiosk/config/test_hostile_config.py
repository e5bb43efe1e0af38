"""Hostile configuration files: ``config check`` answers each with exit 2, a message naming
the file (and the line or key path), no traceback, in bounded time and memory."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.config import ConfigError, load_config
from kiosk.config.safe_yaml import MAX_BYTES, MAX_DEPTH

ROOT = Path(__file__).resolve().parents[3]
KIOSK = [sys.executable, "-m", "kiosk.cli"]
DEADLINE_S = 15.0  # interpreter start included; the refusals themselves take milliseconds
MEMORY_BYTES = 512 * 1024 * 1024  # address space of the checking process
MAX_OUTPUT = 4000  # characters: an excerpt, never the whole (expanded) document


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BYTES, MEMORY_BYTES))


def config_check(path: Path | str, *extra: str) -> subprocess.CompletedProcess[str]:
    started = time.monotonic()
    proc = subprocess.run([*KIOSK, "config", "check", str(path), *extra], capture_output=True,
                          text=True, timeout=DEADLINE_S, cwd=ROOT, stdin=subprocess.DEVNULL,
                          preexec_fn=_limit_memory)
    assert time.monotonic() - started < DEADLINE_S
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out[-2000:]
    assert len(out) < MAX_OUTPUT, f"{len(out)} characters of output"
    return proc


def refused(path: Path | str, *expect: str) -> str:
    proc = config_check(path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert str(path) in proc.stderr
    for text in expect:
        assert text in proc.stderr, proc.stderr
    return proc.stderr


def billion_laughs() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    lines.append(f"kiosk: {{location: *{prev}}}")
    return "\n".join(lines) + "\n"


def test_billion_laughs(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs(), encoding="utf-8")
    refused(path, "line 1", "anchors")


def test_alias_alone_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "alias.yaml"
    path.write_text("kiosk:\n  id: k1\n  location: *nowhere\n", encoding="utf-8")
    refused(path, "line 3", "alias")


@pytest.mark.parametrize("kind", ["flow", "block"])
def test_deep_nesting(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "deep.yaml"
    if kind == "flow":
        path.write_text("ui: " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    else:
        path.write_text("".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "x\n",
                        encoding="utf-8")
    refused(path, f"nesting deeper than {MAX_DEPTH}")


def test_invalid_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("kiosk:\n  id: k1\n  location: Caf\xe9\n".encode("latin-1"))
    refused(path, "not UTF-8", "line 3, column 16")


def test_dev_zero_and_other_non_regular_files(tmp_path: Path) -> None:
    refused("/dev/zero", "not a regular file")
    fifo = tmp_path / "fifo.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came
    refused(fifo, "not a regular file")


def test_file_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("# padding\n" * (MAX_BYTES // 10 + 1) + "kiosk: {id: k1}\n",
                    encoding="utf-8")
    refused(path, f"larger than {MAX_BYTES} bytes")


@pytest.mark.parametrize(("text", "where"), [
    ("kiosk: {id: a}\nprinter: {queue: q}\nkiosk: {id: b}\n", "kiosk: duplicate key, line 3"),
    ("printer:\n  queue: a\n  paper: a4\n  queue: b\n", "printer.queue: duplicate key, line 4"),
])
def test_duplicate_keys(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(text, encoding="utf-8")
    refused(path, where)


def test_error_printer_shows_a_bounded_excerpt(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    items = ",".join(["x" * 10] * 20000)
    path.write_text(f"printer: {{queue: [{items}]}}\nui: {{width: {'w' * 3000}}}\n"
                    f"kiosk: {{{'z' * 1000}: 1}}\n", encoding="utf-8")
    err = refused(path, "printer.queue", "ui.width")
    assert "..." in err


def test_control_characters_in_values_are_escaped(tmp_path: Path) -> None:
    path = tmp_path / "ctl.yaml"
    path.write_text('ui: {width: "\\e[2J\\u202e"}\n', encoding="utf-8")
    err = refused(path, "ui.width")
    assert "\x1b" not in err and "\u202e" not in err and "\\x1b" in err


def test_loader_refusals_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("a: 1\na: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="duplicate key"):
        load_config(path, environ={})


def test_environment_values_with_aliases_stay_plain_strings() -> None:
    cfg = load_config(environ={"KIOSK__KIOSK__LOCATION": "*lobby"})
    assert cfg.kiosk.location == "*lobby"


def test_ordinary_files_still_load(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("\ufeff# a BOM and comments are fine\nkiosk: {id: k1, location: 大厅}\n",
                    encoding="utf-8")
    proc = config_check(path)
    assert proc.returncode == 0, proc.stderr
    assert "k1" in proc.stdout
