"""What the dashboard remembers across restarts, in SQLite through SQLAlchemy
(``<state dir>/history.sqlite``, 0600): each kiosk's last reported document and status (its
last heartbeat), the desired and staged bundles a rollout's progress is read from, the last
readiness report per kiosk, the commands sent from the dashboard with their answers, and the
operator action log. A restarted dashboard starts from it, also while the broker is down;
the broker's retained documents then bring it up to date.

Writes come from paho's network thread and from requests: they are queued and written by a
thread of this class's own, coalesced (the last value per key) in one transaction every
:data:`FLUSH_S`, so no caller waits on the disk. Only what the kiosks reported (redacted by
them), command names, account names and outcomes are kept: no password, no citizen data.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    select,
)
from sqlalchemy.dialects.sqlite import insert
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from kiosk.files import private_dir, private_file

log = logging.getLogger("kiosk.fleet.dashboard")

FILE_NAME = "history.sqlite"
FLUSH_S = 0.2
MAX_COMMANDS = 1000
MAX_ACTIONS = 5000

metadata = MetaData()
kiosk_state = Table(
    "kiosk_state", metadata,
    Column("kiosk_id", String(64), primary_key=True),
    Column("reported", Text),  # the last reported document (JSON), NULL when cleared
    Column("status", String(16)),  # online / offline, NULL when cleared
    Column("updated_at", Float, nullable=False))
desired_doc = Table(
    "desired_doc", metadata,
    Column("topic", String(200), primary_key=True),
    Column("scope", String(80), nullable=False),
    Column("version", Integer, nullable=False),
    Column("expires_at", Integer),
    Column("staged_for", String(64)),
    Column("updated_at", Float, nullable=False))
diagnostics = Table(
    "diagnostics", metadata,
    Column("kiosk_id", String(64), primary_key=True),
    Column("entry", Text, nullable=False),  # JSON: last run's outcome, last report
    Column("updated_at", Float, nullable=False))
command = Table(
    "command", metadata,
    Column("nonce", String(64), primary_key=True),
    Column("kiosk_id", String(64), nullable=False, index=True),
    Column("command", String(40), nullable=False),
    Column("operator", String(64), nullable=False),
    Column("sent_at", Float, nullable=False, index=True),
    Column("expires_at", Float, nullable=False))
# the kiosks' answers by nonce, apart from the commands: an answer may come back before the
# command it answers is written; only what the page shows (no result: a screenshot's image)
answer = Table(
    "answer", metadata,
    Column("nonce", String(64), primary_key=True),
    Column("kiosk_id", String(64)),
    Column("at", Float, nullable=False, index=True),
    Column("doc", Text, nullable=False))
ANSWER_KEYS = ("nonce", "kiosk_id", "command", "ok", "code", "status", "detail", "at")
action = Table(
    "action", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Float, nullable=False, index=True),
    Column("event", String(40), nullable=False),
    Column("outcome", String(40), nullable=False),
    Column("operator", String(64)),
    Column("kiosk_id", String(64)),
    Column("detail", Text, nullable=False))  # JSON: command, role, reason ...


@dataclass(frozen=True)
class CommandRow:
    """A command sent from the dashboard, as kept."""

    nonce: str
    kiosk_id: str
    command: str
    operator: str
    sent_at: float
    expires_at: float
    answer: dict[str, Any] | None = None


@dataclass(frozen=True)
class ActionRow:
    """One operator action (as audited)."""

    at: float
    event: str
    outcome: str
    operator: str | None
    kiosk_id: str | None
    detail: dict[str, Any]


@dataclass
class Saved:
    """What a starting dashboard reads back."""

    reported: dict[str, dict[str, Any]] = field(default_factory=dict)
    status: dict[str, str] = field(default_factory=dict)
    desired: dict[str, dict[str, Any]] = field(default_factory=dict)
    diagnostics: dict[str, dict[str, Any]] = field(default_factory=dict)
    commands: list[CommandRow] = field(default_factory=list)


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _engine(path: Path) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi: Any, _record: Any) -> None:
        cur = dbapi.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # a crash loses at most the last flush
        cur.execute("PRAGMA busy_timeout=5000")
        cur.close()

    return engine


class History:
    """The dashboard's database; :meth:`load` at start, the ``record`` methods from any
    thread (queued), :meth:`close` at the end."""

    def __init__(self, state_dir: str | Path) -> None:
        folder = private_dir(state_dir)
        self.path = private_file(folder / FILE_NAME)  # 0600 before SQLite creates -wal/-shm
        self.engine = _engine(self.path)
        metadata.create_all(self.engine)
        self._queue: queue.Queue[tuple[str, str, Any] | None] = queue.Queue()
        self._flushed = threading.Condition()
        self._written = 0
        self._asked = 0
        self._closed = False
        self._thread = threading.Thread(target=self._work, name="dashboard-history",
                                        daemon=True)
        self._thread.start()

    # -- reading (at start, and the action log for the page) ----------------------------
    def load(self) -> Saved:
        saved = Saved()
        with self.engine.connect() as conn:
            for k, rep, status in conn.execute(select(kiosk_state.c.kiosk_id,
                                                      kiosk_state.c.reported,
                                                      kiosk_state.c.status)):
                doc = _loads(rep)
                if isinstance(doc, dict):
                    saved.reported[k] = doc
                if status:
                    saved.status[k] = status
            for row in conn.execute(select(desired_doc)).mappings():
                saved.desired[row["topic"]] = dict(row)
            for k, entry in conn.execute(select(diagnostics.c.kiosk_id, diagnostics.c.entry)):
                doc = _loads(entry)
                if isinstance(doc, dict):
                    saved.diagnostics[k] = doc
            rows = conn.execute(select(command, answer.c.doc)
                                .join(answer, answer.c.nonce == command.c.nonce, isouter=True)
                                .order_by(command.c.sent_at.desc())
                                .limit(MAX_COMMANDS)).mappings().all()
        for row in reversed(rows):
            doc = _loads(row["doc"])
            saved.commands.append(CommandRow(row["nonce"], row["kiosk_id"], row["command"],
                                             row["operator"], row["sent_at"],
                                             row["expires_at"],
                                             doc if isinstance(doc, dict) else None))
        return saved

    def actions(self, limit: int = 20) -> list[ActionRow]:
        """The latest operator actions, newest first (what is queued is written first)."""
        self.flush()
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(action).order_by(action.c.id.desc())
                                    .limit(limit)).mappings().all()
        except SQLAlchemyError as exc:
            log.error("dashboard history unreadable: %s", exc.__class__.__name__)
            return []
        return [ActionRow(r["at"], r["event"], r["outcome"], r["operator"], r["kiosk_id"],
                          d if isinstance(d := _loads(r["detail"]), dict) else {})
                for r in rows]

    # -- recording (any thread; queued) -------------------------------------------------
    def reported(self, kiosk_id: str, doc: dict[str, Any] | None) -> None:
        self._put("reported", kiosk_id, doc)

    def status(self, kiosk_id: str, status: str | None) -> None:
        self._put("status", kiosk_id, status)

    def desired(self, topic: str, doc: dict[str, Any] | None) -> None:
        """A desired or staged bundle's claims (scope, version, expires_at, staged_for)."""
        self._put("desired", topic, doc)

    def diagnostics(self, kiosk_id: str, entry: dict[str, Any]) -> None:
        self._put("diagnostics", kiosk_id, entry)

    def command(self, row: CommandRow) -> None:
        self._put("command", row.nonce, row)

    def answer(self, nonce: str, doc: dict[str, Any]) -> None:
        """A kiosk's answer to a command (kept without its result)."""
        self._put("answer", nonce, {k: doc.get(k) for k in ANSWER_KEYS})

    def action(self, event_name: str, outcome: str, detail: dict[str, Any]) -> None:
        self._put("action", "", (time.time(), event_name, outcome, dict(detail)))

    def _put(self, kind: str, key: str, value: Any) -> None:
        if not self._closed:
            with self._flushed:
                self._asked += 1
            self._queue.put((kind, key, value))

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until what was recorded before this call is written; True when it is."""
        with self._flushed:
            target = self._asked
            return self._flushed.wait_for(lambda: self._written >= target or self._closed,
                                          timeout)

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, stop the writer, release the file."""
        if self._closed:
            return
        self._queue.put(None)
        self._thread.join(timeout)
        self._closed = True
        self.engine.dispose()

    # -- the writer thread --------------------------------------------------------------
    def _batches(self) -> Iterator[list[tuple[str, str, Any]]]:
        while True:
            item = self._queue.get()
            if item is None:
                return
            batch = [item]
            deadline = time.monotonic() + FLUSH_S
            while (left := deadline - time.monotonic()) > 0:
                try:
                    item = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if item is None:
                    yield batch
                    return
                batch.append(item)
            yield batch

    def _work(self) -> None:
        for batch in self._batches():
            try:
                with self.engine.begin() as conn:
                    self._write(conn, batch)
            except SQLAlchemyError as exc:  # the page still shows what is in memory
                log.error("dashboard history: %d changes not written (%s)", len(batch),
                          exc.__class__.__name__)
            with self._flushed:
                self._written += len(batch)
                self._flushed.notify_all()
        with self._flushed:
            self._closed = True
            self._flushed.notify_all()

    def _write(self, conn: Connection, batch: list[tuple[str, str, Any]]) -> None:
        latest: dict[tuple[str, str], Any] = {}
        actions = []
        for kind, key, value in batch:  # the last value per key; every action
            if kind == "action":
                actions.append(value)
            else:
                latest.pop((kind, key), None)  # keep the order of the last change
                latest[(kind, key)] = value
        now = time.time()
        for (kind, key), value in latest.items():
            if kind in ("reported", "status"):
                text = _dumps(value) if kind == "reported" and value is not None else value
                stmt = insert(kiosk_state).values(kiosk_id=key, updated_at=now, **{kind: text})
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["kiosk_id"], set_={kind: text, "updated_at": now}))
            elif kind == "desired":
                if value is None:
                    conn.execute(delete(desired_doc).where(desired_doc.c.topic == key))
                else:
                    values = {k: value.get(k) for k in ("scope", "version", "expires_at",
                                                         "staged_for")}
                    conn.execute(insert(desired_doc).values(topic=key, updated_at=now, **values)
                                 .on_conflict_do_update(index_elements=["topic"],
                                                        set_={**values, "updated_at": now}))
            elif kind == "diagnostics":
                text = _dumps(value)
                conn.execute(insert(diagnostics).values(kiosk_id=key, entry=text, updated_at=now)
                             .on_conflict_do_update(index_elements=["kiosk_id"],
                                                    set_={"entry": text, "updated_at": now}))
            elif kind == "command":
                row: CommandRow = value
                conn.execute(insert(command).values(
                    nonce=row.nonce, kiosk_id=row.kiosk_id, command=row.command,
                    operator=row.operator, sent_at=row.sent_at, expires_at=row.expires_at)
                    .on_conflict_do_nothing())
            elif kind == "answer":
                at = value.get("at") if isinstance(value.get("at"), int | float) else now
                conn.execute(insert(answer).values(
                    nonce=key, kiosk_id=_short(value.get("kiosk_id")), at=at,
                    doc=_dumps(value)).on_conflict_do_nothing())
        conn.execute(delete(kiosk_state).where(kiosk_state.c.reported.is_(None),
                                               kiosk_state.c.status.is_(None)))
        for at, name, outcome, detail in actions:
            conn.execute(action.insert().values(
                at=at, event=name[:40], outcome=str(outcome)[:40],
                operator=_short(detail.pop("operator", None)),
                kiosk_id=_short(detail.pop("kiosk", None)), detail=_dumps(detail)))
        if any(kind == "command" for kind, _ in latest):
            keep = select(command.c.nonce).order_by(command.c.sent_at.desc()) \
                .limit(MAX_COMMANDS)
            conn.execute(delete(command).where(command.c.nonce.not_in(keep)))
        if any(kind == "answer" for kind, _ in latest):
            keep = select(answer.c.nonce).order_by(answer.c.at.desc()).limit(2 * MAX_COMMANDS)
            conn.execute(delete(answer).where(answer.c.nonce.not_in(keep)))
        if actions:
            floor = select(action.c.id).order_by(action.c.id.desc()).offset(MAX_ACTIONS) \
                .limit(1).scalar_subquery()
            conn.execute(delete(action).where(action.c.id <= floor))


def _short(value: Any) -> str | None:
    return None if value is None else str(value)[:64]
