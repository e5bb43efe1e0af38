"""Issue 17, 告知承诺制 over real HTTP (uvicorn, the http adapter): a signed commitment replaces
a missing material only where the catalogue allows it, under the current text version, with
a digest binding text, signature and application; the platform records it."""

from __future__ import annotations

import base64
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest
from PIL import Image, ImageDraw
from sqlalchemy import select
from sqlalchemy.orm import Session

from kiosk.backend import commitments
from kiosk.backend.contract import (
    MAX_SIGNATURE_PNG,
    ApplicationState,
    Delivery,
    InvalidRequest,
    Matter,
    Refused,
    SignedCommitment,
)
from kiosk.backend.credentials import KioskCredential
from kiosk.backend.http import HttpBackend
from kiosk.backend.platform.commitments import CommitmentRow
from kiosk.backend.platform.models import ApplicationRow
from kiosk.backend.platform.service import PlatformService
from tests.kiosk.backend.helpers import card, request
from tests.kiosk.backend.test_http import make_backend

Server = tuple[str, KioskCredential, PlatformService]
TEACHER, RESIDENCE = "teacher-qualification", "residence-permit"


def signature_png(width: int = 480, height: int = 160) -> bytes:
    """A plausible hand-drawn signature as PNG bytes."""
    img = Image.new("L", (width, height), 255)
    ImageDraw.Draw(img).line([(20, 120), (90, 30), (160, 130), (260, 40), (420, 110)],
                             fill=0, width=6)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def signed(matter: Matter, material_id: str, key: str, png: bytes | None = None,
           language: str = "zh_CN", version: str | None = None) -> SignedCommitment:
    material = next(m for m in matter.materials if m.id == material_id)
    png = signature_png() if png is None else png
    at = dt.datetime.now(dt.UTC).replace(microsecond=0)
    text_version = version or material.commitment_version or "none"
    return SignedCommitment(
        material_id=material_id, text_version=text_version, language=language,
        signed_at=at, signature_png=base64.b64encode(png).decode(),
        digest=commitments.digest(
            matter_id=matter.id, material_id=material_id, idempotency_key=key,
            text_version=text_version, language=language,
            text=material.commitment_text.get(language, ""), signed_at=at, signature_png=png))


@pytest.fixture()
def backend(http_platform: Server, tmp_path: Path) -> HttpBackend:
    url, cred, _service = http_platform
    return make_backend(tmp_path, url, cred)


def matter_of(backend: HttpBackend, matter_id: str) -> Matter:
    return next(m for m in backend.list_matters() if m.id == matter_id)


def test_catalogue_marks_materials_a_commitment_may_replace(backend: HttpBackend) -> None:
    allowing = {m.id: [x.id for x in m.materials if x.commitment_allowed]
                for m in backend.list_matters()}
    assert allowing[TEACHER] == ["no_criminal_record"]
    assert allowing[RESIDENCE] == ["residence_proof"]
    for m in backend.list_matters():
        for x in m.materials:
            if x.commitment_allowed:
                assert x.commitment_version
                assert set(x.commitment_text) == {"zh_CN", "zh_HK", "en"}


def test_commitment_replaces_a_missing_material_and_is_recorded(
        backend: HttpBackend, http_platform: Server) -> None:
    service = http_platform[2]
    matter = matter_of(backend, RESIDENCE)
    holder = backend.check_identity(card("chen"))
    prepared = backend.prepare_application(RESIDENCE, holder.ref)
    assert prepared.blocking == []  # a commitment may stand in for the missing proof
    missing = [a.material_id for a in prepared.materials if a.certificate_identifier is None]
    assert missing == ["residence_proof"]
    key = uuid.uuid4().hex
    png = signature_png()
    req = request(RESIDENCE, holder.ref, {"phone": "13800138000"}, Delivery.COUNTER, key,
                  commitments=[signed(matter, "residence_proof", key, png, "zh_HK")])
    receipt = backend.submit_application(req)
    assert receipt.state is ApplicationState.ACCEPTED
    assert receipt.committed_materials == ["residence_proof"]
    assert backend.submit_application(req) == receipt  # a retry creates nothing twice
    assert backend.application_status(receipt.application_no,
                                      holder.ref).committed_materials == ["residence_proof"]
    with Session(service.engine) as s:
        rows = list(s.scalars(select(CommitmentRow)))
        mine = [r for r in rows if r.digest == req.commitments[0].digest]
        assert len(mine) == 1
        assert mine[0].signature_png == png and mine[0].text_version == "GD-CN-JZ-2024.2"
        assert mine[0].language == "zh_HK"


def test_a_material_without_paper_needs_its_commitment(backend: HttpBackend) -> None:
    holder = backend.check_identity(card("chen"))
    with pytest.raises(Refused) as err:
        backend.submit_application(request(RESIDENCE, holder.ref, {"phone": "13800138000"},
                                           Delivery.COUNTER))
    assert err.value.code == "commitment_missing"


def test_optional_commitment_where_paper_is_allowed(backend: HttpBackend) -> None:
    holder = backend.check_identity(card("chen"))
    form = {"phone": "13800138000", "school_level": "小学"}
    plain = backend.submit_application(request(TEACHER, holder.ref, form, Delivery.MAIL,
                                               mail_address="佛山市南海区桂城街道1号"))
    assert plain.committed_materials == []  # the citizen brings the paper instead
    key = uuid.uuid4().hex
    receipt = backend.submit_application(request(
        TEACHER, holder.ref, form, Delivery.COUNTER, key,
        commitments=[signed(matter_of(backend, TEACHER), "no_criminal_record", key,
                            language="en")]))
    assert receipt.committed_materials == ["no_criminal_record"]


def test_commitment_refused_where_not_allowed(backend: HttpBackend) -> None:
    """The ID card is no commitment material: a typed refusal, nothing stored."""
    holder = backend.check_identity(card("chen"))
    key = uuid.uuid4().hex
    matter = matter_of(backend, TEACHER)
    with pytest.raises(Refused) as err:
        backend.submit_application(request(
            TEACHER, holder.ref, {"phone": "13800138000", "school_level": "小学"},
            Delivery.COUNTER, key, commitments=[signed(matter, "id_card", key)]))
    assert err.value.code == "commitment_not_allowed"
    bad = signed(matter_of(backend, "hukou-certificate"), "hukou", key)
    with pytest.raises(Refused) as err:
        backend.submit_application(request("hukou-certificate", holder.ref,
                                           {"purpose": "就业"}, key=key, commitments=[bad]))
    assert err.value.code == "commitment_not_allowed"


@pytest.mark.parametrize("change, code", [
    ("version", "commitment_text_outdated"),
    ("other_application", "commitment_digest_mismatch"),
    ("other_signature", "commitment_digest_mismatch"),
    ("not_png", "signature_not_png"),
    ("dot", "signature_bad_size"),
    ("huge", "invalid_request"),  # over the contract's bound: refused before any use
])
def test_a_commitment_that_does_not_bind_is_refused(backend: HttpBackend, change: str,
                                                    code: str) -> None:
    holder = backend.check_identity(card("chen"))
    matter = matter_of(backend, RESIDENCE)
    key = uuid.uuid4().hex
    good = signed(matter, "residence_proof", key)
    commitment = {
        "version": lambda: signed(matter, "residence_proof", key, version="GD-CN-JZ-2019.1"),
        "other_application": lambda: signed(matter, "residence_proof", uuid.uuid4().hex),
        "other_signature": lambda: good.model_copy(update={
            "signature_png": base64.b64encode(signature_png(500)).decode()}),
        "not_png": lambda: signed(matter, "residence_proof", key, b"GIF89a" + bytes(64)),
        "dot": lambda: signed(matter, "residence_proof", key, signature_png(8, 8)),
        "huge": lambda: good.model_copy(update={"signature_png": base64.b64encode(
            signature_png()[:33] + bytes(MAX_SIGNATURE_PNG)).decode()}),
    }[change]()
    with pytest.raises((Refused, InvalidRequest)) as err:
        backend.submit_application(request(RESIDENCE, holder.ref, {"phone": "13800138000"},
                                           Delivery.COUNTER, key, commitments=[commitment]))
    assert err.value.code == code


def test_recorded_on_sqlite_and_postgresql(platform: PlatformService) -> None:
    """The service itself, on both databases: the application's commitment row holds the
    signature, the text version and the digest the kiosk sent."""
    kiosk = "kiosk-test"
    holder = platform.check_identity(card("he"), kiosk_id=kiosk)
    matter = next(m for m in platform.list_matters() if m.id == RESIDENCE)
    key = uuid.uuid4().hex
    png = signature_png(520)
    commitment = signed(matter, "residence_proof", key, png)
    receipt = platform.submit_application(request(
        RESIDENCE, holder.ref, {"phone": "13800138000"}, Delivery.COUNTER, key,
        commitments=[commitment]), kiosk_id=kiosk)
    assert receipt.committed_materials == ["residence_proof"]
    with Session(platform.engine) as s:
        rows = list(s.scalars(select(CommitmentRow).join(
            ApplicationRow, ApplicationRow.id == CommitmentRow.application_id).where(
            ApplicationRow.idempotency_key == key)))
    assert [(r.material_id, r.signature_png, r.digest, r.text_version) for r in rows] == [
        ("residence_proof", png, commitment.digest, "GD-CN-JZ-2024.2")]
