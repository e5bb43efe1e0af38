"""The dashboard's subscriber: a :class:`~kiosk.fleet.ops.FleetView` that also follows the
desired and staged documents and the last readiness report of each kiosk, on paho's own
network thread. Requests read copies (:meth:`FleetMonitor.snapshot`); nothing here waits
on a request, and no request waits on the broker except to publish a command."""

from __future__ import annotations

import asyncio
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kiosk.fleet import topics
from kiosk.fleet.canonical import NotCanonical, strict_loads
from kiosk.fleet.dashboard.history import CommandRow, History, Saved
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView, inspect_bundle

DESIRED_SUBSCRIPTIONS = [(topics.FLEET_DESIRED, 1), ("fleet/+/config/desired", 1),
                         ("kiosk/+/config/desired", 1), ("kiosk/+/config/staged", 1)]
_DESIRED = re.compile(r"fleet/config/desired|fleet/[^/]+/config/desired"
                      r"|kiosk/[^/]+/config/(desired|staged)")
MAX_ANSWERS = 2000


@dataclass(frozen=True)
class DesiredDoc:
    """What a retained desired (or staged) bundle claims: its scope and version."""

    topic: str
    scope: str
    version: int
    expires_at: int | None
    staged_for: str | None  # the kiosk of a rollout's staged copy


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of what the dashboard knows, taken under the view's lock."""

    at: float
    connected: bool
    reported: dict[str, dict[str, Any]]
    status: dict[str, str]
    desired: dict[str, DesiredDoc]
    diagnostics: dict[str, dict[str, Any]]
    answers: dict[str, dict[str, Any]]
    revision: int


class Broadcast:
    """Wakes server-sent-event streams (asyncio tasks) from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[asyncio.Event, asyncio.AbstractEventLoop] = {}
        self.closed = False

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters[event] = asyncio.get_running_loop()
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters.pop(event, None)

    def notify(self) -> None:
        with self._lock:
            waiters = list(self._waiters.items())
        for event, loop in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed
                self.unsubscribe(event)

    def close(self) -> None:
        """End every stream (server shutdown)."""
        self.closed = True
        self.notify()


class FleetMonitor(FleetView):
    """The fleet as the dashboard shows it; ``on_answer`` sees every command answer.

    With a ``history`` it starts from what the last run knew (before it connects: the
    broker's retained documents then overwrite it) and records every change there."""

    def __init__(self, settings: BrokerSettings,
                 on_answer: Callable[[dict[str, Any]], None] | None = None,
                 history: History | None = None) -> None:
        super().__init__(settings, answers=True, client_id=f"dashboard-{secrets.token_hex(6)}")
        self.link.subscribe(DESIRED_SUBSCRIPTIONS)
        self.desired: dict[str, DesiredDoc] = {}
        self.diagnostics: dict[str, dict[str, Any]] = {}
        self.changes = Broadcast()
        self.revision = 0
        self.on_answer = on_answer
        self.history = history
        self.saved_commands: list[CommandRow] = []
        if history is not None:
            self._seed(history.load())

    def _seed(self, saved: Saved) -> None:
        self.reported.update(saved.reported)
        self.status.update(saved.status)
        self.diagnostics.update(saved.diagnostics)
        for topic, doc in saved.desired.items():
            if _DESIRED.fullmatch(topic):
                self.desired[topic] = DesiredDoc(topic, str(doc["scope"]), int(doc["version"]),
                                                 doc.get("expires_at"), doc.get("staged_for"))
        self.saved_commands = list(saved.commands)
        for row in saved.commands:
            if row.answer is not None:
                self.answers[row.nonce] = row.answer
        self.revision = 1

    def start(self) -> FleetMonitor:
        """Connect in the background (the dashboard serves while the broker is down)."""
        self._opened = True
        self.link.start()
        return self

    def close(self) -> None:
        self.changes.close()
        super().close()

    @property
    def connected(self) -> bool:
        return self.link.connected.is_set()

    # -- network thread -----------------------------------------------------------------
    def _message(self, topic: str, payload: bytes, retained: bool) -> None:
        answer: dict[str, Any] | None = None
        if _DESIRED.fullmatch(topic):
            doc = _desired_doc(topic, payload)
            with self._cond:
                if doc is None:
                    self.desired.pop(topic, None)
                else:
                    self.desired[topic] = doc
                self._cond.notify_all()
            if self.history is not None:
                self.history.desired(topic, None if doc is None else {
                    "scope": doc.scope, "version": doc.version, "expires_at": doc.expires_at,
                    "staged_for": doc.staged_for})
        else:
            super()._message(topic, payload, retained)
            kiosk = topics.kiosk_of(topic)
            if kiosk is not None and topic == topics.cmd_result(kiosk):
                answer = _json(payload)
                if answer is not None:
                    self._keep_answer(kiosk, answer)
            elif kiosk is not None and self.history is not None:
                with self._cond:
                    reported, status = self.reported.get(kiosk), self.status.get(kiosk)
                if topic == topics.reported(kiosk):
                    self.history.reported(kiosk, reported)
                elif topic == topics.status(kiosk):
                    self.history.status(kiosk, status)
        with self._cond:
            self.revision += 1
        self.changes.notify()
        if answer is not None and self.on_answer is not None:
            self.on_answer(answer)

    def _keep_answer(self, kiosk: str, answer: dict[str, Any]) -> None:
        with self._cond:
            if answer.get("command") == "run_diagnostics":
                entry = dict(self.diagnostics.get(kiosk) or {})
                entry["last"] = {k: answer.get(k) for k in ("ok", "code", "detail", "at")}
                if answer.get("ok") and isinstance(answer.get("result"), dict):
                    entry["report"] = answer["result"]
                    entry["report_at"] = answer.get("at")
                self.diagnostics[kiosk] = entry
                if self.history is not None:
                    self.history.diagnostics(kiosk, entry)
            if self.history is not None and isinstance(answer.get("nonce"), str):
                self.history.answer(answer["nonce"], answer)
            if len(self.answers) > MAX_ANSWERS:
                oldest = sorted(self.answers, key=lambda n: _at(self.answers[n]))
                for nonce in oldest[:len(self.answers) - MAX_ANSWERS]:
                    del self.answers[nonce]

    # -- reading ------------------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        with self._cond:
            return Snapshot(time.time(), self.connected, dict(self.reported), dict(self.status),
                            dict(self.desired), dict(self.diagnostics), dict(self.answers),
                            self.revision)


def _at(answer: dict[str, Any]) -> float:
    at = answer.get("at")
    return float(at) if isinstance(at, int | float) else 0.0


def _json(payload: bytes) -> dict[str, Any] | None:
    try:
        doc = strict_loads(payload, 1024 * 1024)
    except NotCanonical:
        return None
    return doc if isinstance(doc, dict) else None


def _desired_doc(topic: str, payload: bytes) -> DesiredDoc | None:
    if not payload:
        return None  # a cleared retained topic
    try:
        info = inspect_bundle(payload)
    except OperatorError:
        return None
    expires = info.get("expires_at")
    staged = topics.kiosk_of(topic) if topic.endswith("/config/staged") else None
    return DesiredDoc(topic, info["scope"], info["version"],
                      expires if isinstance(expires, int) else None, staged)
