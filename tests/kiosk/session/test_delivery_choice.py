"""A delivery chosen after submission reaches the platform (issue 11, item 3): a citizen told
"it will be mailed" has ``delivery=mail`` and the address on the platform, also when the line
was down at submission and when choosing. Real parts: the embedded platform, the outbox."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.backend.contract import Delivery
from kiosk.backend.platform.models import ApplicationRow
from kiosk.core import KioskCore
from kiosk.session.states import State
from tests.kiosk.session.test_journey import Watcher

CITIZEN = "44060519480118102X"
ADDRESS = "广东省佛山市南海区桂城街道南海大道北 88 号"


def _to_review(core: KioskCore, w: Watcher, matter_id: str) -> None:
    service = core.backend.inner.service  # type: ignore[union-attr]
    core.journey.handle_code(service.issue_identity_code(CITIZEN))
    w.identified()
    assert core.journey.select_matter(matter_id)
    core.journey.begin()
    w.state(State.CONSENT)
    core.journey.give_consent()
    w.state(State.CERTIFICATES)
    core.journey.continue_to_form()
    prepared, m = core.session.data.prepared, core.session.data.matter
    assert prepared is not None and m is not None
    form: dict[str, str] = {}
    for f in m.fields:
        if f.key in prepared.to_type:
            form[f.key] = (f.choices[0] if f.choices else
                           "13800138000" if f.input in ("phone", "digits") else "补办")
    assert core.journey.submit_form(form) == {}
    w.state(State.REVIEW)


def _platform_row(core: KioskCore, key: str) -> Any:
    service = core.backend.inner.service  # type: ignore[union-attr]
    with Session(service.engine) as s:
        return s.scalar(select(ApplicationRow).where(ApplicationRow.idempotency_key == key))


@pytest.mark.parametrize("line_down", [False, True])
def test_mail_choice_is_recorded_on_the_platform(core: KioskCore, line_down: bool) -> None:
    w = Watcher(core)
    _to_review(core, w, "social-card-replace")  # delivered by mail or at a counter
    if line_down:
        core.backend.cut()  # type: ignore[union-attr]
    core.journey.submit()
    w.state(State.RESULT)
    key = core.session.data.idempotency_key
    assert key is not None
    assert core.journey.choose_delivery()
    w.state(State.DELIVERY)
    core.journey.deliver(Delivery.MAIL, mail_address=ADDRESS)
    w.state(State.RATING)  # the citizen is told it will be mailed...
    if line_down:
        assert _platform_row(core, key) is None
        core.backend.restore()  # type: ignore[union-attr]
        assert core.journey.outbox.deliver_pending() == 1
    row = _platform_row(core, key)  # ...and the platform says so too
    assert row is not None
    assert (row.delivery, row.mail_address) == ("mail", ADDRESS)
    assert core.journey.outbox.stats().followups_pending == 0


def test_refused_choice_is_told_and_nothing_promised(core: KioskCore) -> None:
    w = Watcher(core)
    _to_review(core, w, "social-card-replace")
    core.journey.submit()
    w.state(State.RESULT)
    core.journey.choose_delivery()
    w.state(State.DELIVERY)
    core.journey.deliver(Delivery.PRINT)  # not offered for this matter: the platform refuses
    w.notice("delivery_not_offered")
    assert core.session.state is State.DELIVERY  # the citizen can choose again
