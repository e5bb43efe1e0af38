"""告知承诺制 in the citizen journey: a signed commitment instead of a missing material.

On the certificates step, a material the matter lets a commitment replace and that no valid
e-certificate covers is offered as "sign a commitment instead": the citizen reads the text
(in the session's language), signs on the pad, confirms. The signature PNG is personal data:
it lives in the session's memory only (:class:`HeldCommitment` in ``SessionData.commitments``,
a ``bytearray`` the wipe overwrites), travels sealed in the outbox with the application
(:meth:`CommitmentFlow.for_request`), and is never logged or written in the plain.

A sub-flow beside the session machine, like appointments: it opens on the certificates
screen and closes at any transition of the machine. Changes are told as
``Notice("commitment", <step>)``; screens read :meth:`CommitmentFlow.view`.
"""

from __future__ import annotations

import datetime as dt
import enum
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kiosk.backend import commitments as digests
from kiosk.backend.contract import MAX_SIGNATURE_PNG, Material, Matter, SignedCommitment
from kiosk.session.data import SessionData

if TYPE_CHECKING:
    from kiosk.session.journey import Journey
    from kiosk.session.machine import SessionMachine, Transition

LANGUAGES = ("zh_CN", "zh_HK", "en")


class Step(enum.StrEnum):
    CLOSED = ""
    READ = "read"  # read the text, then sign
    SIGN = "sign"  # the signature pad
    CONFIRM = "confirm"  # look at the signature and the text once more, confirm


@dataclass
class HeldCommitment:
    """A commitment signed in this session (memory only; :meth:`wipe` zeroes the PNG)."""

    material_id: str
    text_version: str
    language: str
    signed_at: dt.datetime
    signature_png: bytearray = field(repr=False)  # never in a repr (logs, tracebacks)

    def wipe(self) -> None:
        self.signature_png[:] = bytes(len(self.signature_png))
        self.signature_png.clear()


@dataclass(frozen=True)
class CommitmentView:
    """What the commitment screen shows now (a snapshot; no signature bytes in it)."""

    step: Step = Step.CLOSED
    material: Material | None = None
    text: str = ""
    language: str = "zh_CN"
    error: str = ""  # message key of the last refusal


class CommitmentError(ValueError):
    """A signature the kiosk does not take (``key`` is the citizen's message key)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def commitment_text(material: Material, language: str) -> str:
    """The text in ``language`` (zh_CN when the catalogue has no translation)."""
    return material.commitment_text.get(language) or material.commitment_text.get("zh_CN", "")


def offered(d: SessionData) -> list[Material]:
    """Materials of the session's matter a commitment may replace and no certificate covers."""
    matter, prepared = d.matter, d.prepared
    if matter is None or prepared is None:
        return []
    covered = {a.material_id for a in prepared.materials if a.certificate_identifier}
    return [m for m in matter.materials
            if m.commitment_allowed and m.commitment_version and m.id not in covered]


def missing(d: SessionData) -> list[Material]:
    """Offered materials without paper that are not signed yet: the journey cannot go on."""
    return [m for m in offered(d) if m.required and not m.paper_allowed
            and m.id not in d.commitments]


class CommitmentFlow:
    """The commitment sub-flow of one :class:`~kiosk.session.journey.Journey`."""

    def __init__(self, journey: Journey) -> None:
        self.journey = journey
        self._lock = threading.Lock()
        self._view = CommitmentView()
        self._bound: SessionData | None = None
        self._pending: bytearray | None = None  # drawn, not yet confirmed
        journey.machine.subscribe(self._on_transition)
        journey.machine.on_wipe(self._on_wipe)

    @property
    def machine(self) -> SessionMachine:
        return self.journey.machine

    def view(self) -> CommitmentView:
        with self._lock:
            return self._view

    @property
    def is_open(self) -> bool:
        return self.view().step is not Step.CLOSED

    def offered(self) -> list[Material]:
        return offered(self.machine.data)

    def signed(self) -> list[str]:
        """Material ids signed in the live session."""
        return list(self.machine.data.commitments)

    # -- steps -----------------------------------------------------------------------------
    def open(self, material_id: str, language: str | None = None) -> bool:
        """Show the commitment text of an offered material in ``language`` (the screen's;
        else the session's)."""
        d = self.machine.data
        material = next((m for m in offered(d) if m.id == material_id), None)
        if material is None:
            return False
        language = language or d.language
        language = language if language in LANGUAGES else "zh_CN"
        return self._set(d, CommitmentView(Step.READ, material,
                                           commitment_text(material, language), language))

    def set_language(self, language: str) -> bool:
        """The citizen switched language: the text follows; a signature drawn under the
        other text is dropped (what is signed is the text shown when signing)."""
        v = self.view()
        if v.material is None or language == v.language or language not in LANGUAGES:
            return False
        self._discard_pending()
        step = Step.READ if v.step is Step.CONFIRM else v.step
        return self._set(self._bound, CommitmentView(step, v.material,
                                                     commitment_text(v.material, language),
                                                     language))

    def to_pad(self) -> bool:
        v = self.view()
        if v.step not in (Step.READ, Step.CONFIRM):
            return False
        self._discard_pending()  # "sign again": the drawn one is dropped
        return self._set(self._bound, CommitmentView(Step.SIGN, v.material, v.text,
                                                     v.language))

    def signature_drawn(self, png: bytes | bytearray) -> bool:
        """The pad's PNG: checked, then the citizen confirms. A bad one stays on the pad."""
        v, d = self.view(), self._bound
        if v.step is not Step.SIGN or v.material is None or d is None:
            return False
        try:
            check_png(png)
        except CommitmentError as exc:
            self._set(d, CommitmentView(Step.SIGN, v.material, v.text, v.language, exc.key))
            return False
        with self._lock:
            self._pending = bytearray(png)
        return self._set(d, CommitmentView(Step.CONFIRM, v.material, v.text, v.language))

    def confirm(self) -> bool:
        """Keep the signed commitment in the session; it replaces the material."""
        v, d = self.view(), self._bound
        with self._lock:
            png, self._pending = self._pending, None
        if v.step is not Step.CONFIRM or v.material is None or d is None or png is None:
            return False
        material = v.material
        held = HeldCommitment(material.id, material.commitment_version or "", v.language,
                              dt.datetime.now(dt.UTC).replace(microsecond=0), png)
        old = d.commitments.get(material.id)
        if not self.machine.update(d, commitments={**d.commitments, material.id: held}):
            held.wipe()
            return False
        if old is not None:
            old.wipe()
        self.journey._audit("commitment.signed", "ok")
        self.close()
        return True

    def withdraw(self, material_id: str) -> bool:
        """Take a signed commitment back (the citizen will bring the paper)."""
        d = self.machine.data
        held = d.commitments.get(material_id)
        if held is None:
            return False
        rest = {k: v for k, v in d.commitments.items() if k != material_id}
        if self.machine.update(d, commitments=rest):
            held.wipe()
        self.journey.notify("commitment", "withdrawn")
        return True

    def close(self) -> None:
        self._discard_pending()
        self._set(self._bound, CommitmentView())

    # -- submission ------------------------------------------------------------------------
    def for_request(self, d: SessionData, matter: Matter,
                    idempotency_key: str) -> list[SignedCommitment]:
        """The session's commitments for the request of ``matter``, bound to its key."""
        out: list[SignedCommitment] = []
        materials = {m.id: m for m in matter.materials}
        for held in d.commitments.values():
            material = materials.get(held.material_id)
            if material is None:
                continue
            png = bytes(held.signature_png)
            out.append(SignedCommitment(
                material_id=held.material_id, text_version=held.text_version,
                language=held.language, signed_at=held.signed_at,
                signature_png=digests.encode_png(png),
                digest=digests.digest(
                    matter_id=matter.id, material_id=held.material_id,
                    idempotency_key=idempotency_key, text_version=held.text_version,
                    language=held.language, text=commitment_text(material, held.language),
                    signed_at=held.signed_at, signature_png=png)))
        return out

    # -- plumbing --------------------------------------------------------------------------
    def _set(self, d: SessionData | None, view: CommitmentView) -> bool:
        if d is None or d is not self.machine.data or d.ended.is_set():
            return False
        with self._lock:
            self._view, self._bound = view, (d if view.step is not Step.CLOSED else None)
        self.journey.notify("commitment", view.step.value or "closed")
        return True

    def _discard_pending(self) -> None:
        with self._lock:
            png, self._pending = self._pending, None
        if png is not None:
            png[:] = bytes(len(png))

    def _on_transition(self, transition: Transition, machine: SessionMachine) -> None:
        if self.is_open:
            self._discard_pending()
            with self._lock:
                self._view, self._bound = CommitmentView(), None
            self.journey.notify("commitment", "closed")

    def _on_wipe(self, data: SessionData) -> None:
        self._discard_pending()
        with self._lock:
            if self._bound is data:
                self._view, self._bound = CommitmentView(), None


def check_png(png: bytes | bytearray) -> None:
    """Refuse what is no signature PNG the platform would take (message keys)."""
    try:
        digests.decode_png(digests.encode_png(png), MAX_SIGNATURE_PNG)
    except digests.SignatureInvalid as exc:
        key = "signature_too_large" if exc.code == "signature_too_large" else "signature_invalid"
        raise CommitmentError(key) from exc
