"""Events the QR adapters emit to the session (no personal data beyond the scanned text)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True)
class CodeScanned:
    """A code was read; ``source`` is ``serial`` or ``camera``. ``data`` is UTF-8 text."""

    kind: ClassVar[str] = "code_scanned"
    data: str
    source: str

    def __repr__(self) -> str:  # scanned text may be personal: keep it out of log reprs
        return f"CodeScanned(source={self.source!r}, len={len(self.data)})"


@dataclass(frozen=True)
class ScanRejected:
    """Something was read but refused: ``oversized``, ``binary``, ``not_utf8``, ``empty``,
    ``partial`` (a line cut off, e.g. by an unplug)."""

    kind: ClassVar[str] = "scan_rejected"
    reason: str
    source: str = "serial"
