"""A YAML reader for configuration files that may be hostile or careless.

Bounded before parsing: only a regular file, at most :data:`MAX_BYTES`, strict UTF-8 (an
error names the line and column). Bounded while parsing: no anchors or aliases (so no
"billion laughs" expansion; a site file is short enough to spell every value out), nesting
at most :data:`MAX_DEPTH` levels, and a duplicate key is an error naming its key path and
line instead of silently replacing the first value.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.reader import ReaderError

MAX_BYTES = 256 * 1024  # a site file is a few kB; the bundled defaults are under 2 kB
MAX_DEPTH = 32  # the schema nests 4 levels deep
NL = "\n"


class YamlRefused(Exception):
    """A file or text refused before or while parsing; ``where`` is ``line L, column C``
    and/or a key path, or empty."""

    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(f"{where}: {message}" if where else message)
        self.message = message
        self.where = where


def _mark(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def _line_col(data: bytes, offset: int) -> str:
    line = data.count(b"\n", 0, offset) + 1
    start = data.rfind(b"\n", 0, offset) + 1
    column = len(data[start:offset].decode("utf-8", "replace")) + 1
    return f"line {line}, column {column}"


def read_text(path: str | Path) -> str:
    """The text of the regular file ``path`` (at most :data:`MAX_BYTES`, strict UTF-8)."""
    try:  # O_NONBLOCK: a FIFO must not block the open; fstat then refuses it
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise YamlRefused(f"cannot read file: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "a device, FIFO or socket"
            raise YamlRefused(f"not a regular file ({kind})")
        if info.st_size > MAX_BYTES:
            raise YamlRefused(f"file is larger than {MAX_BYTES} bytes ({info.st_size})")
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_BYTES:
            chunk = os.read(fd, MAX_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise YamlRefused(f"cannot read file: {exc.strerror}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > MAX_BYTES:
        raise YamlRefused(f"file is larger than {MAX_BYTES} bytes")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlRefused(f"not UTF-8 (byte 0x{data[exc.start]:02x})",
                          _line_col(data, exc.start)) from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases and caps nesting while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        where = _mark(event.start_mark)
        if isinstance(event, AliasEvent):
            raise YamlRefused("aliases (*name) are not allowed in configuration", where)
        if isinstance(event, ScalarEvent | CollectionStartEvent) and event.anchor is not None:
            raise YamlRefused("anchors (&name) are not allowed in configuration", where)
        if isinstance(event, CollectionStartEvent):
            if self._depth >= MAX_DEPTH:
                raise YamlRefused(f"nesting deeper than {MAX_DEPTH} levels", where)
            self._depth += 1
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1
        return super().compose_node(parent, index)


def _check_duplicates(node: Node, path: tuple[str, ...] = ()) -> None:
    if isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
            line = key_node.start_mark.line + 1
            here = (*path, key)
            if key in seen and key != "<<":
                raise YamlRefused(f"duplicate key, line {line} (first on line {seen[key]})",
                                  ".".join(here))
            seen[key] = line
            _check_duplicates(value_node, here)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, (*path, str(i)))


def parse(text: str) -> Any:
    """The data of one YAML document under the rules of this module (None when empty)."""
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            problem = exc.problem or exc.context or "not valid YAML"
            raise YamlRefused(f"not valid YAML: {problem}", _mark(mark)) from None
        except ReaderError as exc:  # a control character, a lone surrogate
            head = text[:exc.position]
            where = f"line {head.count(NL) + 1}, column {len(head.rsplit(NL, 1)[-1]) + 1}"
            char = exc.character if isinstance(exc.character, int) else ord(exc.character)
            raise YamlRefused(f"not valid YAML: character U+{char:04X} is not allowed",
                              where) from None
        except yaml.YAMLError as exc:
            raise YamlRefused(f"not valid YAML: {exc.__class__.__name__}") from None
        if node is None:
            return None
        _check_duplicates(node)
        try:
            return loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise YamlRefused(f"not valid YAML: {exc.problem or exc.context}",
                              _mark(exc.problem_mark)) from None
    finally:
        loader.dispose()


def load_file(path: str | Path) -> Any:
    """:func:`read_text` then :func:`parse`."""
    return parse(read_text(path))
