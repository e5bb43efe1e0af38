"""Issue 17, 一件事一次办 in the journey without UI, on real parts (the embedded platform through
the switchable backend, the kiosk's outbox): identify once, one form whose shared fields are
asked once and copied into every matter, every matter its own application with its own key,
one bundle receipt; a failing matter leaves the others standing; the platform going down
mid-bundle loses nothing and, once back, has each matter exactly once."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from kiosk.backend.contract import ApplicationState
from kiosk.backend.platform.models import ApplicationRow
from kiosk.core import KioskCore
from kiosk.documents import pdf_text
from kiosk.session.bundles import BundleView, Step
from kiosk.session.states import State
from tests.kiosk.session.test_journey import Watcher, personal_leftovers

HUANG, HUANG_NAME = "440605198507201614", "黄志强"
LIANG = "440605197209052513"  # his social security card is revoked
LEE = "810000199006151232"  # no household register among her e-certificates
PHONE = "13800138000"
NEWBORN = ["newborn-birth-cert", "birth-registration", "newborn-medical-insurance",
           "newborn-social-card"]


def service(core: KioskCore) -> Any:
    return core.backend.inner.service  # type: ignore[union-attr]


def step(w: Watcher, core: KioskCore, wanted: Step) -> BundleView:
    w.until(lambda: core.journey.bundles.view().step is wanted, f"bundle step {wanted.value!r}")
    return core.journey.bundles.view()


def identify(core: KioskCore, w: Watcher, number: str) -> None:
    core.journey.handle_code(service(core).issue_identity_code(number))
    w.identified()
    w.state(State.HOME)


def forms(core: KioskCore, keys: list[str]) -> dict[str, dict[str, str]]:
    with Session(service(core).engine) as s:
        rows = s.scalars(select(ApplicationRow).where(ApplicationRow.idempotency_key.in_(keys)))
        return {r.matter_id: dict(r.form) for r in rows}


def open_form(core: KioskCore, w: Watcher, bundle_id: str, number: str) -> BundleView:
    flow = core.journey.bundles
    core.journey.start_session()
    w.state(State.HOME)
    assert flow.choose(bundle_id) is None  # not identified yet: asked to identify first
    w.notice("bundle_identify_first")
    identify(core, w, number)  # ... and the overview opens by itself once identified
    overview = step(w, core, Step.OVERVIEW)
    assert overview.bundle is not None and overview.bundle.id == bundle_id
    flow.start()
    return step(w, core, Step.FORM)


def test_newborn_bundle_one_form_every_matter_once_one_receipt(core: KioskCore) -> None:
    w = Watcher(core)
    flow = core.journey.bundles
    assert {b.id for b in flow.bundles()} == {"newborn", "retirement"}
    form = open_form(core, w, "newborn", HUANG)
    assert [m.id for m in form.matters] == NEWBORN and form.blocked == {}
    keys = [f.key for f in form.fields]
    assert len(keys) == len(set(keys))  # each field once
    assert keys[:4] == ["name", "id_number", "child_name", "phone"]  # shared ones first
    assert form.prefilled["child_name"] == "黄梓睿"  # from the birth certificate
    assert form.prefilled["name"] == HUANG_NAME  # from the card
    assert "phone" not in form.prefilled  # typed once, for three matters
    # every matter's materials come from the e-certificates
    for p in form.prepared:
        assert any(a.certificate_identifier for a in p.materials)
    assert flow.submit_form({"phone": "12"}) == {"phone": "field_invalid_phone"}
    assert flow.view().step is Step.FORM
    assert flow.submit_form({"phone": PHONE}) == {}
    step(w, core, Step.REVIEW)
    requests = flow.requests()
    sent_keys = [r.idempotency_key for _m, r in requests]
    assert len(set(sent_keys)) == 4
    flow.submit()
    receipt = step(w, core, Step.RECEIPT)
    assert receipt.receipt_no.startswith("YJ-")
    assert [o.matter.id for o in receipt.outcomes] == NEWBORN
    assert not any(o.failed or o.pending for o in receipt.outcomes)
    states = {o.matter.id: o.receipt.state for o in receipt.outcomes if o.receipt}
    assert states["newborn-birth-cert"] is ApplicationState.RESULT_ISSUED
    assert states["birth-registration"] is ApplicationState.ACCEPTED
    # the phone typed once is in every matter that asks for it, exactly once each
    stored = forms(core, sent_keys)
    assert {mid for mid, f in stored.items() if f.get("phone") == PHONE} == set(NEWBORN[1:])
    assert all(service(core).application_count(k) == 1 for k in sent_keys)
    assert flow.submit() is None  # nothing failed: no second round
    numbers = [o.receipt.application_no for o in receipt.outcomes if o.receipt]
    assert flow.finish()
    w.state(State.GOODBYE)
    assert flow.view() == BundleView()
    assert personal_leftovers(core, [HUANG, HUANG_NAME, PHONE, "黄梓睿"]) == []
    assert numbers and not any(n in repr(vars(core.journey.bundles)) for n in numbers)


def test_a_failing_matter_leaves_the_others_standing(core: KioskCore) -> None:
    """Liang's social security card is revoked: the instant insurance record is refused and
    says why; his pension claim and fund withdrawal stand (he types the bank account the
    revoked card cannot give)."""
    w = Watcher(core)
    flow = core.journey.bundles
    form = open_form(core, w, "retirement", LIANG)
    assert form.blocked == {}
    assert "bank_account" not in form.prefilled
    errors = flow.submit_form({"phone": PHONE})
    assert errors == {"bank_account": "field_required", "social_card_no": "field_required"}
    assert flow.submit_form({"bank_account": "6217000011112222",
                             "social_card_no": "D440600001"}) == {}  # the phone was kept
    step(w, core, Step.REVIEW)
    flow.submit()
    receipt = step(w, core, Step.RECEIPT)
    by_id = {o.matter.id: o for o in receipt.outcomes}
    refused = by_id["sb-record-print"]
    assert refused.failed and refused.reason == "bundle_reason_certificate_invalid"
    assert refused.receipt is not None and refused.receipt.state is ApplicationState.REJECTED
    for mid in ("pension-claim", "housing-fund-retire"):
        assert not by_id[mid].failed
        assert by_id[mid].receipt.state is ApplicationState.ACCEPTED  # type: ignore[union-attr]
    w.notices.clear()
    core.journey.cancel()
    w.state(State.GOODBYE)


def test_a_missing_certificate_is_said_before_and_in_the_receipt(core: KioskCore) -> None:
    """Lee has no household register e-certificate: the pension claim (which needs it) is
    not sent and the receipt says which certificate is missing; the other two are."""
    w = Watcher(core)
    flow = core.journey.bundles
    form = open_form(core, w, "retirement", LEE)
    blocked = form.blocked["pension-claim"]
    assert (blocked.reason, blocked.material) == ("bundle_reason_certificate_missing", "hukou")
    assert [m.id for m in form.ready] == ["sb-record-print", "housing-fund-retire"]
    assert flow.submit_form({"phone": PHONE}) == {}
    step(w, core, Step.REVIEW)
    assert [m.id for m, _r in flow.requests()] == ["sb-record-print", "housing-fund-retire"]
    flow.submit()
    receipt = step(w, core, Step.RECEIPT)
    by_id = {o.matter.id: o for o in receipt.outcomes}
    assert by_id["pension-claim"].failed and by_id["pension-claim"].receipt is None
    assert by_id["pension-claim"].material == "hukou"
    assert by_id["sb-record-print"].receipt.state is ApplicationState.RESULT_ISSUED  # type: ignore[union-attr]
    assert not by_id["housing-fund-retire"].failed


def test_platform_down_mid_bundle_loses_nothing_and_doubles_nothing(core: KioskCore) -> None:
    """The platform goes away right after it stored the first matter: the citizen gets the
    first receipt and pending numbers for the rest; once it is back, the outbox delivers
    each remaining matter exactly once."""
    w = Watcher(core)
    flow = core.journey.bundles
    open_form(core, w, "newborn", HUANG)
    assert flow.submit_form({"phone": PHONE}) == {}
    step(w, core, Step.REVIEW)
    keys = [r.idempotency_key for _m, r in flow.requests()]

    def cut_after_first(*_args: Any) -> None:  # the platform stored one, then goes away
        core.backend.cut()  # type: ignore[union-attr]

    event.listen(ApplicationRow, "after_insert", cut_after_first, once=True)
    try:
        flow.submit()
        receipt = step(w, core, Step.RECEIPT)
    finally:
        if event.contains(ApplicationRow, "after_insert", cut_after_first):
            event.remove(ApplicationRow, "after_insert", cut_after_first)
    first, *rest = receipt.outcomes
    assert not first.pending and first.receipt is not None
    assert all(o.pending and not o.failed for o in rest)  # stored, delivered later
    assert [service(core).application_count(k) for k in keys] == [1, 0, 0, 0]
    flow.submit()  # the citizen presses again: nothing failed, nothing sent twice
    core.backend.restore()  # type: ignore[union-attr]
    outbox = core.journey.outbox
    assert outbox is not None
    deadline = time.monotonic() + 30  # poll with a deadline (the outbox backs off)
    while outbox.pending_count() and time.monotonic() < deadline:
        outbox.deliver_pending()
        threading.Event().wait(0.05)
    assert outbox.pending_count() == 0
    assert [service(core).application_count(k) for k in keys] == [1, 1, 1, 1]
    assert set(forms(core, keys)) == set(NEWBORN)


def test_the_bundle_receipt_is_printed_with_each_matter_and_why_one_failed(
        make_config: Any) -> None:
    """Lee's bundle receipt on paper, through cupsd to the printer emulator: the bundle's
    number, each submitted matter's application number and state, the pension claim not
    submitted with the reason the screen gave; no name or ID number. A second print is a
    new job; a printer that is down says so and prints nothing."""
    from kiosk.compose import running

    # a job the printer cannot finish is given up after 8 s here (60 s by default)
    with running(make_config(printer__job_timeout_s="8")) as core:
        _print_bundle_receipt(core)


def _print_bundle_receipt(core: KioskCore) -> None:
    from tests.kiosk.session.conftest import sim

    w = Watcher(core)
    flow = core.journey.bundles
    world = sim(core)
    open_form(core, w, "retirement", LEE)
    assert flow.print_receipt() is None  # nothing submitted yet: nothing to print
    assert flow.submit_form({"phone": PHONE}) == {}
    step(w, core, Step.REVIEW)
    flow.submit()
    receipt = step(w, core, Step.RECEIPT)
    assert receipt.printable and receipt.printed == ""
    before = len(world.printed())
    why = "缺少电子证照：户口簿"
    assert flow.print_receipt({"pension-claim": why}) is not None
    w.until(lambda: flow.view().printed == "printed", "bundle receipt printed")
    assert world.wait_printed(before + 1, 30)
    paper = world.printed()[-1].read_bytes()
    assert paper == core.journey.last_document
    text = pdf_text(paper)
    assert receipt.receipt_no in text
    for o in receipt.outcomes:
        if o.receipt is not None:
            assert o.receipt.application_no in text
    assert "未提交" in text and why in text
    assert "已办结" in text or "已出结果" in text  # the instant insurance record
    assert LEE not in text and PHONE not in text  # no personal data on the receipt
    # printed again: a second job, not dropped as a duplicate of the first
    assert flow.print_receipt() is not None
    w.until(lambda: flow.view().printed == "printed" and len(world.printed()) == before + 2,
            "the second copy")
    # out of paper: the citizen is told, nothing is printed
    world.paper(out=True)
    w.notices.clear()
    assert flow.print_receipt() is not None
    w.until(lambda: flow.view().printed == "failed", "the print refused")
    error = flow.view().print_error
    assert "paper" in error, error
    w.notice(error)
    assert len(world.printed()) == before + 2
    core.journey.cancel()
    w.state(State.GOODBYE)
    assert flow.view() == BundleView()
