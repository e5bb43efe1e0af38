"""Issue 17, 告知承诺制 in the journey without UI, on real parts (the embedded platform, the
outbox): a material without an e-certificate is offered as a commitment, read, signed,
confirmed; it replaces the material in the application; the signature lives in the session's
memory only, travels sealed in the outbox, and the session's wipe overwrites it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.backend.platform.commitments import CommitmentRow
from kiosk.core import KioskCore
from kiosk.session.commitments import CommitmentView, Step
from kiosk.session.states import State
from tests.appliance.test_privacy_audit import files_under, scan
from tests.kiosk.backend.test_commitments import signature_png
from tests.kiosk.session.test_journey import Watcher

CHEN = "440605195803121228"
RESIDENCE, TEACHER = "residence-permit", "teacher-qualification"


def to_certificates(core: KioskCore, w: Watcher, matter_id: str, language: str = "zh_CN") -> None:
    service = core.backend.inner.service  # type: ignore[union-attr]
    core.session.data.language = language
    core.journey.handle_code(service.issue_identity_code(CHEN))
    w.identified()
    assert core.journey.select_matter(matter_id)
    core.journey.begin()
    w.state(State.CONSENT)
    core.journey.give_consent()
    w.state(State.CERTIFICATES)


def sign(core: KioskCore, material_id: str, png: bytes) -> None:
    flow = core.journey.commitments
    assert flow.open(material_id)
    assert flow.view().step is Step.READ
    assert flow.to_pad() and flow.view().step is Step.SIGN
    assert flow.signature_drawn(png) and flow.view().step is Step.CONFIRM
    assert flow.confirm()
    assert flow.view() == CommitmentView()


def to_review(core: KioskCore, w: Watcher) -> None:
    assert core.journey.continue_to_form()
    w.state(State.FORM)
    assert core.journey.submit_form({"phone": "13800138000"}) == {}
    w.state(State.REVIEW)


def test_a_commitment_replaces_the_missing_material(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.commitments
    to_certificates(core, w, RESIDENCE, "zh_HK")
    assert [m.id for m in flow.offered()] == ["residence_proof"]
    # no paper allowed for it: without signing, the journey does not go on
    assert not core.journey.continue_to_form()
    w.notice("commitment_required")
    assert core.session.state is State.CERTIFICATES
    assert flow.open("residence_proof")
    v = flow.view()
    assert v.language == "zh_HK" and v.text.startswith("本人鄭重承諾")
    assert not flow.open("id_card")  # not a commitment material
    flow.to_pad()
    # a dot is no signature: refused with a plain message, still on the pad
    assert not flow.signature_drawn(signature_png(8, 8))
    assert flow.view().step is Step.SIGN and flow.view().error == "signature_invalid"
    png = signature_png()
    assert flow.signature_drawn(png) and flow.confirm()
    held = core.session.data.commitments["residence_proof"]
    assert bytes(held.signature_png) == png and held.text_version == "GD-CN-JZ-2024.2"
    assert held.language == "zh_HK"
    to_review(core, w)
    core.journey.submit()
    w.state(State.RESULT)
    receipt = core.session.data.receipt
    assert receipt is not None and receipt.committed_materials == ["residence_proof"]


def test_optional_commitment_can_be_withdrawn(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.commitments
    to_certificates(core, w, TEACHER, "en")
    sign(core, "no_criminal_record", signature_png())
    assert flow.signed() == ["no_criminal_record"]
    held = core.session.data.commitments["no_criminal_record"]
    assert flow.withdraw("no_criminal_record")
    assert flow.signed() == [] and held.signature_png == bytearray()
    assert core.journey.continue_to_form()  # paper allowed: the citizen brings it
    w.state(State.FORM)


def test_signature_sealed_in_the_outbox_never_plain_on_disk(core: KioskCore) -> None:
    """The platform is down: the application with its signature waits in the outbox, sealed;
    no PNG, no signature bytes anywhere in the kiosk's files; delivered later, the platform
    has the commitment."""
    w = Watcher(core)
    to_certificates(core, w, RESIDENCE)
    png = signature_png()
    sign(core, "residence_proof", png)
    to_review(core, w)
    core.backend.cut()  # type: ignore[union-attr]
    core.journey.submit()
    w.state(State.RESULT)
    receipt = core.session.data.receipt
    key = core.session.data.idempotency_key
    assert receipt is not None and receipt.application_no.startswith("P-")
    needles = {"signature": png[40:88], "signature-idat": png[png.index(b"IDAT"):][:48]}
    import base64
    needles["signature/base64"] = base64.b64encode(png)[60:120]
    var = Path(core.cfg.var_dir)
    assert scan(files_under(var), needles) == []
    outbox_db = next(p for p in files_under(var) if p.name.startswith("outbox")
                     and p.suffix in (".sqlite", ".db"))
    with sqlite3.connect(outbox_db) as db:
        (payload,) = db.execute("SELECT payload FROM outbox WHERE idempotency_key=?",
                                (key,)).fetchone()
    assert payload and b"IHDR" not in payload and b"commitment" not in payload
    core.backend.restore()  # type: ignore[union-attr]
    assert core.journey.outbox.deliver_pending() == 1
    service = core.backend.inner.service  # type: ignore[union-attr]
    with Session(service.engine) as s:
        rows = list(s.scalars(select(CommitmentRow)))
    assert [r.signature_png for r in rows] == [png]


def test_the_wipe_overwrites_the_signature(core: KioskCore) -> None:
    w = Watcher(core)
    to_certificates(core, w, TEACHER)
    png = signature_png()
    flow = core.journey.commitments
    sign(core, "no_criminal_record", png)
    held = core.session.data.commitments["no_criminal_record"]
    buffer = held.signature_png
    # a second signature drawn, not confirmed, when the citizen leaves
    flow.open("no_criminal_record")
    flow.to_pad()
    flow.signature_drawn(signature_png(600))
    pending = flow._pending
    assert pending is not None
    core.journey.cancel()
    w.state(State.GOODBYE)
    assert buffer == bytearray() and not any(pending)
    assert "commitments" not in core.session.data.personal_values()
    assert flow.view() == CommitmentView() and flow._pending is None
    assert png[40:88] not in repr(vars(core.journey)).encode()


def test_a_language_switch_shows_the_text_again_and_drops_the_drawn_signature(
        core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.commitments
    to_certificates(core, w, TEACHER)
    assert flow.open("no_criminal_record", "en")
    assert flow.view().text.startswith("I solemnly declare")
    flow.to_pad()
    assert flow.signature_drawn(signature_png())
    drawn = flow._pending
    assert flow.set_language("zh_CN")
    v = flow.view()
    assert v.step is Step.READ and v.language == "zh_CN" and v.text.startswith("本人郑重承诺")
    assert flow._pending is None and drawn is not None and not any(drawn)
    assert not flow.confirm()  # nothing drawn under this text yet
    flow.to_pad()
    flow.signature_drawn(signature_png())
    assert flow.confirm()
    assert core.session.data.commitments["no_criminal_record"].language == "zh_CN"
