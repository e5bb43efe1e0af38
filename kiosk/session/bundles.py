"""Themed bundles in the citizen journey (一件事一次办): identify once, choose a bundle, fill one
form, submit every matter of it together, one bundle receipt.

A sub-flow beside the session machine (like :mod:`kiosk.session.appointments`): it opens from
home once the citizen is identified (asked for before, it opens when they are) and closes when
they leave it or at any transition of the machine. What it holds (prepared applications, the
shared form, receipts) is the session's: bound to the session that opened it, dropped at its
wipe.

Steps: ``overview`` (the bundle's matters as a list; starting it is the consent to fetch the
e-certificates) -> ``form`` (each field asked, or filled from the card and e-certificates,
once, and copied into every matter's form) -> ``review`` -> ``submitting`` -> ``receipt``.
Each matter is its own application through the journey's ordinary path: the outbox, with an
idempotency key per matter fixed when the bundle is chosen, so a retry or a restart never
doubles one. A matter that cannot be done (a certificate missing, a device down) is not sent
and a matter the platform refuses does not stop the others: the receipt lists each matter
with its state and, for a failed one, why in plain words (message keys, no personal data).
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import hashlib
import logging
import re
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.backend.bundles import Bundle, supports_bundles
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    BackendError,
    Certificate,
    FormField,
    Matter,
    PreparedApplication,
    Unavailable,
)
from kiosk.session.data import SessionData
from kiosk.session.states import Event, State

if TYPE_CHECKING:
    from kiosk.session.journey import Journey
    from kiosk.session.machine import SessionMachine, Transition

log = logging.getLogger("kiosk.bundles")

AUDITED = {"submitting_bundle": "bundle.submit"}
_RULE_RE = re.compile(r"\(([a-z_]+)\)")
# decided refusals of an instant matter's rules -> message keys
_RULE_KEYS = {"certificate_valid": "bundle_reason_certificate_invalid",
              "min_age": "bundle_reason_min_age", "area": "bundle_reason_area",
              "once_per_holder": "bundle_reason_once"}


class Step(enum.StrEnum):
    CLOSED = ""
    OVERVIEW = "overview"
    FORM = "form"
    REVIEW = "review"
    SUBMITTING = "submitting"
    RECEIPT = "receipt"


@dataclass(frozen=True)
class Outcome:
    """One matter of a submitted bundle: its receipt, or why it failed (``reason``: a message
    key; ``material``: the material's id when a certificate was missing)."""

    matter: Matter
    receipt: ApplicationReceipt | None = None
    reason: str = ""
    material: str = ""

    @property
    def failed(self) -> bool:
        return self.receipt is None or self.receipt.state is ApplicationState.REJECTED

    @property
    def pending(self) -> bool:
        """Stored by the kiosk, delivered when the platform answers again."""
        return self.receipt is not None and self.receipt.application_no.startswith("P-")


@dataclass(frozen=True)
class Blocked:
    """Why a matter of the bundle cannot be done here now (checked before submitting)."""

    reason: str  # message key
    material: str = ""


@dataclass(frozen=True)
class BundleView:
    """What the bundle screens show now (a snapshot)."""

    step: Step = Step.CLOSED
    bundle: Bundle | None = None
    matters: tuple[Matter, ...] = ()
    prepared: tuple[PreparedApplication, ...] = ()  # same order as ``matters``, once started
    certificates: tuple[Certificate, ...] = ()  # the holder's, once started
    blocked: dict[str, Blocked] = dataclasses.field(default_factory=dict)  # by matter id
    fields: tuple[FormField, ...] = ()  # the one form: each key once, shared ones first
    prefilled: dict[str, str] = dataclasses.field(default_factory=dict)
    form: dict[str, str] = dataclasses.field(default_factory=dict)
    errors: dict[str, str] = dataclasses.field(default_factory=dict)
    outcomes: tuple[Outcome, ...] = ()
    receipt_no: str = ""
    printed: str = ""  # the paper receipt: "" | printing | printed | failed
    print_error: str = ""  # message key when it failed

    @property
    def printable(self) -> bool:
        """Something to take home: at least one matter submitted or stored."""
        return self.step is Step.RECEIPT and any(not o.failed for o in self.outcomes)

    @property
    def ready(self) -> tuple[Matter, ...]:
        return tuple(m for m in self.matters if m.id not in self.blocked)

    def prepared_for(self, matter_id: str) -> PreparedApplication | None:
        return next((p for p in self.prepared if p.matter_id == matter_id), None)


def bundle_number(bundle_key: str) -> str:
    """The bundle receipt number tying its applications (stable for one bundle key)."""
    digest = hashlib.sha256(f"bundle:{bundle_key}".encode()).digest()
    return "YJ-" + base64.b32encode(digest).decode()[:10]


def blocked_reason(code: str) -> Blocked:
    """A platform blocking code (``certificate_missing:birth_cert``) in plain words."""
    kind, _, material = code.partition(":")
    if kind.startswith("certificate_"):
        return Blocked(f"bundle_reason_{kind}", material)
    if kind == "wrong_holder_kind":
        return Blocked("bundle_reason_wrong_holder")
    return Blocked("bundle_reason_other")


def refusal_reason(receipt: ApplicationReceipt) -> str:
    """Why an instant matter was refused, as a message key."""
    found = _RULE_RE.findall(receipt.decision_reason or "")
    return next((_RULE_KEYS[r] for r in found if r in _RULE_KEYS), "bundle_reason_refused")


def merge_fields(bundle: Bundle, matters: list[Matter]) -> list[FormField]:
    """Each field key once (the first matter's definition; required if any matter needs
    it), the bundle's shared fields first."""
    merged: dict[str, FormField] = {}
    for m in matters:
        for f in m.fields:
            have = merged.get(f.key)
            if have is None:
                merged[f.key] = f
            elif f.required and not have.required:
                merged[f.key] = have.model_copy(update={"required": True})
    order = {k: i for i, k in enumerate(bundle.shared_fields)}
    return sorted(merged.values(), key=lambda f: order.get(f.key, len(order)))


class BundleFlow:
    """The bundle sub-flow of one :class:`~kiosk.session.journey.Journey`."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._lock = threading.Lock()
        self._view = BundleView()
        self._bound: SessionData | None = None
        self._key: str | None = None  # the bundle's key: each matter's key derives from it
        self._wants: tuple[SessionData, str] | None = None  # chosen before identifying
        self._bundles: list[Bundle] | None = None
        self._prints = 0  # paper receipts printed of the bundle shown
        journey.machine.subscribe(self._on_transition)
        journey.machine.on_wipe(self._on_wipe)

    @property
    def machine(self) -> SessionMachine:
        return self.journey.machine

    def view(self) -> BundleView:
        with self._lock:
            return self._view

    @property
    def is_open(self) -> bool:
        return self.view().step is not Step.CLOSED

    # -- catalogue ---------------------------------------------------------------------------
    def bundles(self) -> list[Bundle]:
        """The platform's bundles (cached; a worker thread the first time); none when the
        backend offers none."""
        if self._bundles is None:
            backend = self.journey.backend
            if backend is None or not supports_bundles(backend):
                return []
            self._bundles = list(backend.list_bundles())  # type: ignore[attr-defined]
        return self._bundles

    # -- opening -----------------------------------------------------------------------------
    def choose(self, bundle_id: str) -> Future[None] | None:
        """Open the overview of a bundle from home; before identifying, the citizen is
        asked to identify and the overview opens once they are."""
        d = self.machine.data
        if self.machine.state is not State.HOME:
            return None
        if d.holder is None or not d.identified:
            with self._lock:
                self._wants = (d, bundle_id)
            self.journey.notify("info", "bundle_identify_first")
            return None
        self.machine.touch()

        def work(_session_no: int) -> None:
            backend = self.journey._need_backend()
            if not supports_bundles(backend):
                raise Unavailable("no bundles", code="bundle_not_found")
            bundle: Bundle = backend.get_bundle(bundle_id)  # type: ignore[attr-defined]
            matters = [self.journey.matter(mid) for mid in bundle.matter_ids]
            blocked = {m.id: Blocked(reasons[0]) for m in matters
                       if (reasons := self.journey.matter_blockers(m))}
            with self._lock:
                if d.ended.is_set() or d is not self.machine.data:
                    return
                self._bound, self._key, self._wants = d, uuid.uuid4().hex, None
                self._view = BundleView()
            self._set(d, step=Step.OVERVIEW, bundle=bundle, matters=tuple(matters),
                      blocked=blocked)

        return self.journey._work("loading_bundle", work)

    def start(self) -> Future[None] | None:
        """"Start" on the overview (the consent to fetch the e-certificates): prepare every
        matter and build the one form."""
        v, d = self.view(), self._bound
        if v.step is not Step.OVERVIEW or v.bundle is None or d is None or d.holder is None:
            return None
        holder, bundle = d.holder, v.bundle
        self.machine.touch()

        def work(_session_no: int) -> None:
            backend = self.journey._need_backend()
            certificates = tuple(backend.list_certificates(holder.ref))
            prepared: list[PreparedApplication] = []
            blocked = dict(v.blocked)
            for m in v.matters:
                p = backend.prepare_application(m.id, holder.ref)
                prepared.append(p)
                if p.blocking and m.id not in blocked:
                    blocked[m.id] = blocked_reason(p.blocking[0])
            ready = [m for m in v.matters if m.id not in blocked]
            if not ready:
                self._set(d, prepared=tuple(prepared), blocked=blocked)
                self.journey.notify("error", "bundle_nothing_possible")
                return
            values: dict[str, str] = {}
            for p in prepared:
                if p.matter_id in blocked:
                    continue
                for f in p.prefilled:
                    values.setdefault(f.key, f.value)
            self._set(d, step=Step.FORM, prepared=tuple(prepared), blocked=blocked,
                      certificates=certificates, fields=tuple(merge_fields(bundle, ready)),
                      prefilled=values)

        return self.journey._work("loading_certificates", work)

    # -- the one form --------------------------------------------------------------------------
    def form_values(self) -> dict[str, str]:
        v = self.view()
        return {**v.prefilled, **v.form}

    def submit_form(self, values: dict[str, str]) -> dict[str, str]:
        """Validate the one form and go to review; field errors (empty on success)."""
        from kiosk.session.journey import validate_form

        v, d = self.view(), self._bound
        if v.step is not Step.FORM or d is None:
            return {"_": "no_bundle"}
        self.machine.touch()
        typed = {k: val.strip() for k, val in values.items() if k not in v.prefilled}
        merged = {**v.prefilled, **v.form, **typed}
        errors = validate_form(list(v.fields), merged)
        form = {k: val for k, val in {**v.form, **typed}.items() if val}
        if errors:
            self._set(d, form=form, errors=errors)
        else:
            self._set(d, step=Step.REVIEW, form=form, errors={})
        return errors

    def requests(self) -> list[tuple[Matter, ApplicationRequest]]:
        """The application of each ready matter: the fields it has, copied from the one
        form; its e-certificates; its key derived from the bundle's."""
        v, d, key = self.view(), self._bound, self._key
        holder = d.holder if d else None
        if holder is None or key is None:
            return []
        values = {**v.prefilled, **v.form}
        out: list[tuple[Matter, ApplicationRequest]] = []
        for i, m in enumerate(v.matters):
            if m.id in v.blocked:
                continue
            p = v.prepared_for(m.id)
            prefilled = {f.key for f in p.prefilled} if p else set()
            form = {f.key: values[f.key] for f in m.fields
                    if values.get(f.key) and f.key not in prefilled}
            attachments = [a.certificate_identifier for a in (p.materials if p else [])
                           if a.certificate_identifier]
            out.append((m, ApplicationRequest(
                idempotency_key=f"{key}-{i}", matter_id=m.id, holder_ref=holder.ref,
                kiosk_id=self.journey.cfg.kiosk.id, form=form, attachments=attachments,
                delivery=self.journey._submit_delivery(m))))
        return out

    def submit(self) -> Future[None] | None:
        """Submit every ready matter (a repeat after a failure sends each once)."""
        v, d, key = self.view(), self._bound, self._key
        if v.step not in (Step.REVIEW, Step.RECEIPT) or d is None or key is None:
            return None
        if v.step is Step.RECEIPT and not any(o.failed and o.reason == "backend_down"
                                              for o in v.outcomes):
            return None
        requests = self.requests()
        if not self._set(d, step=Step.SUBMITTING, receipt_no=bundle_number(key)):
            return None

        def work(_session_no: int) -> str | None:
            outcomes: list[Outcome] = []
            sent = {m.id: r for m, r in requests}
            for m in v.matters:
                if m.id in v.blocked:
                    b = v.blocked[m.id]
                    outcomes.append(Outcome(m, reason=b.reason, material=b.material))
                    continue
                if d.ended.is_set():
                    return "canceled"
                outcomes.append(self._submit_one(m, sent[m.id]))
            self._set(d, step=Step.RECEIPT, outcomes=tuple(outcomes))
            failed = sum(o.failed for o in outcomes)
            return None if not failed else f"failed_{failed}_of_{len(outcomes)}"

        return self.journey._work("submitting_bundle", work)

    def _submit_one(self, matter: Matter, request: ApplicationRequest) -> Outcome:
        outbox = self.journey.outbox
        try:
            if outbox is not None:
                receipt = outbox.submit(request)
            else:
                receipt = self.journey._need_backend().submit_application(request)
        except Unavailable:
            return Outcome(matter, reason="backend_down")
        except BackendError as exc:
            log.info("bundle matter refused: %s", exc.code)
            if exc.code == "matter_blocked":
                return Outcome(matter, reason="bundle_reason_blocked")
            return Outcome(matter, reason=f"bundle_reason_{exc.code}")
        if receipt.state is ApplicationState.REJECTED:
            return Outcome(matter, receipt, reason=refusal_reason(receipt))
        return Outcome(matter, receipt)

    # -- the paper receipt ------------------------------------------------------------------
    def print_receipt(self, reasons: dict[str, str] | None = None) -> Future[None] | None:
        """Print the bundle receipt (each matter's number and state; ``reasons``: matter id
        -> why it was not submitted, in the document's language, from the screen's words).
        A second print is a new job (the printer never drops it as a duplicate)."""
        v, d = self.view(), self._bound
        if not v.printable or d is None or v.printed == "printing":
            return None
        with self._lock:
            self._prints += 1
            copy = self._prints
        if not self._set(d, printed="printing", print_error=""):
            return None
        doc_id = f"{v.receipt_no}:bundle" + (f":{copy}" if copy > 1 else "")

        def work(_session_no: int) -> str | None:
            error, code = self.journey.print_for(
                d, doc_id, lambda: bundle_receipt_pdf(v, self.journey.cfg, reasons or {}),
                "bundle receipt")
            if error is None:
                self._set(d, printed="printed", print_error="")
            elif error != "canceled":
                self._set(d, printed="failed", print_error=error)
            return code

        return self.journey._work("printing_bundle_receipt", work)

    # -- leaving ---------------------------------------------------------------------------
    def back(self) -> None:
        v, d = self.view(), self._bound
        if d is None:
            return
        if v.step is Step.REVIEW:
            self._set(d, step=Step.FORM)
        elif v.step is Step.FORM:
            self._set(d, step=Step.OVERVIEW, fields=(), prefilled={}, form={}, errors={})
        elif v.step is not Step.SUBMITTING:
            self.close()

    def close(self) -> None:
        with self._lock:
            d = self._bound
        if d is not None:
            self._reset(d)

    def finish(self) -> bool:
        """Done at the receipt: the session ends (goodbye, then the wipe)."""
        if self.view().step is not Step.RECEIPT:
            return False
        self.close()
        return self.journey.cancel()

    # -- state -------------------------------------------------------------------------------
    def _set(self, d: SessionData, **changes: Any) -> bool:
        with self._lock:
            if self._bound is not d or d.ended.is_set() or d is not self.machine.data:
                return False
            self._view = dataclasses.replace(self._view, **changes)
            step = self._view.step
        self.journey.notify("bundle", step.value)
        return True

    def _reset(self, d: SessionData | None = None) -> None:
        with self._lock:
            if d is not None and self._bound is not d:
                return
            was_open = self._bound is not None
            self._view = BundleView()
            self._bound = None
            self._key = None
            self._prints = 0
        if was_open:
            self.journey.notify("bundle", Step.CLOSED.value)

    def _on_transition(self, transition: Transition, _machine: SessionMachine) -> None:
        if (transition.event is Event.TIMEOUT and transition.source is transition.target
                and not transition.wiped):
            return  # the inactivity warning: the citizen is still here
        self._reset()
        with self._lock:
            wants = self._wants
        data = transition.data
        if (wants is not None and wants[0] is data and transition.target is State.HOME
                and data is not None and data.identified):
            self.choose(wants[1])

    def _on_wipe(self, data: SessionData) -> None:
        with self._lock:
            if self._wants is not None and self._wants[0] is data:
                self._wants = None
        self._reset(data)


def bundle_receipt_pdf(v: BundleView, cfg: Any, reasons: dict[str, str]) -> bytes:
    """The paper bundle receipt in the configured layout (zh_CN, like every document)."""
    import datetime as dt

    from kiosk.documents import STATE_TEXT, BundleItem, BundleReceiptInfo, render_bundle_receipt

    def zh(text: dict[str, str]) -> str:
        return text.get("zh_CN") or next(iter(text.values()), "")

    items = []
    for o in v.outcomes:
        r = o.receipt
        number = r.application_no if r is not None else ""
        if o.failed or r is None:  # (not failed means it has a receipt)
            why = reasons.get(o.matter.id) or (r.decision_reason if r is not None else "")
            state = "未提交" if r is None else STATE_TEXT.get(str(r.state), str(r.state))
            items.append(BundleItem(zh(o.matter.name), number, state, why or ""))
        elif o.pending:
            items.append(BundleItem(zh(o.matter.name), number, "已保存，网络恢复后自动提交"))
        else:
            items.append(BundleItem(zh(o.matter.name), number,
                                    STATE_TEXT.get(str(r.state), str(r.state)),
                                    verification_code=r.verification_code))
    times = [o.receipt.submitted_at for o in v.outcomes if o.receipt is not None]
    info = BundleReceiptInfo(
        bundle_no=v.receipt_no, bundle_name=zh(v.bundle.name) if v.bundle else "",
        submitted_at=min(times) if times else dt.datetime.now().astimezone(),
        kiosk_id=cfg.kiosk.id, items=tuple(items))
    return render_bundle_receipt(info, cfg.printer.paper)
