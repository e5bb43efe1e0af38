"""Open a ready platform: engine, tables, demo seed, signing key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from kiosk.backend.platform.db import make_engine
from kiosk.backend.platform.seed import seed_demo
from kiosk.backend.platform.service import PlatformService, _utcnow


def open_platform(db: str, key_file: str, *, seed: bool = True, session_ttl_s: float = 1800.0,
                  clock: Callable[[], dt.datetime] = _utcnow) -> PlatformService:
    """A :class:`PlatformService` on ``db`` (SQLite path or PostgreSQL URL), seeded if asked."""
    from kiosk.identity.codes import load_or_create_signing_key

    engine = make_engine(db)
    if seed:
        seed_demo(engine)
    return PlatformService(engine, load_or_create_signing_key(key_file), clock=clock,
                           session_ttl_s=session_ttl_s)
