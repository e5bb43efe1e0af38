"""Choose the backend adapter the configuration asks for."""

from __future__ import annotations

from kiosk.backend.contract import BackendAdapter
from kiosk.config.schema import KioskConfig


def create_backend(cfg: KioskConfig) -> BackendAdapter:
    """``embedded`` (reference platform in-process) or ``http`` (remote platform)."""
    if cfg.backend.kind == "http":
        from kiosk.backend.http import HttpBackend

        return HttpBackend(cfg)
    from kiosk.backend.embedded import EmbeddedBackend

    return EmbeddedBackend(cfg)
