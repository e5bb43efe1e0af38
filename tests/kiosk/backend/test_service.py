"""Business rules of the reference platform, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import nacl.signing
import pytest

from kiosk.backend.contract import (
    ApplicationState,
    CertificateStatus,
    Delivery,
    HolderKind,
    InvalidRequest,
    NotFound,
    Rating,
    Refused,
)
from kiosk.backend.platform.catalogue import BUSINESS_LICENCE, HUKOU, SOCIAL_CARD
from kiosk.backend.platform.service import PlatformService
from kiosk.identity import checks, codes
from tests.kiosk.backend.helpers import ENTERPRISES, KIOSK, PEOPLE, card, request

K = KIOSK
PHONE = {"phone": "13800138000"}


def ref_of(platform: PlatformService, key: str) -> str:
    """A session for a demo person via an identity code (works for expired cards too)."""
    return platform.verify_identity_code(
        platform.issue_identity_code(PEOPLE[key]["id_number"]), kiosk_id=K).ref


# -- identity --------------------------------------------------------------------------
def test_identity_check_returns_opaque_ref(platform: PlatformService) -> None:
    holder = platform.check_identity(card("chen"), kiosk_id=K)
    assert holder.kind == HolderKind.NATURAL and holder.name == PEOPLE["chen"]["name"]
    assert PEOPLE["chen"]["id_number"] not in holder.ref and len(holder.ref) >= 16
    assert platform.check_identity(card("chen"), kiosk_id=K).ref != holder.ref


def test_hk_mo_permit_holder_is_checked(platform: PlatformService) -> None:
    holder = platform.check_identity(card("lee"), kiosk_id=K)
    assert holder.code_type == "港澳台居民居住证号码"


@pytest.mark.parametrize("changes,error,code", [
    ({}, Refused, "card_expired"),  # liang's card expired in 2024
])
def test_expired_card_refused(platform: PlatformService, changes: dict[str, str],
                              error: type[Exception], code: str) -> None:
    with pytest.raises(error) as err:
        platform.check_identity(card("liang", **changes), kiosk_id=K)
    assert err.value.code == code  # type: ignore[attr-defined]


def test_identity_mismatch_unknown_and_check_digit(platform: PlatformService) -> None:
    with pytest.raises(Refused) as err:
        platform.check_identity(card("chen", name="陈美"), kiosk_id=K)
    assert err.value.code == "identity_mismatch"
    with pytest.raises(Refused) as err:
        platform.check_identity(card("chen", valid_from=dt.date(2008, 4, 2)), kiosk_id=K)
    assert err.value.code == "identity_mismatch"
    unknown = "11010519491231002X"
    with pytest.raises(Refused) as err:  # like a wrong name: no ID-number oracle
        platform.check_identity(card("chen", id_number=unknown), kiosk_id=K)
    assert err.value.code == "identity_mismatch"
    with pytest.raises(InvalidRequest) as bad:
        platform.check_identity(card("chen", id_number="440605195803121229"), kiosk_id=K)
    assert bad.value.code == "bad_check_digit"
    with pytest.raises(InvalidRequest) as bad:
        platform.check_identity(card("chen", id_number="44060519580312"), kiosk_id=K)
    assert bad.value.code == "malformed_id"


def test_identity_codes_single_use_and_expiry(platform: PlatformService) -> None:
    id_number = PEOPLE["he"]["id_number"]
    code = platform.issue_identity_code(id_number)
    assert id_number not in code
    assert platform.verify_identity_code(code, kiosk_id=K).name == PEOPLE["he"]["name"]
    with pytest.raises(Refused) as err:
        platform.verify_identity_code(code, kiosk_id=K)
    assert err.value.code == "code_replayed"
    stale = platform.issue_identity_code(id_number, ttl_s=60)
    clock = platform.clock
    clock.advance(61)  # type: ignore[attr-defined]
    try:
        with pytest.raises(Refused) as err:
            platform.verify_identity_code(stale, kiosk_id=K)
        assert err.value.code == "code_expired"
    finally:
        clock.advance(-61)  # type: ignore[attr-defined]
    forged = codes.issue_code(nacl.signing.SigningKey.generate(), "ref-platform", "h-abc",
                              platform.clock().timestamp())
    with pytest.raises(Refused) as err:
        platform.verify_identity_code(forged, kiosk_id=K)
    assert err.value.code == "code_invalid"
    with pytest.raises(Refused) as err:
        platform.verify_identity_code("not a code", kiosk_id=K)
    assert err.value.code == "code_invalid"


def test_end_session_forgets_ref(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    platform.end_session(ref, kiosk_id=K)
    with pytest.raises(NotFound):
        platform.list_certificates(ref, kiosk_id=K)
    # an application already stored in a kiosk outbox can still be delivered
    receipt = platform.submit_application(request("sb-record-print", ref), kiosk_id=K)
    assert receipt.state == ApplicationState.RESULT_ISSUED


def test_session_expires(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    platform.clock.advance(1801)  # type: ignore[attr-defined]
    try:
        with pytest.raises(NotFound) as err:
            platform.list_certificates(ref, kiosk_id=K)
        assert err.value.code == "session_expired"
    finally:
        platform.clock.advance(-1801)  # type: ignore[attr-defined]


def test_reference_photo_is_jpeg(platform: PlatformService) -> None:
    photo = platform.reference_photo(platform.check_identity(card("chen"), kiosk_id=K).ref,
                                     kiosk_id=K)
    assert photo is not None and photo[:3] == b"\xff\xd8\xff"


# -- certificates ----------------------------------------------------------------------
def test_certificates_listed_with_status_and_valid_identifiers(platform: PlatformService) -> None:
    chen = platform.list_certificates(platform.check_identity(card("chen"), kiosk_id=K).ref,
                                      kiosk_id=K)
    assert {c.type_name for c in chen} == {"居民身份证", "居民户口簿", "结婚证", "社会保障卡"}
    assert all(c.status == CertificateStatus.VALID for c in chen)
    liang_certs = platform.list_certificates(ref_of(platform, "liang"), kiosk_id=K)
    liang = {c.type_name: c.status for c in liang_certs}
    assert liang["居民身份证"] == CertificateStatus.EXPIRED
    assert liang["社会保障卡"] == CertificateStatus.REVOKED
    for cert in chen:
        assert checks.validate_certificate_identifier(cert.identifier) == cert.identifier


def test_certificate_document_and_verification(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    cert = platform.list_certificates(ref, kiosk_id=K)[0]
    doc = platform.certificate_document(ref, cert.identifier, kiosk_id=K)
    assert doc.pdf.startswith(b"%PDF") and doc.certificate == cert
    assert doc.verification_code
    check = platform.verify_document_code(doc.verification_code)
    assert check.authentic and check.valid and check.kind == "certificate_copy"
    tampered = doc.verification_code[:-3] + ("AAA" if doc.verification_code[-3:] != "AAA"
                                             else "BBB")
    assert not platform.verify_document_code(tampered).authentic
    assert not platform.verify_document_code("garbage").authentic


def test_certificate_document_errors(platform: PlatformService) -> None:
    liang = ref_of(platform, "liang")
    certs = {c.status: c for c in platform.list_certificates(liang, kiosk_id=K)}
    for status in (CertificateStatus.REVOKED, CertificateStatus.EXPIRED):
        with pytest.raises(Refused) as err:
            platform.certificate_document(liang, certs[status].identifier, kiosk_id=K)
        assert err.value.code == f"certificate_{status.value}"
    chen = platform.check_identity(card("chen"), kiosk_id=K).ref
    with pytest.raises(NotFound):  # someone else's certificate
        platform.certificate_document(chen, certs[CertificateStatus.REVOKED].identifier, kiosk_id=K)
    with pytest.raises(InvalidRequest) as bad:
        platform.certificate_document(chen, "1.2.156.3005.2.X", kiosk_id=K)
    assert bad.value.code == "malformed_identifier"
    ident = certs[CertificateStatus.REVOKED].identifier
    wrong = ident[:-1] + ("0" if ident[-1] != "0" else "1")
    with pytest.raises(InvalidRequest) as bad:
        platform.certificate_document(chen, wrong, kiosk_id=K)
    assert bad.value.code == "bad_check_digit"


# -- matters and the certificate-free rule ----------------------------------------------
def test_catalogue(platform: PlatformService) -> None:
    matters = platform.list_matters()
    assert len(matters) >= 10
    assert sum(m.approval == "instant" for m in matters) >= 3
    assert any(m.needs_original for m in matters)
    for m in matters:
        assert set(m.name) == {"zh_CN", "zh_HK", "en"}
    printed = [m for m in matters if m.delivery == [Delivery.PRINT]]
    assert printed and all("printer" in m.devices for m in printed)


def test_certificate_free_prefill(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    prep = platform.prepare_application("hukou-certificate", ref, kiosk_id=K)
    assert all(m.waived and m.certificate_identifier for m in prep.materials)
    values = {p.key: p for p in prep.prefilled}
    assert values["name"].value == PEOPLE["chen"]["name"]
    assert values["id_number"].source.kind == "card"
    assert values["household_address"].source.certificate_type == HUKOU.code
    assert prep.to_type == ["purpose"] and prep.blocking == []


def test_missing_certificate_not_waived_or_blocking(platform: PlatformService) -> None:
    chen = platform.check_identity(card("chen"), kiosk_id=K).ref
    prep = platform.prepare_application("birth-registration", chen, kiosk_id=K)
    birth = next(m for m in prep.materials if m.material_id == "birth_cert")
    assert not birth.waived and birth.certificate_identifier is None
    assert prep.blocking == ["certificate_missing:birth_cert"]
    huang = platform.check_identity(card("huang"), kiosk_id=K).ref
    prep = platform.prepare_application("birth-registration", huang, kiosk_id=K)
    assert prep.blocking == [] and all(m.waived for m in prep.materials)
    assert "child_name" not in prep.to_type and "phone" in prep.to_type


def test_revoked_certificate_not_used(platform: PlatformService) -> None:
    liang = ref_of(platform, "liang")
    prep = platform.prepare_application("sb-record-print", liang, kiosk_id=K)
    social = next(m for m in prep.materials if m.material_id == "social_card")
    assert not social.waived
    assert "social_card_no" in prep.to_type
    receipt = platform.submit_application(request("sb-record-print", liang,
                                                  {"social_card_no": "D440600000"}), kiosk_id=K)
    assert receipt.state == ApplicationState.REJECTED and receipt.decision_reason


def test_enterprise_and_expired_blocking(platform: PlatformService) -> None:
    huang = platform.check_identity(card("huang"), kiosk_id=K).ref
    ent = platform.check_enterprise(ENTERPRISES["meiwei"]["uscc"], huang, kiosk_id=K)
    assert ent.kind == HolderKind.LEGAL and ent.representative_ref == huang
    prep = platform.prepare_application("licence-copy-reissue", ent.ref, kiosk_id=K)
    assert all(m.waived for m in prep.materials)  # licence + the representative's ID card
    assert {p.key for p in prep.prefilled} >= {"enterprise_name", "uscc", "representative"}
    assert next(p for p in prep.prefilled if p.key == "representative").source \
        .certificate_type == BUSINESS_LICENCE.code
    with pytest.raises(Refused) as err:
        platform.check_enterprise(ENTERPRISES["xinchuang"]["uscc"], huang, kiosk_id=K)
    assert err.value.code == "not_representative"
    with pytest.raises(InvalidRequest) as bad:
        platform.check_enterprise("91440605MA4WKQ7T3M", huang, kiosk_id=K)
    assert bad.value.code == "bad_check_digit"
    chen = platform.check_identity(card("chen"), kiosk_id=K).ref
    xin = platform.check_enterprise(ENTERPRISES["xinchuang"]["uscc"], chen, kiosk_id=K)
    prep = platform.prepare_application("food-licence-change", xin.ref, kiosk_id=K)
    assert "certificate_expired:food_licence" in prep.blocking
    with pytest.raises(Refused) as err:
        platform.submit_application(request("food-licence-change", xin.ref,
                                            delivery=Delivery.COUNTER), kiosk_id=K)
    assert err.value.code == "matter_blocked"
    # a personal matter for an enterprise is blocked too
    assert platform.prepare_application("sb-record-print", xin.ref, kiosk_id=K).blocking


# -- applications ----------------------------------------------------------------------
def test_instant_approval_and_result(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    receipt = platform.submit_application(request("sb-record-print", ref), kiosk_id=K)
    assert receipt.state == ApplicationState.RESULT_ISSUED and receipt.result_available
    assert receipt.application_no.startswith("NH")
    assert platform.application_status(receipt.application_no, ref, kiosk_id=K) == receipt
    assert platform.result_document(receipt.application_no, ref, kiosk_id=K) \
        .startswith(b"%PDF")


def test_instant_rules_decide(platform: PlatformService) -> None:
    chen = platform.check_identity(card("chen"), kiosk_id=K).ref  # 68: under 70
    young = platform.submit_application(request("elderly-allowance", chen, PHONE,
                                                delivery=Delivery.ELECTRONIC), kiosk_id=K)
    assert young.state == ApplicationState.REJECTED and "min_age" in (young.decision_reason
                                                                      or "")
    with pytest.raises(Refused) as err:
        platform.result_document(young.application_no, chen, kiosk_id=K)
    assert err.value.code == "result_not_ready"
    he = platform.check_identity(card("he"), kiosk_id=K).ref  # 78
    first = platform.submit_application(request("elderly-allowance", he, PHONE,
                                                delivery=Delivery.ELECTRONIC), kiosk_id=K)
    second = platform.submit_application(request("elderly-allowance", he, PHONE,
                                                 delivery=Delivery.ELECTRONIC), kiosk_id=K)
    states = {first.state, second.state}
    assert ApplicationState.REJECTED in states  # granted once per holder
    assert states <= {ApplicationState.RESULT_ISSUED, ApplicationState.REJECTED}


def test_review_matter_flow(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=K).ref
    receipt = platform.submit_application(request(
        "social-card-replace", ref, {**PHONE, "reason": "遗失"}, delivery=Delivery.MAIL,
        mail_address="广东省佛山市南海区某路1号"), kiosk_id=K)
    assert receipt.state == ApplicationState.ACCEPTED and not receipt.result_available
    done = platform.review_application(receipt.application_no, approve=True)
    assert done.state == ApplicationState.RESULT_ISSUED
    assert platform.result_document(receipt.application_no, ref, kiosk_id=K) \
        .startswith(b"%PDF")


def test_idempotency(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    key = uuid.uuid4().hex
    first = platform.submit_application(request("housing-fund-print", ref, key=key), kiosk_id=K)
    again = platform.submit_application(request("housing-fund-print", ref, key=key), kiosk_id=K)
    assert again == first and platform.application_count(key) == 1
    with pytest.raises(Refused) as err:
        platform.submit_application(request("marriage-record", ref, key=key), kiosk_id=K)
    assert err.value.code == "idempotency_conflict"


def test_concurrent_duplicates_create_one_application(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    req = request("housing-fund-print", ref)
    results: list[str] = []
    barrier = threading.Barrier(4)

    def submit() -> None:
        barrier.wait(10)
        results.append(platform.submit_application(req, kiosk_id=K).application_no)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 4 and len(set(results)) == 1
    assert platform.application_count(req.idempotency_key) == 1


@pytest.mark.parametrize("form,delivery,code", [
    ({"purpose": "旅游"}, Delivery.PRINT, "form_invalid"),  # not a choice
    ({}, Delivery.PRINT, "form_invalid"),  # purpose missing
    ({"purpose": "就业", "bogus": "x"}, Delivery.PRINT, "form_invalid"),
    ({"purpose": "就业\x00"}, Delivery.PRINT, "text_invalid"),
    ({"purpose": "就业"}, Delivery.MAIL, "delivery_not_offered"),
])
def test_form_validation(platform: PlatformService, form: dict[str, str], delivery: Delivery,
                         code: str) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    with pytest.raises(InvalidRequest) as err:
        platform.submit_application(request("hukou-certificate", ref, form, delivery=delivery),
                                    kiosk_id=K)
    assert err.value.code == code


def test_submit_errors(platform: PlatformService) -> None:
    ref = platform.check_identity(card("chen"), kiosk_id=K).ref
    with pytest.raises(NotFound):
        platform.submit_application(request("no-such-matter", ref), kiosk_id=K)
    with pytest.raises(NotFound):
        platform.submit_application(request("sb-record-print", "x" * 32), kiosk_id=K)
    with pytest.raises(InvalidRequest) as err:
        platform.submit_application(request("sb-record-print", ref, key="bad key with spaces"),
                                    kiosk_id=K)
    assert err.value.code == "bad_idempotency_key"
    liang = platform.list_certificates(ref_of(platform, "liang"), kiosk_id=K)
    revoked = next(c for c in liang if c.type_code == SOCIAL_CARD.code)
    with pytest.raises(NotFound):  # not chen's certificate
        platform.submit_application(request("sb-record-print", ref,
                                            attachments=[revoked.identifier]), kiosk_id=K)


def test_appointment_and_rating(platform: PlatformService) -> None:
    ref = platform.check_identity(card("huang"), kiosk_id=K).ref
    first = platform.book_appointment("birth-registration", ref, kiosk_id=K)
    second = platform.book_appointment("birth-registration", ref, kiosk_id=K)
    assert first.at < second.at and first.at.weekday() < 5
    with pytest.raises(InvalidRequest):
        platform.book_appointment("sb-record-print", ref, kiosk_id=K)
    receipt = platform.submit_application(request("housing-fund-print", ref), kiosk_id=K)
    rating = Rating(application_no=receipt.application_no, score="good", reasons=["办事快"])
    platform.rate(rating, ref, kiosk_id=K)
    platform.rate(rating, ref, kiosk_id=K)  # the same rating again is harmless
    with pytest.raises(Refused):
        platform.rate(Rating(application_no=receipt.application_no, score="bad"), ref,
                      kiosk_id=K)
    with pytest.raises(NotFound):
        platform.rate(Rating(application_no="NH2026010199999999", score="bad"), ref,
                      kiosk_id=K)
