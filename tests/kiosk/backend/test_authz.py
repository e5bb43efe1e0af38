"""The platform's authorization model: sessions bound to kiosks, applications to sessions.

Issue 11 items 3 (delivery recorded on the platform), 5, 6 and 7 at the service level, on
SQLite and PostgreSQL alike; the HTTP face of the same rules is in test_http_authz.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.backend.contract import (
    ApplicationState,
    BackendError,
    Delivery,
    InvalidRequest,
    NotFound,
    Rating,
    Refused,
)
from kiosk.backend.embedded import EmbeddedBackend
from kiosk.backend.platform.db import make_engine
from kiosk.backend.platform.models import ApplicationRow
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.helpers import ENTERPRISES, PEOPLE, card, request

A, B = "kiosk-a", "kiosk-b"
PHONE = {"phone": "13800138000"}
ADDRESS = "广东省佛山市南海区桂城街道南海大道1号"


def error_of(call: Callable[[], Any]) -> BackendError:
    with pytest.raises(BackendError) as info:
        call()
    return info.value


def same_answer(first: BackendError, second: BackendError) -> bool:
    return (type(first), first.code, first.message, first.http_status) == \
        (type(second), second.code, second.message, second.http_status)


def stored(platform: PlatformService, application_no: str) -> ApplicationRow:
    with Session(platform.engine) as s:
        row = s.scalar(select(ApplicationRow)
                       .where(ApplicationRow.application_no == application_no))
        assert row is not None
        return row


# -- item 5: holder sessions bound to the kiosk that opened them --------------------------
def test_other_kiosk_gets_the_unknown_reference_answer(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=A).ref
    cert = platform.list_certificates(ref, kiosk_id=A)[0]
    unknown = "Z" * 32
    calls: list[Callable[[str], Any]] = [
        lambda r: platform.list_certificates(r, kiosk_id=B),
        lambda r: platform.reference_photo(r, kiosk_id=B),
        lambda r: platform.certificate_document(r, cert.identifier, kiosk_id=B),
        lambda r: platform.prepare_application("sb-record-print", r, kiosk_id=B),
        lambda r: platform.book_appointment("birth-registration", r, kiosk_id=B),
        lambda r: platform.check_enterprise(ENTERPRISES["meiwei"]["uscc"], r, kiosk_id=B),
        lambda r: platform.submit_application(request("sb-record-print", r, kiosk_id=B),
                                              kiosk_id=B),
    ]
    for call in calls:
        stolen, nobody = error_of(partial(call, ref)), error_of(partial(call, unknown))
        assert isinstance(stolen, NotFound) and stolen.code == "holder_ref_unknown"
        assert same_answer(stolen, nobody)
    # the owning kiosk still has everything
    assert platform.reference_photo(ref, kiosk_id=A)
    assert platform.prepare_application("sb-record-print", ref, kiosk_id=A).blocking == []


def test_other_kiosk_cannot_end_or_reuse_an_ended_session(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=A).ref
    platform.end_session(ref, kiosk_id=B)  # not B's to end: nothing happens
    assert platform.list_certificates(ref, kiosk_id=A)
    platform.end_session(ref, kiosk_id=A)
    with pytest.raises(NotFound):
        platform.list_certificates(ref, kiosk_id=A)
    stolen = error_of(lambda: platform.submit_application(
        request("sb-record-print", ref, kiosk_id=B), kiosk_id=B))
    assert isinstance(stolen, NotFound) and stolen.code == "holder_ref_unknown"
    # the owning kiosk's outbox may still deliver within the submit grace
    receipt = platform.submit_application(request("sb-record-print", ref, kiosk_id=A),
                                          kiosk_id=A)
    assert receipt.state == ApplicationState.RESULT_ISSUED


def test_enterprise_session_bound_to_the_representatives_kiosk(
        platform: PlatformService) -> None:
    rep = platform.check_identity(card("huang"), kiosk_id=A).ref
    ent = platform.check_enterprise(ENTERPRISES["meiwei"]["uscc"], rep, kiosk_id=A)
    stolen = error_of(lambda: platform.list_certificates(ent.ref, kiosk_id=B))
    assert stolen.code == "holder_ref_unknown"
    assert platform.list_certificates(ent.ref, kiosk_id=A)


def test_identity_code_session_bound_to_verifying_kiosk(platform: PlatformService) -> None:
    code = platform.issue_identity_code(PEOPLE["he"]["id_number"])
    ref = platform.verify_identity_code(code, kiosk_id=A).ref
    assert error_of(lambda: platform.list_certificates(ref, kiosk_id=B)).code == \
        "holder_ref_unknown"
    assert platform.list_certificates(ref, kiosk_id=A)


# -- item 7: identity codes with an audience, no ID-number oracle ---------------------------
def test_identity_code_with_audience_refused_by_other_kiosks(
        platform: PlatformService) -> None:
    code = platform.issue_identity_code(PEOPLE["he"]["id_number"], audience=A)
    refused = error_of(lambda: platform.verify_identity_code(code, kiosk_id=B))
    assert isinstance(refused, Refused) and refused.code == "code_invalid"
    # refused before the nonce is spent: the right kiosk still takes it, once
    assert platform.verify_identity_code(code, kiosk_id=A).name == PEOPLE["he"]["name"]
    assert error_of(lambda: platform.verify_identity_code(code, kiosk_id=A)).code == \
        "code_replayed"


def test_unknown_id_number_answers_like_a_wrong_name(platform: PlatformService) -> None:
    unknown = error_of(lambda: platform.check_identity(
        card("chen", id_number="11010519491231002X"), kiosk_id=A))
    wrong_name = error_of(lambda: platform.check_identity(card("chen", name="陈美"),
                                                          kiosk_id=A))
    assert isinstance(unknown, Refused) and unknown.code == "identity_mismatch"
    assert same_answer(unknown, wrong_name)


# -- item 6: applications reachable only through the session that owns them ---------------
def test_application_reads_need_the_owning_session(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=A).ref
    receipt = platform.submit_application(request("sb-record-print", ref, kiosk_id=A),
                                          kiosk_id=A)
    no = receipt.application_no
    assert platform.application_status(no, ref, kiosk_id=A) == receipt
    assert platform.result_document(no, ref, kiosk_id=A).startswith(b"%PDF")
    other_session = platform.check_identity(card("chen"), kiosk_id=A).ref  # same person
    intruder = platform.check_identity(card("huang"), kiosk_id=A).ref
    missing = error_of(lambda: platform.application_status("NH2026060199999999", ref,
                                                           kiosk_id=A))
    assert missing.code == "application_not_found"
    for holder_ref in (other_session, intruder):
        for call in (lambda r: platform.application_status(no, r, kiosk_id=A),
                     lambda r: platform.result_document(no, r, kiosk_id=A),
                     lambda r: platform.rate(Rating(application_no=no, score="bad"), r,
                                             kiosk_id=A),
                     lambda r: platform.set_delivery(no, r, Delivery.ELECTRONIC,
                                                     kiosk_id=A)):
            assert same_answer(error_of(partial(call, holder_ref)), missing)
    stolen = error_of(lambda: platform.application_status(no, ref, kiosk_id=B))
    assert stolen.code == "holder_ref_unknown"
    platform.rate(Rating(application_no=no, score="good"), ref, kiosk_id=A)
    platform.rate(Rating(application_no=no, score="good"), ref, kiosk_id=A)  # same: harmless
    assert error_of(lambda: platform.rate(Rating(application_no=no, score="bad"), ref,
                                          kiosk_id=A)).code == "already_rated"


def test_after_end_session_only_submit_and_delivery_remain(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=A).ref
    platform.end_session(ref, kiosk_id=A)
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.COUNTER,
        kiosk_id=A), kiosk_id=A)
    no = receipt.application_no
    for call in (lambda: platform.application_status(no, ref, kiosk_id=A),
                 lambda: platform.result_document(no, ref, kiosk_id=A),
                 lambda: platform.rate(Rating(application_no=no, score="good"), ref,
                                       kiosk_id=A)):
        assert isinstance(error_of(call), NotFound)
    mailed = platform.set_delivery(no, ref, Delivery.MAIL, ADDRESS, kiosk_id=A)
    assert mailed.application_no == no
    assert error_of(lambda: platform.set_delivery(no, ref, Delivery.MAIL, ADDRESS,
                                                  kiosk_id=B)).code == "holder_ref_unknown"


def test_application_numbers_are_not_sequential(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=A).ref
    numbers = [platform.submit_application(request("housing-fund-print", ref, kiosk_id=A),
                                           kiosk_id=A).application_no for _ in range(6)]
    today = platform.clock().astimezone(dt_china()).strftime("%Y%m%d")
    assert all(re.fullmatch(rf"NH{today}\d{{8}}", n) for n in numbers), numbers
    tails = sorted(int(n[-8:]) for n in numbers)
    assert len(set(tails)) == 6
    assert max(b - a for a, b in zip(tails, tails[1:], strict=False)) > 1


def dt_china() -> Any:
    from kiosk.backend.platform.service import CHINA

    return CHINA


# -- item 3: the delivery chosen after submission is recorded on the platform -------------
def test_set_delivery_records_mail_and_next_steps(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=A).ref
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.COUNTER,
        kiosk_id=A), kiosk_id=A)
    no = receipt.application_no
    platform.review_application(no, approve=True)
    mailed = platform.set_delivery(no, ref, Delivery.MAIL, f"  {ADDRESS} ", kiosk_id=A)
    assert mailed.state == ApplicationState.RESULT_ISSUED
    assert "mailed" in mailed.next_steps["en"]
    assert platform.set_delivery(no, ref, Delivery.MAIL, ADDRESS, kiosk_id=A) == mailed
    row = stored(platform, no)
    assert (row.delivery, row.mail_address) == ("mail", ADDRESS)
    assert platform.application_status(no, ref, kiosk_id=A) == mailed
    counter = platform.set_delivery(no, ref, Delivery.COUNTER, kiosk_id=A)
    assert "collect" in counter.next_steps["en"]
    row = stored(platform, no)
    assert (row.delivery, row.mail_address) == ("counter", None)


@pytest.mark.parametrize("delivery,address,code", [
    (Delivery.PRINT, None, "delivery_not_offered"),
    (Delivery.MAIL, None, "mail_address_missing"),
    (Delivery.MAIL, "   ", "mail_address_missing"),
    (Delivery.MAIL, "南海区\udcff", "text_invalid"),
    (Delivery.MAIL, "南海区\x1b[2J", "text_invalid"),
    (Delivery.MAIL, "南" * 501, "text_too_long"),
])
def test_set_delivery_validates(platform: PlatformService, delivery: Delivery,
                                address: str | None, code: str) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=A).ref
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.COUNTER,
        kiosk_id=A), kiosk_id=A)
    err = error_of(lambda: platform.set_delivery(receipt.application_no, ref, delivery,
                                                 address, kiosk_id=A))
    assert isinstance(err, InvalidRequest) and err.code == code
    assert stored(platform, receipt.application_no).delivery == "counter"


def test_set_delivery_after_the_grace_is_refused(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=A).ref
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.COUNTER,
        kiosk_id=A), kiosk_id=A)
    platform.end_session(ref, kiosk_id=A)
    grace = platform.submit_grace.total_seconds()
    platform.clock.advance(grace + 1)  # type: ignore[attr-defined]
    try:
        err = error_of(lambda: platform.set_delivery(receipt.application_no, ref,
                                                     Delivery.MAIL, ADDRESS, kiosk_id=A))
        assert isinstance(err, NotFound)
    finally:
        platform.clock.advance(-grace - 1)  # type: ignore[attr-defined]


# -- the embedded adapter acts as its configured kiosk; older databases are upgraded -------
def test_embedded_backends_are_kiosks_of_their_own(tmp_path: Path) -> None:
    def kiosk(kiosk_id: str) -> EmbeddedBackend:
        return EmbeddedBackend(KioskConfig.model_validate({
            "kiosk": {"id": kiosk_id},
            "backend": {"db": str(tmp_path / "platform.sqlite"),
                        "identity_key_file": str(tmp_path / "platform.key")}}))

    a, b = kiosk(A), kiosk(B)
    ref = a.check_identity(card("chen")).ref
    assert a.list_certificates(ref)
    with pytest.raises(NotFound):
        b.list_certificates(ref)
    receipt = a.submit_application(request("sb-record-print", ref, kiosk_id=A))
    assert a.application_status(receipt.application_no, ref) == receipt
    assert a.set_delivery(receipt.application_no, ref, Delivery.ELECTRONIC).application_no \
        == receipt.application_no
    with pytest.raises(NotFound):
        b.result_document(receipt.application_no, ref)


OLD_APPOINTMENTS = """CREATE TABLE appointments (
    id INTEGER NOT NULL PRIMARY KEY, appointment_no VARCHAR(32) UNIQUE,
    matter_id VARCHAR(64) NOT NULL REFERENCES matters (id),
    holder_id VARCHAR(32) NOT NULL REFERENCES holders (id),
    counter VARCHAR(60) NOT NULL, at DATETIME NOT NULL)"""


def old_database(path: Path, double_booked: bool = False) -> None:
    """A database as the version before sessions were bound to kiosks made it."""
    engine = make_engine(str(path))
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE holder_sessions DROP COLUMN kiosk_id"))
        conn.execute(text("DROP INDEX ix_applications_session_ref"))
        conn.execute(text("ALTER TABLE applications DROP COLUMN session_ref"))
        conn.execute(text("DROP TABLE appointments"))
        conn.execute(text(OLD_APPOINTMENTS))
        conn.execute(text("INSERT INTO holders (id, kind, name, code, code_type, data) "
                          "VALUES ('h1', 'natural', 'x', 'c1', 't', '{}')"))
        conn.execute(text("INSERT INTO matters (id, position, definition, rules, result_title)"
                          " VALUES ('m1', 1, '{}', '[]', '{}')"))
        for _ in range(2 if double_booked else 1):
            conn.execute(text("INSERT INTO appointments (matter_id, holder_id, counter, at) "
                              "VALUES ('m1', 'h1', 'c', '2026-06-02 01:00:00')"))
    engine.dispose()


def test_a_database_from_an_older_version_is_upgraded(tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "old.sqlite"
    old_database(path)
    engine = make_engine(str(path))
    columns = {t: {c["name"] for c in inspect(engine).get_columns(t)}
               for t in ("holder_sessions", "applications", "appointments")}
    assert "kiosk_id" in columns["holder_sessions"]
    assert "session_ref" in columns["applications"] and "session_ref" in columns["appointments"]
    with pytest.raises(IntegrityError), engine.begin() as conn:  # slots are unique now
        conn.execute(text("INSERT INTO appointments (matter_id, holder_id, counter, at) "
                          "VALUES ('m1', 'h1', 'c', '2026-06-02 01:00:00')"))
    engine.dispose()
    doubled = tmp_path / "doubled.sqlite"
    old_database(doubled, double_booked=True)
    make_engine(str(doubled)).dispose()  # warns, does not fail: nothing is deleted
    assert "double-booked" in caplog.text
