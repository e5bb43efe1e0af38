"""The reference platform over real HTTP (uvicorn on a free port) with a count of the
requests it answered, for tests that must show what a kiosk did not ask."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing

from kiosk.backend.credentials import CredentialStore, write_private
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.db import make_engine
from kiosk.backend.platform.seed import seed_demo
from kiosk.backend.platform.service import PlatformService
from kiosk.backend.platform.serving import serve_in_thread


@dataclass
class Platform:
    url: str
    service: PlatformService
    credentials_file: Path
    _seen: list[tuple[str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def requests(self, path_prefix: str = "") -> list[tuple[str, str]]:
        """(method, path) of every request answered so far whose path starts so."""
        with self._lock:
            return [r for r in self._seen if r[1].startswith(path_prefix)]

    def kiosk_environ(self) -> dict[str, str]:
        """The settings that point a kiosk at this platform."""
        return {"KIOSK__BACKEND__KIND": "http", "KIOSK__BACKEND__URL": self.url,
                "KIOSK__BACKEND__CREDENTIALS_FILE": str(self.credentials_file),
                "KIOSK__BACKEND__RETRIES": "0"}


class _Counting:
    """ASGI middleware: records each HTTP request's method and path, then serves it."""

    def __init__(self, app: Any, platform: Platform) -> None:
        self.app = app
        self.platform = platform

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope.get("type") == "http":
            with self.platform._lock:
                self.platform._seen.append((str(scope["method"]), str(scope["path"])))
        await self.app(scope, receive, send)


@contextmanager
def http_platform(folder: Path, kiosk_id: str) -> Iterator[Platform]:
    """A seeded platform on SQLite under ``folder``, served over HTTP, with a credential for
    ``kiosk_id`` written where the kiosk reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    engine = make_engine(str(folder / "platform.sqlite"))
    seed_demo(engine)
    service = PlatformService(engine, nacl.signing.SigningKey.generate())
    store = CredentialStore()
    cred = store.issue(kiosk_id)
    cred_file = folder / "kiosk-credential.json"
    write_private(cred_file, cred.model_dump_json())
    platform = Platform("", service, cred_file)
    try:
        with serve_in_thread(_Counting(create_app(service, store), platform)) as url:
            platform.url = url
            yield platform
    finally:
        engine.dispose()
