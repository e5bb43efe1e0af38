"""The whole journey without UI, on real parts: the ID-card simulator on a pty, the simulated
camera with face verification and liveness, the embedded reference platform, and printing
through a private cupsd to the AppSocket emulator."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiosk.backend.contract import Delivery
from kiosk.core import KioskCore
from kiosk.session.journey import Journey, Notice, validate_form
from kiosk.session.states import State
from tests.kiosk.session.conftest import sim
from tests.kiosk.session.factories import matter

DEADLINE = 60.0


class Watcher:
    """Collects notices and waits for session states with a deadline (no sleeps)."""

    def __init__(self, core: KioskCore) -> None:
        self.core = core
        self.cond = threading.Condition()
        self.notices: list[Notice] = []
        self.states: list[State] = []
        core.session.subscribe(self._on_transition)
        core.journey.subscribe(self._on_notice)

    def _on_transition(self, t: Any, _m: Any) -> None:
        with self.cond:
            self.states.append(t.target)
            self.cond.notify_all()

    def _on_notice(self, n: Notice) -> None:
        with self.cond:
            self.notices.append(n)
            self.cond.notify_all()

    def until(self, predicate: Callable[[], bool], what: str,
              timeout: float = DEADLINE) -> None:
        with self.cond:
            if not self.cond.wait_for(predicate, timeout):
                raise AssertionError(f"timed out waiting for {what}; state "
                                     f"{self.core.session.state}, notices "
                                     f"{[(n.kind, n.key) for n in self.notices[-6:]]}")

    def state(self, state: State, timeout: float = DEADLINE) -> None:
        self.until(lambda: self.core.session.state is state, f"state {state}", timeout)

    def identified(self) -> None:
        self.until(lambda: self.core.session.data.identified, "identification")

    def notice(self, key: str, timeout: float = DEADLINE) -> Notice:
        self.until(lambda: any(n.key == key for n in self.notices), f"notice {key}", timeout)
        return next(n for n in self.notices if n.key == key)


# Not the kiosk's own state: the embedded reference platform's database (the government's
# records, which hold the citizens by nature) and the emulated printer's output (the paper).
NOT_KIOSK_STATE = ("platform.sqlite", "printer-spool")


def personal_leftovers(core: KioskCore, needles: list[str]) -> list[str]:
    """Where, among the session's objects and the kiosk's var dir, ``needles`` remain."""
    found = []
    values = repr(core.session.data.personal_values()) + repr(vars(core.journey))
    for needle in needles:
        if needle in values:
            found.append(f"session:{needle}")
    for path in Path(core.cfg.var_dir).rglob("*"):
        if path.is_file() and not any(part in str(path) for part in NOT_KIOSK_STATE):
            blob = path.read_bytes()
            for needle in needles:
                if needle.encode() in blob or needle.encode("utf-16-le") in blob:
                    found.append(f"{path}:{needle}")
    return found


def test_card_face_certificate_free_matter_printed(core: KioskCore, tmp_path: Path) -> None:
    w = Watcher(core)
    journey: Journey = core.journey
    world = sim(core)
    assert core.devices.card_reader is not None and core.devices.camera is not None
    assert core.devices.printer is not None
    world.present_face("chen")
    world.insert_card("chen")
    w.state(State.FACE_CONSENT)
    journey.give_face_consent()
    w.state(State.HOME)  # identified first; now choose the matter
    assert core.session.data.identified and core.session.data.face_verified
    assert journey.select_matter("sb-record-print")
    w.state(State.GUIDE)
    journey.begin()
    w.state(State.CONSENT)
    journey.give_consent()
    w.state(State.CERTIFICATES)
    prepared = core.session.data.prepared
    assert prepared is not None and any(m.waived for m in prepared.materials)
    journey.continue_to_form()
    w.state(State.FORM)
    values = journey.form_values()
    assert values, "the form is pre-filled from the card and the certificates"
    missing = {k: "13800138000" for k in prepared.to_type}
    assert journey.submit_form(missing) == {}
    w.state(State.REVIEW)
    journey.submit()
    journey.submit()  # a double tap submits once
    w.state(State.RESULT)
    receipt = core.session.data.receipt
    assert receipt is not None and receipt.application_no
    journey.choose_delivery()
    w.state(State.DELIVERY)
    before = len(world.printed())
    journey.deliver(Delivery.PRINT)
    w.state(State.RATING)
    assert world.wait_printed(before + 1, 30)
    printed = world.printed()[-1].read_bytes()
    assert printed.startswith(b"%PDF")
    journey.rate("good")
    w.state(State.GOODBYE)
    assert core.session.data.personal_values() == {}
    assert personal_leftovers(core, ["陈美玲", "440605195803121228"]) == []
    journey.finish()
    w.state(State.ATTRACT)
    # the printed result carries the platform's code: scanning it at any kiosk verifies it
    codes = printed_codes(printed, tmp_path)
    assert len(codes) == 1 and codes[0].startswith("GZDOC1.")
    journey.handle_code(codes[0])
    assert w.notice("document_authentic").params["title"]
    forged = codes[0][:-6] + ("AAAAAA" if not codes[0].endswith("AAAAAA") else "BBBBBB")
    journey.handle_code(forged)
    w.notice("document_forged")


def printed_codes(pdf: bytes, tmp_path: Path) -> list[str]:
    import zxingcpp
    from PIL import Image

    from kiosk.documents import pdf_to_png

    out = []
    for page in pdf_to_png(pdf, tmp_path / "printed", dpi=150):
        with Image.open(page) as img:
            out += [code.text for code in zxingcpp.read_barcodes(img)]
    return out


def test_expired_card_is_refused_with_a_plain_message(core: KioskCore) -> None:
    w = Watcher(core)
    sim(core).insert_card("liang")
    w.notice("card_expired")
    assert core.session.data.holder is None


def test_impostor_face_fails_and_offers_identify_again(core: KioskCore) -> None:
    w = Watcher(core)
    sim(core).present_face("huang")
    sim(core).insert_card("chen")
    w.state(State.FACE_CONSENT)
    core.journey.give_face_consent()
    w.state(State.IDENTIFY)
    assert core.session.data.holder is None
    assert core.session.data.last_error is not None
    assert core.session.data.last_error.startswith(("face_", "liveness"))


def test_identity_code_identifies_and_a_replay_is_refused(core: KioskCore) -> None:
    w = Watcher(core)
    backend = core.backend
    service = backend.inner.service  # type: ignore[union-attr]
    code = service.issue_identity_code("44060519480118102X")
    core.journey.handle_code(code)
    w.identified()
    assert core.session.state is State.HOME
    core.journey.cancel()
    w.state(State.GOODBYE)
    core.journey.finish()
    w.state(State.ATTRACT)
    core.journey.handle_code(code)
    w.notice("code_replayed")
    assert core.session.data.holder is None
    w.until(lambda: sum(1 for n in w.notices if n.kind == "idle") >= 2, "audit written")
    audit = core.journey.audit
    assert audit.verify() >= 2
    text = audit.path.read_text(encoding="utf-8")
    assert '"outcome":"code_replayed"' in text and '"event":"identify.code"' in text
    assert "44060519480118102X" not in text and code not in text


def test_backend_down_at_submit_gives_a_pending_receipt(core: KioskCore) -> None:
    w = Watcher(core)
    service = core.backend.inner.service  # type: ignore[union-attr]
    core.journey.handle_code(service.issue_identity_code("44060519480118102X"))
    w.identified()
    assert core.journey.select_matter("elderly-allowance")
    core.journey.begin()
    w.state(State.CONSENT)
    core.journey.give_consent()
    w.state(State.CERTIFICATES)
    core.journey.continue_to_form()
    prepared = core.session.data.prepared
    assert prepared is not None
    form = {k: "13800138000" for k in prepared.to_type}
    errors = core.journey.submit_form(form)
    if errors:  # some fields are choices or other inputs: fill them from the matter
        m = core.session.data.matter
        assert m is not None
        for f in m.fields:
            if f.key in errors:
                form[f.key] = f.choices[0] if f.choices else "广东省佛山市南海区九江镇"
        assert core.journey.submit_form(form) == {}
    w.state(State.REVIEW)
    core.backend.cut()  # type: ignore[union-attr]
    core.journey.submit()
    w.state(State.RESULT)
    receipt = core.session.data.receipt
    assert receipt is not None and receipt.application_no.startswith("P-")
    core.backend.restore()  # type: ignore[union-attr]
    assert core.journey.outbox.deliver_pending() == 1
    assert core.journey.outbox.pending_count() == 0


def test_form_validation_keys() -> None:
    m = matter()
    assert validate_form(m.fields, {"name": "x", "phone": "12"}) == {
        "phone": "field_invalid_phone"}
    assert validate_form(m.fields, {"phone": "13800138000"}) == {"name": "field_required"}


def test_printer_out_of_paper_keeps_the_session(core: KioskCore) -> None:
    printer = core.devices.printer
    assert printer is not None
    sim(core).paper(out=True)
    outcome = printer.print_document("paper-test", b"%PDF-1.4\n" + b"0" * 200_000, "t",
                                     deadline_s=8)
    assert outcome.state in ("timeout", "aborted")
    assert outcome.message_key


def test_the_face_check_runs_in_the_face_process_and_ends_with_the_kiosk(
        core: KioskCore) -> None:
    """face.worker: process (the default): dlib works in a child process, so the kiosk's
    own threads (the UI's) keep running while a face is encoded; the child is the kiosk's
    and goes with it."""
    import os

    w = Watcher(core)
    world = sim(core)
    world.present_face("chen")
    world.insert_card("chen")
    w.state(State.FACE_CONSENT)
    core.journey.give_face_consent()
    w.state(State.HOME)
    assert core.session.data.face_verified
    worker = core.journey._face_worker  # the journey's own face process
    assert worker is not None and worker.pid not in (None, os.getpid())
    pid = worker.pid
    core.journey.stop()
    assert worker.pid is None
    assert pid is not None and not Path(f"/proc/{pid}").exists()
