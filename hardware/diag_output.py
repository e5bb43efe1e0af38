"""Output of the technician ``kiosk diag`` commands: one JSON object with ``--json``, else
``key: value`` lines; failures as ``{"error": CODE, "message": TEXT}`` and an exit code.

Everything printed goes through :func:`printable` (text) or :func:`to_json` (JSON): what a
device sends (a card name, a scanned code) must not move the cursor, clear the screen, set
the terminal title, reorder the line (bidi overrides) or forge an extra ``key: value`` line.
"""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any, NoReturn

import click

# control (C0, DEL, C1), format (bidi, zero-width, BOM), surrogate, private use, unassigned,
# line and paragraph separators
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _unsafe(c: str) -> bool:
    if c.isascii():
        return not c.isprintable()  # C0 controls and DEL; space and printable ASCII pass
    return unicodedata.category(c) in UNSAFE_CATEGORIES


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on, or would not show, escaped
    (``\\x1b``, ``\\u202e``, ``\\U000e0041``); letters, CJK and spaces are kept."""
    if all(not _unsafe(c) for c in text):
        return text
    out = []
    for c in text:
        if not _unsafe(c):
            out.append(c)
        elif c in _SHORT:
            out.append(_SHORT[c])
        else:
            n = ord(c)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000
                       else f"\\U{n:08x}")
    return "".join(out)


def _json_escape(c: str) -> str:
    n = ord(c)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"


def to_json(data: Any) -> str:
    """``data`` as one line of JSON: readable CJK, unsafe characters as ``\\uXXXX`` escapes
    (so the value a program decodes is exactly the original)."""
    text = json.dumps(data, ensure_ascii=False)
    return "".join(_json_escape(c) if _unsafe(c) else c for c in text)


def emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(to_json(data))
    else:
        for key, value in data.items():
            click.echo(f"{printable(str(key))}: {printable(str(value))}")


def fail(error: str, message: str, as_json: bool, exit_code: int) -> NoReturn:
    if as_json:
        emit({"error": error, "message": message}, True)
    else:
        click.echo(f"error: {printable(error)}: {printable(message)}", err=True)
    sys.exit(exit_code)
