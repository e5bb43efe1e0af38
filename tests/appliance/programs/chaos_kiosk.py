"""The kiosk under the power-loss chaos test (issue 15), driven by the test.

This process *is* the kiosk: its configuration booted from the fleet's config slots
(:meth:`kiosk.fleet.slots.ConfigSource.boot`), built by the one composition root
(:func:`kiosk.compose.build`, as ``kiosk run --no-ui`` does) on the var dir of ``KIOSK__VAR_DIR``,
with its outbox, print journal and audit log. The test sends it commands on stdin and kills it
with SIGKILL; it answers on stdout. One JSON object a line.

Commands (stdin): ``{"cmd": "journey", "n": N, "citizen": KEY, "matter": ID, "print": BOOL}``
(a whole card journey on the simulated reader, its result printed or sent electronically);
``{"cmd": "reprint", "application_no": NO, "matter": ID}`` (the print of a result interrupted
by a kill, asked again with the same document id); ``{"cmd": "slot", "version": V}`` (a fleet
config slot written and committed, as the agent does; with ``"handover": true`` handed over to
the next process instead, as before a restart); ``{"cmd": "settle", "commit": BOOL}`` (the end
of a resumed trial's health window); ``{"cmd": "drain"}`` (wait until the
outbox has delivered everything); ``{"cmd": "quit"}``; and ``{"go": ID}``, which releases the
thread waiting at mark ``ID``.

Answers (stdout): ``{"event": ...}`` lines, and ``{"mark": ID, "point": P, ...}``: the thread
that reached point ``P`` waits there for ``{"go": ID}``, so a kill the test sends instead lands
exactly at that point. Points: ``journey.start``, ``identified``, ``form.filled``,
``submit.sending`` / ``submit.answered`` (the journey's submission through the outbox),
``delivery.sending`` / ``delivery.answered`` (the outbox's own delivery round), ``result.shown``,
``followup.sending`` / ``followup.answered`` (a delivery choice sent to the platform),
``print.begun`` / ``print.job`` / ``print.submitted`` / ``print.completed`` (the print journal's
durable steps), ``goodbye``, ``slot.writing`` / ``slot.written`` / ``slot.trial`` /
``slot.committed`` or ``slot.handed_over``, ``slot.settling``. The marks come from thin
wrappers around the outbox's backend and the printer's journal, installed before anything is
delivered or printed.

Every receipt the citizen is shown, and every delivery they are told is arranged (electronic:
recorded on the platform through the outbox), is appended to ``--receipts`` and fsync'd in the
session listener of that transition, before the driver (the citizen's eyes) goes on from that
screen: a kill cannot lose the record of what the citizen was told.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import logging
import os
import queue
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    BackendAdapter,
    Delivery,
)
from kiosk.compose import build
from kiosk.core import KioskCore
from kiosk.fleet.slots import ConfigSource, Layer, SlotStore
from kiosk.session.journey import Notice
from kiosk.session.machine import SessionMachine, Transition
from kiosk.session.states import Event, State

STEP_S = 30.0  # the longest one step of a journey may take
MARK_WAIT_S = 120.0  # the longest a mark waits for the test's answer
SLOT_BASE_TIMEOUT_S = 300  # a slot of version V sets session.inactivity_timeout_s = 300 + V
TEXT_VALUE = "广东省佛山市南海区九江镇"


class Channel:
    """stdout to the test (one writer at a time) and the marks' wait for their answer."""

    def __init__(self) -> None:
        self._out = threading.Lock()
        self._seq = 0
        self._waiting: dict[int, threading.Event] = {}
        self.commands: queue.Queue[dict[str, Any]] = queue.Queue()

    def send(self, **message: Any) -> None:
        line = json.dumps(message, ensure_ascii=True) + "\n"
        with self._out:
            sys.stdout.write(line)
            sys.stdout.flush()

    def event(self, name: str, **data: Any) -> None:
        self.send(event=name, **data)

    def mark(self, point: str, **data: Any) -> None:
        """Tell the test this thread is at ``point`` and wait until it says go."""
        go = threading.Event()
        with self._out:
            self._seq += 1
            mark_id = self._seq
            self._waiting[mark_id] = go
            sys.stdout.write(json.dumps({"mark": mark_id, "point": point, **data}) + "\n")
            sys.stdout.flush()
        if not go.wait(MARK_WAIT_S):
            raise RuntimeError(f"no answer to mark {point}")

    def read_stdin(self) -> None:
        for line in sys.stdin:
            message = json.loads(line)
            if "go" in message:
                with self._out:
                    event = self._waiting.pop(int(message["go"]), None)
                if event is not None:
                    event.set()
            else:
                self.commands.put(message)
        self.commands.put({"cmd": "quit"})


class MarkedBackend:
    """The outbox's backend with marks around ``submit_application``; the rest forwarded."""

    def __init__(self, inner: BackendAdapter, channel: Channel) -> None:
        self._inner = inner
        self._channel = channel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        phase = "delivery" if threading.current_thread().name.startswith("outbox") \
            else "submit"
        key = request.idempotency_key
        self._channel.mark(f"{phase}.sending", key=key)
        receipt = self._inner.submit_application(request)
        self._channel.mark(f"{phase}.answered", key=key)
        return receipt

    def set_delivery(self, application_no: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None) -> ApplicationReceipt:
        self._channel.mark("followup.sending")
        receipt = self._inner.set_delivery(application_no, holder_ref, delivery, mail_address)
        self._channel.mark("followup.answered")
        return receipt


class MarkedJournal:
    """The printer's journal with a mark after each durable step of a print."""

    def __init__(self, inner: Any, channel: Channel) -> None:
        self._inner = inner
        self._channel = channel

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def begin(self, doc_key: str) -> Any:
        entry = self._inner.begin(doc_key)
        self._channel.mark("print.begun")
        return entry

    def set_job(self, doc_key: str, job_tag: str, job_id: int) -> bool:
        ok: bool = self._inner.set_job(doc_key, job_tag, job_id)
        self._channel.mark("print.job")
        return ok

    def update(self, doc_key: str, state: str, job_id: int | None = None) -> None:
        self._inner.update(doc_key, state, job_id)
        if state in ("submitted", "completed"):
            self._channel.mark(f"print.{state}")


class Receipts:
    """The durable record of every receipt shown (outside the var dir)."""

    def __init__(self, path: Path, lane: str) -> None:
        self.path = path
        self.lane = lane
        self.journey = 0
        self.recorded: set[str] = set()  # application numbers written to the file
        self.cond = threading.Condition()

    def on_transition(self, t: Transition, _machine: SessionMachine) -> None:
        """The receipt (to the result screen) and the delivery the citizen was told of (to
        the rating screen, ``DELIVERED``)."""
        d = t.data
        receipt = d.receipt if d is not None else None
        if d is None or receipt is None:
            return
        line: dict[str, Any] = {"lane": self.lane, "journey": self.journey,
                                "application_no": receipt.application_no,
                                "idempotency_key": d.idempotency_key}
        if t.target is State.RESULT:
            holder = d.applicant
            line.update(kind="receipt", pending=receipt.application_no.startswith("P-"),
                        matter=d.matter.id if d.matter else None,
                        session=_hash(holder.ref) if holder else None)
        elif t.event is Event.DELIVERED:
            delivery = d.declared_delivery
            line.update(kind="delivery", delivery=delivery.value if delivery else None)
        else:
            return
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(line) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        with self.cond:
            self.recorded.add(f"{line['kind']}:{receipt.application_no}")
            self.cond.notify_all()

    def wait_recorded(self, kind: str, application_no: str) -> None:
        with self.cond:
            if not self.cond.wait_for(lambda: f"{kind}:{application_no}" in self.recorded,
                                      STEP_S):
                raise JourneyFailed(f"the {kind} shown was not recorded")


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


class Watch:
    """Session states and notices of the kiosk, waited on with a deadline."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core
        self.cond = threading.Condition()
        self.notices: list[Notice] = []
        core.session.subscribe(self._on_transition)
        core.journey.subscribe(self._on_notice)

    def _on_transition(self, _t: Transition, _m: SessionMachine) -> None:
        with self.cond:
            self.cond.notify_all()

    def _on_notice(self, n: Notice) -> None:
        with self.cond:
            self.notices.append(n)
            self.cond.notify_all()

    def until(self, predicate: Callable[[], bool], what: str) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, STEP_S):
                errors = [n.key for n in self.notices if n.kind == "error"][-4:]
                raise JourneyFailed(f"{what}: state {self.core.session.state.value}, "
                                    f"errors {errors}")

    def state(self, *states: State) -> None:
        self.until(lambda: self.core.session.state in states,
                   "waiting for " + "/".join(s.value for s in states))


class JourneyFailed(Exception):
    """A journey step did not happen within its deadline."""


class Driver:
    """Runs the commands of the test on one kiosk."""

    def __init__(self, core: KioskCore, channel: Channel, receipts: Receipts,
                 store: SlotStore) -> None:
        self.core = core
        self.channel = channel
        self.receipts = receipts
        self.store = store
        self.watch = Watch(core)

    def journey(self, cmd: dict[str, Any]) -> None:
        core, w, ch = self.core, self.watch, self.channel
        journey, sim = core.journey, core.simulation
        assert sim is not None
        self.receipts.journey = int(cmd["n"])
        ch.mark("journey.start")
        sim.insert_card(str(cmd["citizen"]))
        w.until(lambda: core.session.data.identified and core.session.state is State.HOME,
                "identification")
        ch.mark("identified")
        if not journey.select_matter(str(cmd["matter"])):
            raise JourneyFailed("matter not available")
        w.state(State.GUIDE)
        journey.begin()
        w.state(State.CONSENT)
        journey.give_consent()
        w.state(State.CERTIFICATES)
        journey.continue_to_form()
        w.state(State.FORM)
        self._fill_form()
        w.state(State.REVIEW)
        ch.mark("form.filled")
        journey.submit()
        w.state(State.RESULT)
        receipt = core.session.data.receipt
        assert receipt is not None
        self.receipts.wait_recorded("receipt", receipt.application_no)
        ch.mark("result.shown", application_no=receipt.application_no)
        method = Delivery.PRINT if cmd.get("print") else Delivery.ELECTRONIC
        journey.choose_delivery()
        w.state(State.DELIVERY)
        journey.deliver(method)  # electronic: the choice goes to the platform via the outbox
        w.state(State.RATING)
        self.receipts.wait_recorded("delivery", receipt.application_no)
        journey.rate("good")
        w.state(State.GOODBYE)
        ch.mark("goodbye")
        journey.finish()
        w.state(State.ATTRACT)
        sim.remove_card()
        ch.event("done", n=cmd["n"], application_no=receipt.application_no,
                 printed=method is Delivery.PRINT, delivery=method.value)

    def _fill_form(self) -> None:
        d = self.core.session.data
        prepared, matter = d.prepared, d.matter
        assert prepared is not None and matter is not None
        values = {k: "13800138000" for k in prepared.to_type}
        errors = self.core.journey.submit_form(values)
        if errors:
            for f in matter.fields:
                if f.key in errors:
                    values[f.key] = f.choices[0] if f.choices else TEXT_VALUE
            errors = self.core.journey.submit_form(values)
        if errors:
            raise JourneyFailed(f"form refused: {sorted(errors.values())}")

    def abandon(self) -> None:
        """Leave whatever journey is on screen (a failed step), back to the attract screen."""
        journey, sim = self.core.journey, self.core.simulation
        journey.cancel()
        journey.finish()
        self.watch.until(lambda: self.core.session.state is State.ATTRACT, "attract")
        if sim is not None and sim.card_in_field():
            sim.remove_card()

    def reprint(self, cmd: dict[str, Any]) -> None:
        from kiosk.documents import receipt_pdf

        printer = self.core.devices.printer
        assert printer is not None
        number = str(cmd["application_no"])
        receipt = ApplicationReceipt(application_no=number, matter_id=str(cmd["matter"]),
                                     state=ApplicationState.SUBMITTED,
                                     submitted_at=dt.datetime.now(dt.UTC))
        pdf = receipt_pdf(receipt, None, self.core.cfg)
        outcome = printer.print_document(f"{number}:result", pdf, number)
        self.channel.event("reprinted", application_no=number, state=outcome.state,
                           message_key=outcome.message_key)

    def slot(self, cmd: dict[str, Any]) -> None:
        version = int(cmd["version"])
        overlay = {"session": {"inactivity_timeout_s": SLOT_BASE_TIMEOUT_S + version}}
        layers = {"kiosk": Layer(f"kiosk:{self.core.cfg.kiosk.id}", version,
                                 _hash(json.dumps(overlay, sort_keys=True)), overlay,
                                 time.time())}
        self.channel.mark("slot.writing", version=version)
        name = self.store.write(layers)
        self.channel.mark("slot.written", version=version)
        self.store.begin_trial(name)
        self.channel.mark("slot.trial", version=version)
        if cmd.get("handover"):  # restart to take it: the next process resumes the trial
            self.store.hand_over(60.0, [])
            self.channel.mark("slot.handed_over", version=version)
        else:
            self.store.commit()
            self.channel.mark("slot.committed", version=version)
        self.channel.event("slot_done", version=version)

    def settle(self, cmd: dict[str, Any]) -> None:
        """End the health window of a resumed trial: commit it, or roll it back."""
        self.channel.mark("slot.settling")
        if cmd.get("commit"):
            self.store.commit()
        else:
            self.store.rollback()
        self.channel.event("settled")

    def drain(self, _cmd: dict[str, Any]) -> None:
        outbox = self.core.outbox
        assert outbox is not None
        end = time.monotonic() + STEP_S
        while True:
            stats = outbox.stats()
            if stats.pending == 0 and stats.needs_operator == 0 \
                    and stats.followups_pending == 0:
                break
            if time.monotonic() > end:
                break
            outbox.wake()
            threading.Event().wait(0.05)  # polling the outbox's own round: it has no event
        self.channel.event("drained", pending=stats.pending, parked=stats.parked,
                           refused=stats.refused, delivered=stats.delivered,
                           followups_pending=stats.followups_pending,
                           followups_parked=stats.followups_parked)


def booted_version(core: KioskCore) -> int | None:
    timeout = int(core.cfg.session.inactivity_timeout_s)
    return timeout - SLOT_BASE_TIMEOUT_S if timeout > SLOT_BASE_TIMEOUT_S else None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", required=True, type=Path)
    parser.add_argument("--ready-file", required=True)
    parser.add_argument("--lane", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s")
    channel = Channel()
    threading.Thread(target=channel.read_stdin, name="stdin", daemon=True).start()

    boot = ConfigSource(None, "simulation").boot()
    cfg = boot.config
    from kiosk.backend.factory import create_backend

    backend = create_backend(cfg)
    marked: Any = MarkedBackend(backend, channel)
    core = build(cfg, backend=marked)
    printer = core.devices.printer
    if printer is not None:
        printer.journal = MarkedJournal(printer.journal, channel)  # type: ignore[attr-defined]
    receipts = Receipts(args.receipts, args.lane)
    core.session.subscribe(receipts.on_transition)
    driver = Driver(core, channel, receipts, boot.store)
    slots = {k: v.version for k, v in boot.layers.items()}
    core.mark_ready(args.ready_file)
    channel.event("ready", state=core.session.state.value, resumed=boot.resumed is not None,
                  slot_version=booted_version(core), slot_layers=slots,
                  notes=boot.notes, summary=core.summary(),
                  printer=printer.status.value if printer is not None else None,
                  pending=core.outbox.pending_count() if core.outbox else None)
    try:
        while True:
            cmd = channel.commands.get()
            name = cmd["cmd"]
            if name == "quit":
                break
            try:
                getattr(driver, name)(cmd)
            except JourneyFailed as exc:
                channel.event("failed", cmd=name, n=cmd.get("n"), reason=str(exc))
                driver.abandon()
    finally:
        core.stop()
        backend_close = getattr(backend, "close", None)
        if callable(backend_close):
            backend_close()
    channel.event("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
