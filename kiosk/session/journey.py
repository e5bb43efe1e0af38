"""The journey controller: device events and citizen intents in, backend work on worker
threads, session events out.

Screens call the intent methods (they return at once); results arrive as session transitions
and :class:`Notice` objects, which the UI marshals to its own thread. A result that comes back
after the session it belongs to has ended is dropped.

A :class:`Journey` receives what it uses (the session machine, the :class:`~kiosk.devices.
Devices` by role, the backend, the outbox, the audit log, the configuration), not the kiosk
around it: it can be built and tested from simulators alone. Device events arrive at
:meth:`Journey.on_device_event` as the typed events of :mod:`hardware.events`, matched by type.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from hardware.base import Deadline, DeviceError, DeviceEvent, StatusChange
from hardware.events import (
    CardInserted,
    CardRead,
    CardReadFailed,
    CardRemoved,
    CodeScanned,
    FrameSourceOffline,
    FrameSourceOnline,
    JobProgress,
    ScanRejected,
)
from kiosk.audit import AuditError, AuditLog
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    BackendAdapter,
    BackendError,
    CardIdentity,
    Delivery,
    FormField,
    Matter,
    Rating,
    Unavailable,
)
from kiosk.config.schema import KioskConfig
from kiosk.devices import Devices
from kiosk.identity.cards import card_number_valid
from kiosk.privacy import pseudonym
from kiosk.session.appointments import AUDITED as APPOINTMENTS_AUDITED
from kiosk.session.appointments import AppointmentFlow
from kiosk.session.bundles import AUDITED as BUNDLES_AUDITED
from kiosk.session.bundles import BundleFlow
from kiosk.session.commitments import CommitmentFlow, missing
from kiosk.session.data import SessionData
from kiosk.session.machine import InvalidTransition, SessionMachine, StaleSession, Transition
from kiosk.session.states import IDENTIFY_FROM, Event, State

if TYPE_CHECKING:
    from kiosk.backend.outbox import Outbox
    from kiosk.face.check import FaceChecker
    from kiosk.face.worker import FaceWorker

log = logging.getLogger("kiosk.journey")

# how long stop() waits for the platform to hear of ended sessions (the http backend may
# take 4 tries x 3 s to give up on a network that drops packets)
END_DRAIN_S = 10.0

# the notice of an identification refused while the kiosk starts no journey
REFUSED = "journey_refused"

# work keys whose outcome goes to the audit log (outcome codes only, no personal data)
AUDITED = {
    "checking_identity": "identify.card",
    "checking_code": "identify.code",
    "checking_enterprise": "identify.enterprise",
    "verifying_face": "identify.face",
    "checking_document": "document.verify",
    "submitting": "application.submit",
    "printing": "result.print",
    **APPOINTMENTS_AUDITED,
    **BUNDLES_AUDITED,
}


@dataclass(frozen=True)
class Notice:
    """Something the citizen should be told. ``key`` is a message key for the UI's
    translations; ``params`` never hold personal data."""

    kind: str  # busy | idle | error | info | progress
    key: str
    params: dict[str, Any] = field(default_factory=dict)


NoticeListener = Callable[[Notice], None]


class CardFields(Protocol):
    """What the journey reads of a card (an ``IdCardData``, or a test's stand-in)."""

    @property
    def card_type(self) -> str: ...

    @property
    def name(self) -> str: ...

    @property
    def id_number(self) -> str: ...

    @property
    def valid_from(self) -> dt.date: ...

    @property
    def valid_to(self) -> dt.date | None: ...

_PATTERNS = {
    "digits": r"^\d+$",
    "phone": r"^1\d{10}$|^0\d{2,3}-?\d{7,8}$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
}


def validate_form(fields: list[FormField], values: dict[str, str]) -> dict[str, str]:
    """Field key -> message key of what is wrong; empty when the form can be submitted."""
    errors: dict[str, str] = {}
    for f in fields:
        value = values.get(f.key, "").strip()
        if not value:
            if f.required:
                errors[f.key] = "field_required"
            continue
        pattern = f.pattern or _PATTERNS.get(f.input)
        if pattern and not re.fullmatch(pattern, value):
            errors[f.key] = f"field_invalid_{f.input}"
        elif f.input == "choice" and f.choices and value not in f.choices:
            errors[f.key] = "field_invalid_choice"
    return errors


class Journey:
    """Glue between devices, backend and the session machine (no Kivy).

    ``outbox`` is ``None`` when there is no backend, or when the outbox could not open its key
    (``outbox_error`` says why): submissions then go straight to the platform.
    """

    def __init__(self, *, session: SessionMachine, devices: Devices,
                 backend: BackendAdapter | None, audit: AuditLog, cfg: KioskConfig,
                 outbox: Outbox | None = None, outbox_error: str | None = None) -> None:
        self.machine = session
        self.devices = devices
        self.backend = backend
        self.audit = audit
        self.cfg = cfg
        self.outbox = outbox
        self.outbox_error = outbox_error
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="journey")
        self._listeners: list[NoticeListener] = []
        self._busy = threading.Lock()
        self._stopped = threading.Event()
        self._face_lock = threading.Lock()
        self._face_worker: FaceWorker | None = None  # the face process, once a check ran
        self._matters: list[Matter] | None = None
        self.last_document: bytes | None = None  # what was last printed (demo/test inspection)
        # ending platform-side holder sessions: network work, never on the caller's thread
        # (the UI's, for "Leave"), on a worker of its own so citizen work never queues
        # behind a platform that does not answer; drained on stop within end_drain_s
        self._ending = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journey-end")
        self._ends: set[Future[None]] = set()
        self._ends_lock = threading.Lock()
        self.end_drain_s = END_DRAIN_S
        self.machine.subscribe(self._on_transition)
        self.machine.on_wipe(self._on_wipe)
        self.appointments = AppointmentFlow(self)  # counter appointments (预约办)
        self.commitments = CommitmentFlow(self)  # signed commitments (告知承诺制)
        self.bundles = BundleFlow(self)  # themed bundles (一件事一次办)

    # -- lifecycle ------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop; device events from now on are ignored, a citizen still here has their
        session ended like any other (wiped, their face step cancelled, the platform told),
        and every ended session is told to the platform within ``end_drain_s``. The outbox
        and the devices are the composition root's to stop (:mod:`kiosk.compose`)."""
        self._stopped.set()
        if self.machine.state is not State.ATTRACT:
            self._dispatch(Event.TIMEOUT)
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._face_lock:
            worker, self._face_worker = self._face_worker, None
        if worker is not None:
            worker.close()
        self._drain_ends()

    def _drain_ends(self) -> None:
        with self._ends_lock:
            pending = set(self._ends)
        _, not_done = wait(pending, timeout=self.end_drain_s)
        self._ending.shutdown(wait=False, cancel_futures=True)
        if not_done:
            log.warning("%d platform session(s) not ended by shutdown; the platform "
                        "expires them", len(not_done))

    # -- notices --------------------------------------------------------------------------
    def subscribe(self, listener: NoticeListener) -> None:
        self._listeners.append(listener)

    def notify(self, kind: str, key: str, **params: Any) -> None:
        notice = Notice(kind, key, params)
        for listener in list(self._listeners):
            try:
                listener(notice)
            except Exception:
                log.exception("notice listener failed")

    # -- helpers --------------------------------------------------------------------------
    def _dispatch(self, event: Event, session_no: int | None = None, **payload: Any) -> bool:
        """Dispatch unless the session changed meanwhile or the event no longer applies."""
        try:  # the session is checked under the machine's lock, with the transition
            self.machine.dispatch(event, in_session=session_no, **payload)
        except StaleSession:
            log.info("dropping %s for an ended session", event)
            return False
        except InvalidTransition as exc:
            log.info("ignored: %s", exc)
            return False
        return True

    def _work(self, key: str, fn: Callable[[int], str | None]) -> Future[None]:
        """Run ``fn(session_no)`` on a worker with busy/idle notices and error mapping.
        ``fn`` may return an outcome code for the audit log (``None``: ok)."""
        session_no = self.machine.session_no
        self.notify("busy", key)

        def run() -> None:
            outcome = "ok"
            try:
                outcome = fn(session_no) or "ok"
            except BackendError as exc:
                outcome = exc.code
                log.warning("%s: backend said %s", key, exc.code)
                if session_no == self.machine.session_no:
                    code = "backend_down" if isinstance(exc, Unavailable) else exc.code
                    self.notify("error", code)
            except DeviceError as exc:
                outcome = exc.detail
                log.warning("%s: device said %s/%s", key, exc.code, exc.detail)
                if session_no == self.machine.session_no:
                    self.notify("error", exc.detail)
            except Exception:
                outcome = "internal_error"
                log.exception("%s failed", key)
                if session_no == self.machine.session_no:
                    self.notify("error", "internal_error")
            finally:
                if key in AUDITED:
                    self._audit(AUDITED[key], outcome)
                self.notify("idle", key)

        return self._pool.submit(run)

    def _audit(self, event: str, outcome: str) -> None:
        try:
            self.audit.append(event, outcome, session=self.machine.session_no)
        except (OSError, AuditError):
            log.exception("audit record not written")

    def _need_backend(self) -> BackendAdapter:
        if self.backend is None:
            raise Unavailable("no backend")
        return self.backend

    def matter_blockers(self, matter: Matter) -> list[str]:
        """Message keys of the reasons a matter cannot be done now (empty: available)."""
        reasons = [f"{name}_down" for name in matter.devices if not self.devices.usable(name)]
        if self.backend is None:
            reasons.append("backend_down")
        return reasons

    # -- catalogue ------------------------------------------------------------------------
    def matters(self) -> list[Matter]:
        """The matter catalogue (cached; call from a worker thread the first time)."""
        if self._matters is None:
            self._matters = self._need_backend().list_matters()
        return self._matters

    def matter(self, matter_id: str) -> Matter:
        for m in self.matters():
            if m.id == matter_id:
                return m
        raise KeyError(matter_id)

    # -- intents (called from the UI) ----------------------------------------------------
    def start_session(self) -> bool:
        return self._dispatch(Event.START)

    def touch(self) -> None:
        self.machine.touch()

    def select_matter(self, matter_id: str) -> bool:
        matter = self.matter(matter_id)
        blockers = self.matter_blockers(matter)
        if blockers:
            self.notify("error", "matter_unavailable", reasons=blockers)
            return False
        return self._dispatch(Event.SELECT_MATTER, matter=matter)

    def begin(self) -> bool:
        return self._dispatch(Event.BEGIN)

    def back(self) -> bool:
        return self._dispatch(Event.BACK)

    def cancel(self) -> bool:
        return self._dispatch(Event.CANCEL)

    def finish(self) -> bool:
        return self._dispatch(Event.FINISH)

    def give_face_consent(self) -> bool:
        return self._dispatch(Event.FACE_CONSENT_GIVEN)

    def decline_face(self) -> bool:
        return self._dispatch(Event.FACE_DECLINED)

    def give_consent(self) -> Future[None]:
        d = self.machine.data  # the session that asked: its holder, not the next one's
        holder, matter = d.applicant, d.matter

        def work(session_no: int) -> None:
            backend = self._need_backend()
            if matter is None or holder is None or d.ended.is_set():
                return
            certificates = backend.list_certificates(holder.ref)
            prepared = backend.prepare_application(matter.id, holder.ref)
            self._dispatch(Event.CONSENT_GIVEN, session_no, certificates=certificates,
                           prepared=prepared)

        return self._work("loading_certificates", work)

    def decline_consent(self) -> bool:
        return self._dispatch(Event.CONSENT_DECLINED)

    def continue_to_form(self) -> bool:
        if self.machine.state is State.CERTIFICATES and missing(self.machine.data):
            self.notify("error", "commitment_required")  # no paper: sign, or stop here
            return False
        return self._dispatch(Event.CONTINUE)

    def form_values(self) -> dict[str, str]:
        """Pre-filled values merged with what the citizen typed so far."""
        d = self.machine.data
        values = {p.key: p.value for p in d.prepared.prefilled} if d.prepared else {}
        values.update(d.form)
        return values

    def submit_form(self, values: dict[str, str]) -> dict[str, str]:
        """Validate and move to review; returns field errors (empty on success)."""
        d = self.machine.data
        if d.matter is None:
            return {"_": "no_matter"}
        merged = {**self.form_values(), **{k: v.strip() for k, v in values.items()}}
        errors = validate_form(d.matter.fields, merged)
        if not errors:
            self._dispatch(Event.FORM_DONE, form=merged)
        return errors

    def submit(self) -> Future[None] | None:
        d = self.machine.data
        holder = d.applicant
        if self.machine.state is not State.REVIEW or d.matter is None or holder is None:
            return None
        key = d.idempotency_key or uuid.uuid4().hex
        if not self._dispatch(Event.SUBMIT, idempotency_key=key):
            return None
        matter = d.matter
        materials = d.prepared.materials if d.prepared else []
        attachments = [m.certificate_identifier for m in materials if m.certificate_identifier]
        delivery = self._submit_delivery(matter)
        self.machine.update(d, declared_delivery=delivery)
        request = ApplicationRequest(
            idempotency_key=key, matter_id=matter.id, holder_ref=holder.ref,
            kiosk_id=self.cfg.kiosk.id, form=dict(d.form), attachments=attachments,
            delivery=delivery, commitments=self.commitments.for_request(d, matter, key))

        def work(session_no: int) -> None:
            try:
                if self.outbox is not None:
                    receipt: ApplicationReceipt = self.outbox.submit(request)
                else:
                    receipt = self._need_backend().submit_application(request)
            except BackendError as exc:
                self._dispatch(Event.SUBMIT_FAILED, session_no, error=exc.code)
                raise
            self._dispatch(Event.SUBMITTED, session_no, receipt=receipt)

        return self._work("submitting", work)

    def _submit_delivery(self, matter: Matter) -> Delivery:
        """How the result is to be delivered, as declared at submission: printed here when
        the printer can, else an electronic copy, a counter, and mail last (it needs an
        address, which the delivery screen asks for)."""
        usable = self.devices.usable("printer")
        for choice in (Delivery.PRINT, Delivery.ELECTRONIC, Delivery.COUNTER, Delivery.MAIL):
            if choice in matter.delivery and (choice is not Delivery.PRINT or usable):
                return choice
        return matter.delivery[0]

    def choose_delivery(self) -> bool:
        return self._dispatch(Event.CHOOSE_DELIVERY)

    def deliver(self, method: Delivery, mail_address: str | None = None) -> Future[None] | None:
        """Deliver the result as the citizen chose: the choice is recorded on the platform
        (through the outbox, so it is kept and sent later when the line is down) before the
        citizen is told "it will be mailed"; printing prints here. Everything is bound to
        the session that asked (``d``), never to whichever session is live when it runs."""
        d = self.machine.data
        if method is not Delivery.PRINT:
            address = (mail_address or "").strip() or None
            if method is Delivery.MAIL and address is None:
                self.notify("error", "mail_address_required")
                return None

            def record(session_no: int) -> str | None:
                self._record_delivery(d, method, address)
                self._dispatch(Event.DELIVERED, session_no, delivery=method,
                               mail_address=address)
                return None

            return self._work("recording_delivery", record)

        def work(session_no: int) -> str | None:
            receipt = d.receipt
            if receipt is None or d.ended.is_set():
                return None
            self._record_delivery(d, Delivery.PRINT, None)
            pdf = self._document_for(d, receipt)
            printer = self.devices.printer
            if printer is None or not printer.status.usable:
                self.notify("error", "printer_down")
                return "printer_down"
            if d.ended.is_set():
                return None  # the citizen left while the document was fetched: print nothing
            outcome = printer.print_document(f"{receipt.application_no}:result", pdf,
                                             f"{receipt.application_no}")
            self.last_document = pdf
            if outcome.state in ("completed", "duplicate"):
                self._dispatch(Event.DELIVERED, session_no, delivery=Delivery.PRINT)
                return None
            self.notify("error", outcome.message_key or f"print_{outcome.state}")
            return f"print_{outcome.state}"

        return self._work("printing", work)

    def print_for(self, d: SessionData, doc_id: str, make_pdf: Callable[[], bytes],
                  title: str) -> tuple[str | None, str | None]:
        """Print a document of session ``d`` (on the caller's worker): ``(None, None)`` when
        printed, else ``(message key, outcome code)``: ``canceled`` when the citizen left
        (nothing printed), ``printer_down``, or the printer's own key (the citizen is told
        with an ``error`` notice)."""
        if d.ended.is_set():
            return "canceled", "canceled"
        printer = self.devices.printer
        if printer is None or not printer.status.usable:
            self.notify("error", "printer_down")
            return "printer_down", "printer_down"
        pdf = make_pdf()
        if d.ended.is_set():
            return "canceled", "canceled"  # the citizen left meanwhile: print nothing
        outcome = printer.print_document(doc_id, pdf, title)
        self.last_document = pdf
        if outcome.ok:
            return None, None
        error = outcome.message_key or f"print_{outcome.state}"
        self.notify("error", error)
        return error, f"print_{outcome.state}"

    def _record_delivery(self, d: SessionData, method: Delivery,
                         mail_address: str | None) -> None:
        """Tell the platform how the result of session ``d`` is delivered, unless that is
        what it already has. Raises the platform's refusal (the citizen sees it and may
        choose another way); a platform that cannot be reached now gets it later from the
        outbox."""
        receipt, holder, key = d.receipt, d.applicant, d.idempotency_key
        if receipt is None or holder is None or d.ended.is_set():
            return
        if d.declared_delivery is method and mail_address is None:
            return
        if self.outbox is not None and key is not None:
            self.outbox.set_delivery(key, holder.ref, method, mail_address)
        else:
            self._need_backend().set_delivery(receipt.application_no, holder.ref, method,
                                              mail_address)
        self.machine.update(d, declared_delivery=method)

    def _document_for(self, d: SessionData, receipt: ApplicationReceipt) -> bytes:
        backend = self._need_backend()
        holder = d.applicant  # the session that submitted it
        if receipt.result_available and holder is not None:
            return backend.result_document(receipt.application_no, holder.ref)
        from kiosk.documents import receipt_pdf

        return receipt_pdf(receipt, d.matter, self.cfg)

    def rate(self, score: str, reasons: list[str] | None = None) -> Future[None]:
        d = self.machine.data
        receipt, holder = d.receipt, d.applicant

        def work(session_no: int) -> None:
            if (receipt is not None and holder is not None
                    and not receipt.application_no.startswith("P-")):
                try:
                    self._need_backend().rate(Rating(application_no=receipt.application_no,
                                                     score=score,
                                                     reasons=reasons or []), holder.ref)
                except BackendError as exc:  # a lost rating must not hold the citizen up
                    log.warning("rating not recorded: %s", exc.code)
            self._dispatch(Event.RATED, session_no, score=score)

        return self._work("rating", work)

    # -- identification ------------------------------------------------------------------
    def handle_card(self, card: CardFields) -> Future[None] | None:
        """A card was read (an ``IdCardData``); check it and identify the holder. Whether its
        number is valid is the core's rule (:func:`kiosk.identity.cards.card_number_valid`),
        not the reader's."""
        if self.machine.state not in IDENTIFY_FROM:
            return None
        if self.machine.state is State.ATTRACT and not self._start_identifying():
            return None
        today = dt.date.today()
        if not card_number_valid(card.card_type, card.id_number):
            self.notify("error", "card_invalid")
            return None
        if card.valid_to is not None and card.valid_to < today:
            self.notify("error", "card_expired")
            return None

        def work(session_no: int) -> None:
            backend = self._need_backend()
            identity = CardIdentity(card_type=card.card_type, name=card.name,
                                    id_number=card.id_number, valid_from=card.valid_from,
                                    valid_to=card.valid_to)
            holder = backend.check_identity(identity)
            log.info("card accepted for %s", pseudonym(holder.ref))
            needs_face = self._face_required()
            if needs_face is None:
                self.notify("error", "face_unavailable")
                return
            self._dispatch(Event.CARD_ACCEPTED, session_no, holder=holder, card=identity,
                           needs_face=needs_face)

        return self._work("checking_identity", work)

    def identify_enterprise(self, uscc: str) -> Future[None] | None:
        """Legal-person identity: the identified representative names the enterprise by its
        unified social credit code. Sets ``data.enterprise`` and notifies
        ``info/enterprise_identified`` (IDENTIFIED does not apply once the person has moved
        on to consent, so the enterprise is stored beside the person, under the lock)."""
        d = self.machine.data
        holder = d.holder
        if holder is None or not d.identified:
            return None
        code = uscc.strip().upper()

        def work(session_no: int) -> None:
            enterprise = self._need_backend().check_enterprise(code, holder.ref)
            if not self.machine.update(d, enterprise=enterprise):
                return  # that session ended meanwhile: the result belongs to nobody now
            self.notify("info", "enterprise_identified")

        return self._work("checking_enterprise", work)

    def _start_identifying(self) -> bool:
        """Leave the attract state for an identification. False while the kiosk starts no
        journey (out of service, maintenance, restarting: the session machine's refusal,
        checked under its lock): the ``error``/``journey_refused`` notice says why (a reason
        code, nothing of the citizen), and nothing reaches the platform."""
        reason: str | None = None
        try:
            self.machine.dispatch(Event.START)
        except InvalidTransition as exc:
            reason = getattr(exc, "reason", None) or "not_started"
        if reason is None and self.machine.state is not State.ATTRACT:
            return True
        reason = reason or "not_started"  # wiped at once (a gate without a refusal hook)
        log.info("identification refused: %s", reason)
        self._audit("journey.refused", reason)
        self.notify("error", REFUSED, reason=reason)
        return False

    def _face_required(self) -> bool | None:
        """True: verify the face; False: no face step; None: needed but impossible now."""
        if not self.cfg.face.enabled:
            return False
        if not self.devices.usable("camera"):
            return None
        return True

    def handle_code(self, data: str) -> Future[None] | None:
        """A QR code was scanned: a document's verification code at any time, an identity
        code where identification is possible; anything else is refused plainly."""
        from kiosk.identity.codes import looks_like_identity_code
        from kiosk.identity.doccodes import looks_like_doc_code

        if looks_like_doc_code(data):
            def check(session_no: int) -> str | None:
                result = self._need_backend().verify_document_code(data)
                if result.authentic and result.valid:
                    self.notify("info", "document_authentic", title=result.title)
                    return None
                if result.authentic:
                    self.notify("error", "document_not_valid", title=result.title)
                    return "document_not_valid"
                self.notify("error", "document_forged")
                return "document_forged"

            return self._work("checking_document", check)
        if self.machine.state not in IDENTIFY_FROM:
            return None
        if not looks_like_identity_code(data):
            self.notify("error", "code_unknown")
            return None
        if self.machine.state is State.ATTRACT and not self._start_identifying():
            return None

        def work(session_no: int) -> None:
            holder = self._need_backend().verify_identity_code(data)
            self._dispatch(Event.IDENTIFIED, session_no, holder=holder)

        return self._work("checking_code", work)

    def _face_checker(self) -> FaceChecker:
        """The face check: in the face process (``face.worker: process``, started on the
        first check and kept for the next citizens) or on this worker thread."""
        cfg = self.cfg.face
        if cfg.worker == "thread":
            from kiosk.face.check import FaceCheck

            return FaceCheck(cfg)
        with self._face_lock:
            if self._face_worker is None:
                from kiosk.face.worker import FaceWorker

                self._face_worker = FaceWorker(cfg)
            return self._face_worker

    def prestart_face(self) -> None:
        """Start the face process on a thread of its own (``kiosk run``, once ready): the
        first citizen then does not wait for its models. Nothing when faces are checked on
        a thread, or off, or there is no camera."""
        cfg = self.cfg.face
        if not cfg.enabled or cfg.worker != "process" or self.devices.camera is None:
            return
        checker = self._face_checker()

        def start() -> None:
            from kiosk.face.worker import FaceWorker, FaceWorkerError

            if not isinstance(checker, FaceWorker) or self._stopped.is_set():
                return
            try:
                checker.start()
            except (FaceWorkerError, OSError) as exc:  # the first check tries again
                log.warning("face process not started: %s", exc)

        threading.Thread(target=start, name="face-prestart", daemon=True).start()

    def _start_face(self, transition: Transition) -> None:
        """Verify the face for the session ``transition`` happened in: the worker reads and
        stores only that session's data, and that session's end (``data.ended``, set by its
        wipe) cancels the camera wait at once."""
        d, bound = transition.data, transition.session_no
        if d is None or d.ended.is_set():
            return

        def work(session_no: int) -> str | None:
            holder = d.holder
            if session_no != bound or holder is None or d.ended.is_set():
                return "canceled"
            camera = self.devices.camera
            if camera is None:
                self._dispatch(Event.FACE_FAILED, bound, error="face_unavailable")
                return "face_unavailable"
            reference = self._need_backend().reference_photo(holder.ref)
            if reference is None:
                self._dispatch(Event.FACE_FAILED, bound, error="no_reference_photo")
                return "no_reference_photo"
            photo = bytearray(reference)
            del reference
            if not self.machine.update(d, reference_photo=photo):
                photo[:] = bytes(len(photo))  # the citizen has gone: keep nothing of theirs
                return "canceled"
            cfg = self.cfg.face
            deadline = Deadline(cfg.deadline_s, d.ended)

            def on_challenge(challenge: str | None) -> None:
                camera.on_challenge(challenge)
                if challenge is not None:
                    self.notify("progress", f"challenge_{challenge}")

            result = self._face_checker().run(
                camera.frames(), photo, deadline, on_challenge if cfg.liveness else None,
                lambda step: self.notify("progress", f"face_{step}"),
                # the face screen's gate words, challenge and progress (no personal data)
                lambda fb: self.notify("face", "face_feedback", gate=fb.gate,
                                       challenge=fb.challenge, step=fb.step, steps=fb.steps))
            if result.match:
                self._dispatch(Event.FACE_VERIFIED, bound)
                return None
            if result.error in ("liveness_failed", "reference_unusable"):
                # a reference with no usable face: the path without face, a plain message
                error = ("liveness_failed" if result.error == "liveness_failed"
                         else "no_reference_photo")
                self._dispatch(Event.FACE_FAILED, bound, error=error)
                return error
            error = f"face_{result.error or 'mismatch'}"
            self._dispatch(Event.FACE_FAILED, bound, error=error)
            return error

        self._work("verifying_face", work)

    # -- events from devices and the machine ---------------------------------------------
    def on_device_event(self, event: DeviceEvent) -> None:
        """The one sink of every device (and of the camera's QR decoder): events are matched
        by type. Status changes become ``status`` notices (``device_status``, with the device
        and its new status: no personal data) that screens showing what a device can do
        refresh on; matters that need a device check it when chosen."""
        if self._stopped.is_set():
            return
        match event:
            case CardRead(card=card):
                self.handle_card(card)
            case CardInserted():
                self.machine.touch()  # someone is at the reader: not idle
            case CardRemoved():
                self.notify("info", "card_removed")
            case CardReadFailed(code=code):
                if self.machine.state in IDENTIFY_FROM:
                    self.notify("error", f"card_{code}")
            case CodeScanned(data=data):
                self.handle_code(data)
            case ScanRejected():
                self.notify("error", "code_unreadable")
            case StatusChange(device=device, status=status, changed=changed):
                if "status" in changed:
                    log.info("%s is %s", device, status.value)
                    self.notify("status", "device_status", device=device, status=status.value)
            case JobProgress(job_id=job_id, state=state):
                log.info("print job %s: %s", job_id, state)
            case FrameSourceOnline() | FrameSourceOffline():
                pass  # the camera's status change says the same, and is handled above
            case _:
                log.warning("unhandled device event %s", type(event).__name__)

    def _on_transition(self, transition: Transition, machine: SessionMachine) -> None:
        if transition.target is State.FACE and transition.source is not State.FACE:
            self._start_face(transition)

    def _on_wipe(self, data: SessionData) -> None:
        """A journey ended (its data is already unreachable and its ``ended`` set): have the
        platform end its holder sessions, on the ending worker; the caller never waits."""
        self.last_document = None
        backend = self.backend
        if backend is None:
            return
        for holder in (data.holder, data.enterprise):
            if holder is None:
                continue
            try:
                future = self._ending.submit(_end_session, backend, holder.ref)
            except RuntimeError:  # stopped: nothing may wait for the network any more
                log.warning("end_session: not sent, the kiosk is stopping")
                continue
            with self._ends_lock:
                self._ends.add(future)
            future.add_done_callback(self._forget_end)

    def _forget_end(self, future: Future[None]) -> None:
        with self._ends_lock:
            self._ends.discard(future)


def _end_session(backend: BackendAdapter, holder_ref: str) -> None:
    """Tell the platform a holder session is over (worker thread; failures only logged:
    the platform expires what it is not told)."""
    try:
        backend.end_session(holder_ref)
    except BackendError as exc:
        log.warning("end_session: %s", exc.code)
    except Exception:  # a broken adapter must not kill the ending worker
        log.exception("end_session failed")
