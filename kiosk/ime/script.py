"""Simplified or traditional characters for the citizen's language, with OpenCC.

zh_HK gets Hong Kong traditional characters (OpenCC's ``s2hk``: phrase-aware, 头发 -> 頭髮,
not a character table); every other language keeps the lexicon's simplified characters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import lru_cache

TRADITIONAL = {"zh_HK": "s2hk"}  # language -> OpenCC configuration
_lock = threading.Lock()


class ScriptError(RuntimeError):
    """OpenCC is missing or cannot load its configuration."""


def is_traditional(lang: str) -> bool:
    return lang in TRADITIONAL


@lru_cache(maxsize=4)
def _converter(config: str) -> Callable[[str], str]:
    try:
        import opencc
    except ImportError as exc:  # pragma: no cover - a runtime dependency
        raise ScriptError("OpenCC (PyPI opencc) is not installed") from exc
    try:
        conv = opencc.OpenCC(config)
    except Exception as exc:  # the C library raises its own types
        raise ScriptError(f"OpenCC cannot load {config}: {exc}") from exc
    convert: Callable[[str], str] = conv.convert
    return convert


def converter(lang: str) -> Callable[[str], str]:
    """A function from simplified text to the script of ``lang`` (identity unless zh_HK)."""
    config = TRADITIONAL.get(lang)
    if config is None:
        return _same
    with _lock:  # one load even when the UI and a worker ask at once
        return _converter(config)


def to_script(text: str, lang: str) -> str:
    return converter(lang)(text)


def _same(text: str) -> str:
    return text
