"""Power loss (issue 15): the kiosk is killed with SIGKILL at random points of simulated
journeys — mid-submission, mid-outbox-delivery (the platform link cut, then restored), mid-print,
between journeys and while a fleet config slot is written — and restarted on the same var dir.

Real peers: the kiosk is its own process (:mod:`tests.appliance.programs.chaos_kiosk`, built by
the composition root on the simulated card reader); the reference platform is served over HTTP
by uvicorn from this process, through a TCP link this test cuts and restores; printing goes
through a private cupsd to the AppSocket emulator, both outliving the kiosk as a system cupsd and
a printer do. The kill lands where the kiosk says it is: the driver stops at each named point
(its markers) until told to go on, and the test kills it there instead, or a random few
milliseconds after letting it go on.

Checked: every receipt the citizen was shown (recorded durably by the driver before it could be
killed) reaches the platform exactly once and no journey makes two applications, and every
delivery choice the citizen was told is arranged is what the platform holds (the platform
database); no document is printed twice, even when the interrupted print is asked again after
the restart (the emulator's spool, one count per application number); every SQLite file of
the kiosk passes ``PRAGMA integrity_check`` after every kill, and its audit chain verifies
(``kiosk diag audit verify``), with nothing set aside as tampered; the kiosk boots on a whole
config slot, the one committed before the kill (a trial handed over to the next process is
resumed by it, and rolled back when that one is killed too); it comes back ready on the attract
screen and the first journey after each restart succeeds; nothing personal is left in its var
dir or logs.

``KIOSK_CHAOS_SEED`` reruns one seed (printed); ``KIOSK_CHAOS_JOURNEYS`` sets the number of
journeys. Figures: printed, and kept in ``test-artifacts/chaos/figures.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.signing
import pytest

from hardware.printer.cupsd import PrivateCupsd
from hardware.printer.emulator import PrinterEmulator
from kiosk.audit.verify import verify_file
from kiosk.backend.credentials import CredentialStore, write_private
from kiosk.backend.outbox import pending_number
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.db import make_engine
from kiosk.backend.platform.seed import seed_demo
from kiosk.backend.platform.service import PlatformService
from kiosk.backend.platform.serving import serve_in_thread
from kiosk.fleet.slots import SlotStore
from tests.appliance.conftest import REPO
from tests.appliance.test_privacy_audit import text_needles

ARTIFACTS = REPO / "test-artifacts" / "chaos"
LANES = 2  # kiosks run side by side (one per core), each with its own var dir
JOURNEYS = int(os.environ.get("KIOSK_CHAOS_JOURNEYS", "76"))
SEED = int(os.environ.get("KIOSK_CHAOS_SEED", str(random.SystemRandom().randrange(10**9))))
READY_S = 60.0
STEP_S = 90.0  # the longest the test waits for the kiosk's next word
CITIZENS = ("chen", "huang", "he")
MATTERS = {"sb-record-print": 0.75, "elderly-allowance": 0.25}

PHASES = {
    "journey.start": "idle", "identified": "identify", "form.filled": "form",
    "submit.sending": "submission", "submit.answered": "submission",
    "delivery.sending": "delivery", "delivery.answered": "delivery",
    "result.shown": "result", "followup.sending": "followup", "followup.answered": "followup",
    "print.begun": "print", "print.job": "print",
    "print.submitted": "print", "print.completed": "print", "goodbye": "goodbye",
    "slot.writing": "slot", "slot.written": "slot", "slot.trial": "slot",
    "slot.committed": "slot", "slot.handed_over": "slot", "slot.settling": "slot",
}
# the kill targets of each lane: every point of the submission, the outbox's delivery and the
# print, two of the config slot's, and one of the other points of a journey
MUST_HIT = {"submit.sending": 2, "submit.answered": 2, "delivery.sending": 1,
            "delivery.answered": 2, "print.begun": 1, "print.job": 1, "print.submitted": 2,
            "print.completed": 1, "form.filled": 1, "result.shown": 1, "followup.answered": 1}
OTHER_POINTS = ("journey.start", "identified", "followup.sending", "goodbye")
# where a kill lands a few ms after the kiosk went on from a point (no later point reached)
AFTER = {**PHASES, "journey.start": "identify", "identified": "form",
         "form.filled": "submission", "print.completed": "goodbye", "goodbye": "idle"}
# a kill at slot.handed_over is the restart that takes a change: the next process resumes the
# trial, and a later settle step commits it, rolls it back, or is killed (then rolled back)
SLOT_POINTS = ("slot.writing", "slot.written", "slot.trial", "slot.committed",
               "slot.handed_over")
ROLLED_BACK = ("slot.trial", "slot.settling")
APP_NO = re.compile(rb"NH\d{16}|P-[A-Z2-7]{10}")


# -- peers ------------------------------------------------------------------------------------
class Link:
    """A TCP link between a kiosk and the platform that the test can cut (connections reset,
    new ones refused by a reset) and restore."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.cut = threading.Event()
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True, name="link").start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set_cut(self, cut: bool) -> None:
        if cut:
            self.cut.set()
            with self._lock:
                for conn in list(self._conns):
                    _reset(conn)
                self._conns.clear()
        else:
            self.cut.clear()

    def close(self) -> None:
        self._listener.close()
        self.set_cut(True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                _reset(conn)
                continue
            try:
                up = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                _reset(conn)
                continue
            with self._lock:
                self._conns.update((conn, up))
            for a, b in ((conn, up), (up, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with self._lock:
                    self._conns.discard(s)
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()


def _reset(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        conn.close()


@dataclass
class Platform:
    service: PlatformService
    store: CredentialStore
    url: str
    db: Path


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The reference platform over HTTP (uvicorn), outliving every kiosk kill."""
    db = tmp_path_factory.mktemp("platform") / "platform.sqlite"
    engine = make_engine(str(db))
    seed_demo(engine)
    service = PlatformService(engine, nacl.signing.SigningKey.generate())
    store = CredentialStore()
    with serve_in_thread(create_app(service, store)) as url:
        yield Platform(service, store, url, db)
    engine.dispose()


@pytest.fixture(scope="module")
def cupsd() -> Iterator[PrivateCupsd]:
    """A private cupsd that keeps its job history across kiosk restarts, as a system one does."""
    with PrivateCupsd() as server:
        yield server


# -- the plan ---------------------------------------------------------------------------------
@dataclass
class Kill:
    point: str
    mode: str  # at: while the kiosk waits at the point; after: a few ms after it went on
    delay_s: float = 0.0


@dataclass
class Step:
    n: int
    kind: str  # journey | slot | settle
    citizen: str = ""
    matter: str = ""
    print: bool = False
    cut: bool = False  # submit while the platform link is cut: a pending receipt
    kill: Kill | None = None
    version: int = 0
    handover: bool = False  # slot: handed over to the next process instead of committed
    commit: bool = False  # settle: commit the resumed trial (else roll it back)


def plan(rng: random.Random, lane: int, journeys: int) -> list[Step]:
    """Journeys, and config slots between them, with the kills drawn for them. A killed step
    is always followed by a journey that is not: the first journey after every restart must
    succeed."""
    must = [p for p, n in MUST_HIT.items() for _ in range(n)] + rng.sample(SLOT_POINTS, 2)
    rng.shuffle(must)
    targets = rng.sample(OTHER_POINTS, len(OTHER_POINTS)) + must  # popped from the end
    # journeys 1 .. journeys-2, no two side by side (the first and the last are never killed)
    k = min(len(targets), (journeys - 1) // 2)
    killed = {p + i for i, p in enumerate(sorted(rng.sample(range(1, journeys - k), k)))}
    steps: list[Step] = []
    version = 0
    for j in range(journeys):
        n = lane * 1000 + j
        point = targets.pop() if j in killed else None
        if point in SLOT_POINTS or (j and rng.random() < 0.15):
            version += 1  # a config slot arrives from the fleet between two journeys
            steps.append(Step(n, "slot", version=version, handover=point == "slot.handed_over",
                              kill=Kill(point, "at") if point in SLOT_POINTS else None))
        matter = rng.choices(list(MATTERS), weights=list(MATTERS.values()))[0]
        step = Step(n, "journey", citizen=rng.choice(CITIZENS), matter=matter,
                    print=matter == "sb-record-print" or rng.random() < 0.5,
                    cut=rng.random() < 0.25)
        if point is not None and point not in SLOT_POINTS:
            step.kill = Kill(point, *(("at", 0.0) if rng.random() < 0.7
                                      else ("after", rng.uniform(0.0, 0.04))))
            if point.startswith(("print.", "followup.")):
                step.print = point.startswith("print.")  # else the choice: electronic
            if point.startswith("delivery."):
                step.cut = True  # the outbox delivers it once the link is back
            if point.startswith(("submit.", "followup.")):
                step.cut = False  # the journey's own thread sends it to the platform
        steps.append(step)
        if point == "slot.handed_over":  # journey j ran on the resumed trial: settle it
            settle = rng.choice(("commit", "rollback", "kill"))
            steps.append(Step(n, "settle", commit=settle == "commit",
                              kill=Kill("slot.settling", "at") if settle == "kill" else None))
    return steps


# -- one kiosk --------------------------------------------------------------------------------
@dataclass
class LaneResult:
    name: str
    var: Path
    spool: Path
    receipts: Path
    kills: list[dict[str, Any]] = field(default_factory=list)
    done: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    reprints: list[dict[str, Any]] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # receipts the driver saw on screen
    journeys: int = 0  # journey steps run (completed, failed or killed)
    restarts_ready: int = 0
    first_after_restart_ok: int = 0
    integrity_checks: int = 0
    audit_checks: int = 0
    audit_interrupted: int = 0  # kills after which the audit log had an append to finish
    problems: list[str] = field(default_factory=list)


class Killed(Exception):
    """The kiosk was killed as planned."""


class Lane:
    """One kiosk process on its own var dir, link and printer queue, run through a plan."""

    def __init__(self, index: int, platform: Platform, cupsd: PrivateCupsd, root: Path) -> None:
        self.name = f"chaos-{index}"
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.link = Link(_host_port(platform.url))
        self.emulator = PrinterEmulator(root / "spool").start()
        queue_name = f"chaos{index}"
        cupsd.add_raw_queue(queue_name, f"socket://127.0.0.1:{self.emulator.port}")
        cred = platform.store.issue(self.name)
        cred_file = root / "credentials.json"
        write_private(cred_file, cred.model_dump_json())
        self.result = LaneResult(self.name, root / "var", root / "spool",
                                 root / "receipts.jsonl")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("KIOSK__")},
            "PYTHONPATH": str(REPO), "KIOSK__VAR_DIR": str(root / "var"),
            "KIOSK__KIOSK__ID": self.name, "KIOSK__BACKEND__KIND": "http",
            "KIOSK__BACKEND__URL": self.link.url,
            "KIOSK__BACKEND__CREDENTIALS_FILE": str(cred_file),
            "KIOSK__BACKEND__RETRIES": "2", "KIOSK__BACKEND__TIMEOUT_S": "5",
            "KIOSK__FACE__ENABLED": "false", "KIOSK__CAMERA__ENABLED": "false",
            "KIOSK__QR__ENABLED": "false", "KIOSK__PRINTER__CUPS_SERVER": cupsd.server,
            "KIOSK__PRINTER__QUEUE": queue_name, "KIOSK__PRINTER__JOB_TIMEOUT_S": "30",
            "KIOSK__OUTBOX__RETRY_INTERVAL_S": "0.3",
        }
        self.proc: subprocess.Popen[str] | None = None
        self.lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.starts = 0
        self.slot_version = 0  # the version of the last committed config slot
        self.trial_version = 0  # the version of a trial resumed after a restart
        self.shown: dict[str, Any] | None = None  # the receipt shown in the current step
        self.print_begun = False  # the current step's print reached the journal

    # -- the process ----------------------------------------------------------------------
    def start(self) -> dict[str, Any]:
        ready_file = self.root / "ready"
        ready_file.unlink(missing_ok=True)
        self.starts += 1
        log = (self.root / f"kiosk-{self.starts}.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.appliance.programs.chaos_kiosk",
             "--receipts", str(self.result.receipts), "--ready-file", str(ready_file),
             "--lane", self.name], cwd=REPO, env=self.env, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, text=True, bufsize=1)
        log.close()
        self.lines = queue.Queue()
        threading.Thread(target=self._read, args=(self.proc, self.lines), daemon=True).start()
        ready = self.expect("ready", timeout=READY_S)
        assert ready_file.read_text() == "ready\n", "the ready file"
        return ready

    @staticmethod
    def _read(proc: subprocess.Popen[str], lines: queue.Queue[dict[str, Any] | None]) -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(json.loads(line))
        lines.put(None)

    def send(self, **message: Any) -> None:
        assert self.proc is not None and self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def next(self, timeout: float = STEP_S) -> dict[str, Any]:
        try:
            message = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"{self.name}: no word from the kiosk in {timeout} s "
                                 f"(log {self.root})") from None
        if message is None:
            raise AssertionError(f"{self.name}: the kiosk exited unasked, rc "
                                 f"{self.proc.wait() if self.proc else None} (log {self.root})")
        return message

    def expect(self, event: str, timeout: float = STEP_S) -> dict[str, Any]:
        """Wait for ``event``, letting every mark met on the way go on."""
        while True:
            message = self.next(timeout)
            if "mark" in message:
                self.go(message)
            elif message.get("event") == event:
                return message
            elif message.get("event") == "failed":
                raise AssertionError(f"{self.name}: {message}")

    def go(self, mark: dict[str, Any]) -> None:
        self.send(go=mark["mark"])

    def kill(self, kill: Kill, mark: dict[str, Any], step: Step) -> None:
        """SIGKILL now (at ``mark``), or a few ms after letting it go on; then note where
        the kiosk was: the last mark it reached."""
        assert self.proc is not None
        if kill.mode == "after":
            self.go(mark)
            threading.Event().wait(kill.delay_s)  # the random point: a few ms further on
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)
        waiting = []  # marks reached after ``mark``: a thread waits at each, unanswered
        while (message := self.lines.get(timeout=10)) is not None:
            if "mark" in message:
                waiting.append(message["point"])
                if message["point"] == "result.shown":
                    self.shown = message
                    self.result.shown.append(message["application_no"])
                self.print_begun |= message["point"] == "print.begun"
        if kill.mode == "at":  # the kiosk's thread waited at the target itself
            point, phase = mark["point"], PHASES[mark["point"]]
        elif waiting:  # went on, and was killed waiting at the next point it reached
            point, phase = waiting[-1], PHASES[waiting[-1]]
        else:  # killed somewhere between the target and the next point
            point, phase = f"{mark['point']}+", AFTER[mark["point"]]
        self.result.kills.append({
            "step": step.n, "kind": step.kind, "target": kill.point, "mode": kill.mode,
            "point": point, "phase": phase, "also_waiting": waiting,
            "cut": self.link.cut.is_set()})
        self.after_kill()

    def after_kill(self) -> None:
        """What the next start will find: whole databases, an audit chain that verifies."""
        problems = self.result.problems
        for db in sqlite_files(self.result.var):
            self.result.integrity_checks += 1
            verdict = integrity_of_copy(db, self.root / "copy")
            if verdict != "ok":
                problems.append(f"after kill {len(self.result.kills)}: {db.name}: {verdict}")
        self.result.audit_checks += 1
        audit = verify_file(self.result.var / "audit.jsonl")
        if not audit.ok:
            problems.append(f"after kill {len(self.result.kills)}: audit {audit.code}")
        if audit.torn or audit.behind:
            self.result.audit_interrupted += 1
        store = SlotStore(self.result.var / "fleet")
        for role, name in store.pointer().items():
            if name is not None and store.read(name) is None:
                problems.append(f"after kill {len(self.result.kills)}: the {role} slot "
                                f"{name} is not whole")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.link.close()
        self.emulator.stop()

    # -- the plan -------------------------------------------------------------------------
    def run(self, steps: list[Step]) -> None:
        self.start()
        after_restart = False
        for step in steps:
            if step.kind == "journey":
                self.result.journeys += 1
            try:
                outcome = self.run_step(step)
            except Killed:
                self.restart(step)
                after_restart = True
                continue
            if after_restart and step.kind == "journey" and outcome == "done":
                self.result.first_after_restart_ok += 1
            if step.kind == "journey":
                after_restart = False
        self.send(cmd="drain")
        drained = self.expect("drained")
        if any(drained[k] for k in ("pending", "parked", "refused", "followups_pending",
                                    "followups_parked")):
            self.result.problems.append(f"outbox not drained: {drained}")
        self.send(cmd="quit")
        self.expect("stopped")
        assert self.proc is not None
        assert self.proc.wait(30) == 0

    def run_step(self, step: Step) -> str:
        """Run one step; raises :class:`Killed` once its kill was sent."""
        self.shown = None
        self.print_begun = False
        if step.kind == "slot":
            self.send(cmd="slot", version=step.version, handover=step.handover)
            want = "slot_done"
        elif step.kind == "settle":
            self.send(cmd="settle", commit=step.commit)
            want = "settled"
        else:
            self.send(cmd="journey", n=step.n, citizen=step.citizen, matter=step.matter,
                      print=step.print)
            want = "done"
        while True:
            message = self.next()
            if "mark" in message:
                self.on_mark(step, message)
            elif message.get("event") == want:
                if step.kind == "journey":
                    self.result.done.append(message)
                elif step.kind == "slot" and not step.handover:
                    self.slot_version = step.version
                elif step.kind == "settle" and step.commit:
                    self.slot_version = self.trial_version
                # a planned delivery kill waits for the outbox's round, even after the journey
                if step.kill is None or not step.kill.point.startswith("delivery."):
                    return want
            elif message.get("event") == "failed":
                self.result.failed.append({"step": step.n, **message})
                return "failed"

    def on_mark(self, step: Step, mark: dict[str, Any]) -> None:
        point = mark["point"]
        if point == "result.shown":
            self.shown = mark
            self.result.shown.append(mark["application_no"])
        if point == "print.begun":
            self.print_begun = True
        kill = step.kill
        # a delivery attempt let go while the link was cut may reach the platform once it is
        # back: then its answer is the first delivery point of the restored link
        if kill is not None and not (point.startswith("delivery.") and self.link.cut.is_set()) \
                and (point == kill.point or (kill.point, point) == ("delivery.sending",
                                                                    "delivery.answered")):
            self.kill(kill, mark, step)
            raise Killed
        if point == "form.filled" and step.cut:
            self.link.set_cut(True)
        if point == "result.shown" and self.link.cut.is_set():
            self.link.set_cut(False)  # the network is back: the outbox delivers by itself
        self.go(mark)

    def restart(self, step: Step) -> None:
        self.link.set_cut(False)
        ready = self.start()
        self.result.restarts_ready += 1
        kill = self.result.kills[-1]
        resume = kill["point"] == "slot.handed_over"
        # the slot in force: the new one once committed (or resumed), else the last committed
        expected = step.version if kill["point"] in ("slot.committed", "slot.handed_over") \
            else self.slot_version
        booted = ready["slot_version"] or 0
        if booted != expected:
            self.result.problems.append(f"booted slot {booted}, expected {expected} "
                                        f"after {kill}")
        rolled_back = any(n.startswith("rolled_back") for n in ready["notes"])
        if (kill["point"] in ROLLED_BACK) != rolled_back or ready["resumed"] != resume:
            self.result.problems.append(f"slot trial rolled back {rolled_back}, resumed "
                                        f"{ready['resumed']} after {kill}")
        if ready["state"] != "attract" or ready["printer"] != "online":
            self.result.problems.append(f"not back on the attract screen: {ready}")
        if resume:
            self.trial_version = booted  # committed is still the old one, until settled
        else:
            self.slot_version = booted
        if self.print_begun and self.shown is not None:
            self.send(cmd="reprint", application_no=self.shown["application_no"],
                      matter=step.matter)
            self.result.reprints.append(self.expect("reprinted"))


def _host_port(url: str) -> tuple[str, int]:
    host, port = url.rsplit("//", 1)[1].rsplit(":", 1)
    return host, int(port)


# -- checks -----------------------------------------------------------------------------------
def sqlite_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and _is_sqlite(p))


def _is_sqlite(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def integrity_of_copy(db: Path, scratch: Path) -> str:
    """``PRAGMA integrity_check`` of ``db`` as the next start finds it (its WAL with it), on
    a copy, so the kiosk's own recovery at restart is what runs on the original."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    for suffix in ("", "-wal", "-journal"):
        src = db.with_name(db.name + suffix)
        if src.exists():
            shutil.copy2(src, scratch / (db.name + suffix))
    return integrity(scratch / db.name)


def integrity(db: Path) -> str:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    return "ok" if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])


def printed_numbers(spool: Path) -> Counter[str]:
    """Application numbers on the paper: one count per spooled job that carries it."""
    counts: Counter[str] = Counter()
    for job in sorted(spool.glob("job-*.prn")):
        text = subprocess.run(["pdftotext", "-q", str(job), "-"], capture_output=True,
                              check=False, timeout=30).stdout
        for number in set(APP_NO.findall(text)):
            counts[number.decode()] += 1
    return counts


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The receipts a driver recorded (a torn line would be a record that cannot be judged:
    the test fails on it)."""
    if not path.exists():
        return []
    text = path.read_text()
    assert not text or text.endswith("\n"), f"{path}: a torn receipt record"
    return [json.loads(line) for line in text.splitlines()]


# -- the test ---------------------------------------------------------------------------------
def test_power_loss_chaos(platform: Platform, cupsd: PrivateCupsd, tmp_path: Path,
                          capsys: pytest.CaptureFixture[str]) -> None:
    with capsys.disabled():  # the seed and the figures are shown however pytest captures
        print(f"\nchaos seed {SEED} (rerun: KIOSK_CHAOS_SEED={SEED})")
    rng = random.Random(SEED)
    t0 = time.monotonic()
    per_lane = -(-JOURNEYS // LANES)
    plans = [plan(random.Random(rng.random()), i, per_lane) for i in range(LANES)]
    errors: list[BaseException] = []

    def run(lane: Lane, steps: list[Step]) -> None:
        try:
            lane.run(steps)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    lanes: list[Lane] = []
    try:
        lanes += [Lane(i + 1, platform, cupsd, tmp_path / f"lane{i + 1}") for i in range(LANES)]
        threads = [threading.Thread(target=run, args=(lane, steps), name=lane.name)
                   for lane, steps in zip(lanes, plans, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for lane in lanes:
            lane.stop()
    if errors:
        keep_logs(lanes)
        raise errors[0]
    results = [lane.result for lane in lanes]
    figures = check_and_count(results, platform)
    figures["kills_planned"] = sum(1 for steps in plans for step in steps if step.kill)
    figures.update(seed=SEED, lanes=LANES, duration_s=round(time.monotonic() - t0, 1))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "figures.json").write_text(json.dumps(figures, indent=2) + "\n")
    with capsys.disabled():
        print(json.dumps({k: v for k, v in figures.items() if k != "kill_log"}, indent=2))
    problems = [p for r in results for p in r.problems] + figures["problems"]
    if problems:
        keep_logs(lanes)
    assert problems == [], "\n".join(problems)
    assert figures["journeys"] >= 50 and figures["kills"] >= 25
    assert figures["kills"] == figures["kills_planned"], "a planned kill point was never met"
    assert figures["first_journey_after_restart_ok"] == figures["restarts_ready"] \
        == figures["kills"]
    for phase in ("submission", "delivery", "print"):
        assert figures["kill_points_by_phase"].get(phase, 0) >= 2, phase


def keep_logs(lanes: list[Lane]) -> None:
    """The kiosks' logs and the receipts recorded, into the artifacts (no personal data: the
    test scans them), for a failed run."""
    for lane in lanes:
        target = ARTIFACTS / f"failed-{SEED}" / lane.name
        target.mkdir(parents=True, exist_ok=True)
        for path in [*lane.root.glob("kiosk-*.log"), lane.result.receipts]:
            if path.exists():
                shutil.copy2(path, target / path.name)


def check_and_count(results: list[LaneResult], platform: Platform) -> dict[str, Any]:
    problems: list[str] = []
    with contextlib.closing(sqlite3.connect(f"file:{platform.db}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT idempotency_key, application_no, session_ref, delivery "
                          "FROM applications WHERE kiosk_id LIKE 'chaos-%'").fetchall()
    by_key: Counter[str] = Counter(r[0] for r in rows)
    number_of = {r[0]: r[1] for r in rows}
    delivery_of = {r[0]: r[3] for r in rows}
    by_session: Counter[str] = Counter(hashlib.sha256(r[2].encode()).hexdigest()
                                       for r in rows if r[2])
    records = [line for r in results for line in read_jsonl(r.receipts)]
    shown = [line for line in records if line["kind"] == "receipt"]
    told = [line for line in records if line["kind"] == "delivery"]
    wrong_delivery = [t for t in told if delivery_of.get(t["idempotency_key"]) != t["delivery"]]
    problems += [f"delivery told {t['delivery']}, platform has "
                 f"{delivery_of.get(t['idempotency_key'])}: {t['lane']} journey {t['journey']}"
                 for t in wrong_delivery]
    lost = [s for s in shown if by_key[s["idempotency_key"]] == 0]
    doubled = [s for s in shown if by_key[s["idempotency_key"]] > 1
               or by_session[s["session"]] > 1]
    wrong_no = [s for s in shown if not s["pending"] and by_key[s["idempotency_key"]]
                and number_of[s["idempotency_key"]] != s["application_no"]]
    recorded = {s["application_no"] for s in shown}
    problems += [f"{r.name}: receipt {no} shown but not recorded" for r in results
                 for no in r.shown if no not in recorded]
    shown_keys = {s["idempotency_key"] for s in shown}
    unannounced = [k for k in by_key if k not in shown_keys]
    problems += [f"lost: {s['lane']} journey {s['journey']}" for s in lost]
    problems += [f"doubled: {s['lane']} journey {s['journey']}" for s in doubled]
    problems += [f"receipt number differs: {s['lane']} journey {s['journey']}"
                 for s in wrong_no]

    printed: Counter[str] = Counter()
    for r in results:
        printed.update(printed_numbers(r.spool))
    # a pending receipt's number and the platform's number are the same application
    application_of = {pending_number(k): k for k in by_key} | {v: k for k, v in
                                                               number_of.items() if v}
    per_application: Counter[str] = Counter()
    numbers: dict[str, set[str]] = {}
    for number, n in printed.items():
        per_application[application_of.get(number, number)] += n
        numbers.setdefault(application_of.get(number, number), set()).add(number)
    twice = {k: n for k, n in per_application.items() if n > 1}
    problems += [f"printed {n} times: {sorted(numbers[k])}" for k, n in twice.items()]
    for r in results:
        for done in r.done:
            if done["printed"] and printed[done["application_no"]] != 1:
                problems.append(f"{r.name}: journey {done['n']} printed "
                                f"{printed[done['application_no']]} times, not once")
        problems += [f"{r.name}: journey failed: {f}" for f in r.failed]

    audit_records = 0
    for r in results:  # the kiosk stopped: its files as it left them
        for path in sqlite_files(r.var):
            r.integrity_checks += 1
            verdict = integrity(path)
            if verdict != "ok":
                problems.append(f"{r.name}: {path.name}: {verdict}")
        audit = subprocess.run(
            [sys.executable, "-m", "kiosk.cli", "diag", "audit", "verify", "--file",
             str(r.var / "audit.jsonl"), "--json"], cwd=REPO, capture_output=True, text=True,
            timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)}, check=False)
        r.audit_checks += 1
        verdict = json.loads(audit.stdout) if audit.returncode == 0 else {}
        if verdict.get("status") != "ok" or not verdict.get("records"):
            problems.append(f"{r.name}: kiosk diag audit verify: rc {audit.returncode} "
                            f"{audit.stdout[-300:]}")
        audit_records += int(verdict.get("records") or 0)
        aside = [p.name for p in r.var.glob("audit.jsonl.*")]
        if aside:
            problems.append(f"{r.name}: audit files set aside as tampered: {aside}")
        store = SlotStore(r.var / "fleet")
        committed = store.pointer()["committed"]
        if committed is not None and store.read(committed) is None:
            problems.append(f"{r.name}: the committed slot {committed} is not whole")

    # nothing of the citizens left behind by the kills: var dir, logs, the test's records (the
    # paper and the platform, which hold them by nature, are elsewhere)
    needles = text_needles()
    leftovers = []
    for r in results:
        for path in r.var.parent.rglob("*"):
            if path.is_file() and "spool" not in path.parts:
                blob = path.read_bytes()
                leftovers += [f"{path}: {name}" for name, b in needles.items() if b in blob]
    problems += [f"personal data left: {x}" for x in leftovers]

    kills = [k for r in results for k in r.kills]
    return {
        "journeys": sum(r.journeys for r in results),
        "journeys_completed": sum(len(r.done) for r in results),
        "journeys_failed": sum(len(r.failed) for r in results),
        "kills": len(kills),
        "kill_points_by_phase": dict(Counter(k["phase"] for k in kills).most_common()),
        "kill_points": dict(Counter(k["point"] for k in kills).most_common()),
        "kills_at_marker": sum(1 for k in kills if k["mode"] == "at"),
        "kills_after_marker": sum(1 for k in kills if k["mode"] == "after"),
        "submitted": len(shown),
        "submitted_pending": sum(1 for s in shown if s["pending"]),
        "deliveries_told": dict(Counter(t["delivery"] for t in told)),
        "deliveries_not_on_platform": len(wrong_delivery),
        "on_platform": len(by_key),
        "lost": len(lost),
        "doubled": len(doubled),
        "delivered_unannounced": len(unannounced),
        "printed": sum(per_application.values()),
        "printed_twice": len(twice),
        "reprints_after_restart": dict(Counter(p["state"] for p in
                                               (x for r in results for x in r.reprints))),
        "personal_data_left": len(leftovers),
        "restarts_ready": sum(r.restarts_ready for r in results),
        "first_journey_after_restart_ok": sum(r.first_after_restart_ok for r in results),
        "integrity_checks": sum(r.integrity_checks for r in results),
        "sqlite_files_checked": sorted({p.name for r in results for p in sqlite_files(r.var)}),
        "audit_appends_finished_at_restart": sum(r.audit_interrupted for r in results),
        "audit_verifications": sum(r.audit_checks for r in results),
        "audit_records": audit_records,
        "problems": problems,
        "kill_log": [{"lane": r.name, **k} for r in results for k in r.kills],
    }
