"""The authorization model over HTTP: two kiosks on one live server (uvicorn)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import nacl.signing
import pytest
from click.testing import CliRunner

from kiosk.backend.contract import Delivery, NotFound, Rating
from kiosk.backend.credentials import CredentialStore, write_private
from kiosk.backend.http import HttpBackend
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.service import PlatformService
from kiosk.cli import main
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.conftest import Clock, live_server, make_service
from tests.kiosk.backend.helpers import PEOPLE, card, request

PHONE = {"phone": "13800138000"}


class Fleet:
    """A live server and two kiosks' clients."""

    def __init__(self, url: str, service: PlatformService, tokens: dict[str, str]) -> None:
        self.url, self.service = url, service
        self.clients = {k: httpx.Client(base_url=url,
                                        headers={"Authorization": f"Bearer {t}"})
                        for k, t in tokens.items()}
        self.tokens = tokens

    def identify(self, kiosk: str, who: str = "huang") -> str:
        resp = self.clients[kiosk].post("/v1/identity/card",
                                        json=card(who).model_dump(mode="json"))
        assert resp.status_code == 200, resp.text
        ref: str = resp.json()["ref"]
        return ref

    def submit(self, kiosk: str, ref: str, matter: str = "sb-record-print",
               **kw: object) -> str:
        body = request(matter, ref, kiosk_id=kiosk, **kw).model_dump(mode="json")  # type: ignore[arg-type]
        resp = self.clients[kiosk].post("/v1/applications", json=body)
        assert resp.status_code == 200, resp.text
        no: str = resp.json()["application_no"]
        return no


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory,
          signing_key: nacl.signing.SigningKey) -> Iterator[Fleet]:
    tmp = tmp_path_factory.mktemp("fleet")
    service = make_service(str(tmp / "platform.sqlite"), signing_key, Clock())
    store = CredentialStore()
    tokens = {k: store.issue(k).token for k in ("kiosk-a", "kiosk-b")}
    with live_server(create_app(service, store)) as url:
        yield Fleet(url, service, tokens)
    service.engine.dispose()


def test_kiosk_b_cannot_use_kiosk_a_reference(fleet: Fleet) -> None:
    ref = fleet.identify("kiosk-a")
    a, b = fleet.clients["kiosk-a"], fleet.clients["kiosk-b"]
    cert = a.get("/v1/holder/certificates", headers={"X-Holder-Ref": ref}).json()[0]
    gets = ["/v1/holder/certificates", "/v1/holder/photo",
            f"/v1/holder/certificates/{cert['identifier']}/document",
            "/v1/matters/sb-record-print/prepared"]
    for path in gets:
        stolen = b.get(path, headers={"X-Holder-Ref": ref})
        unknown = b.get(path, headers={"X-Holder-Ref": "Q" * 32})
        assert stolen.status_code == 404 and stolen.json() == unknown.json(), path
        assert a.get(path, headers={"X-Holder-Ref": ref}).status_code == 200, path
    body = request("sb-record-print", ref, kiosk_id="kiosk-b").model_dump(mode="json")
    assert b.post("/v1/applications", json=body).json()["code"] == "holder_ref_unknown"
    a.delete("/v1/holder", headers={"X-Holder-Ref": ref})
    assert b.post("/v1/applications", json=body).status_code == 404
    assert fleet.submit("kiosk-a", ref)  # the owner's outbox, within the grace


def test_applications_need_the_owning_holder_reference(fleet: Fleet) -> None:
    a, b = fleet.clients["kiosk-a"], fleet.clients["kiosk-b"]
    ref = fleet.identify("kiosk-a")
    no = fleet.submit("kiosk-a", ref)
    assert no.startswith("NH") and len(no) == 18
    own = {"X-Holder-Ref": ref}
    for path in (f"/v1/applications/{no}", f"/v1/applications/{no}/result"):
        assert a.get(path, headers=own).status_code == 200
        alone = a.get(path)  # a kiosk token alone
        assert alone.status_code == 404 and alone.json()["code"] == "application_not_found"
        assert b.get(path, headers=own).status_code == 404
    rating = Rating(application_no=no, score="bad").model_dump(mode="json")
    assert b.post("/v1/ratings", json=rating).status_code == 404
    assert b.post("/v1/ratings", json=rating, headers=own).status_code == 404
    assert a.post("/v1/ratings", json=rating).status_code == 404
    assert a.post("/v1/ratings", json=rating, headers=own).status_code == 204


def test_delivery_endpoint_and_http_backend(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "cred.json"
    write_private(path, f'{{"kiosk_id": "kiosk-a", "token": "{fleet.tokens["kiosk-a"]}"}}')
    cfg = KioskConfig.model_validate({"kiosk": {"id": "kiosk-a"}, "backend": {
        "kind": "http", "url": fleet.url, "credentials_file": str(path)}})
    backend = HttpBackend(cfg, backoff_s=0.01)
    holder = backend.check_identity(card("huang"))
    receipt = backend.submit_application(request(
        "social-card-replace", holder.ref, {**PHONE, "reason": "遗失"},
        delivery=Delivery.COUNTER, kiosk_id="kiosk-a"))
    no = receipt.application_no
    backend.end_session(holder.ref)  # the citizen left; the outbox sends the delivery
    mailed = backend.set_delivery(no, holder.ref, Delivery.MAIL, "南海区桂城1号")
    assert mailed.application_no == no
    assert backend.set_delivery(no, holder.ref, Delivery.MAIL, "南海区桂城1号") == mailed
    resp = fleet.clients["kiosk-b"].put(f"/v1/applications/{no}/delivery",
                                        json={"delivery": "counter"},
                                        headers={"X-Holder-Ref": holder.ref})
    assert resp.status_code == 404
    live = backend.check_identity(card("huang"))
    done = backend.submit_application(request("sb-record-print", live.ref,
                                              kiosk_id="kiosk-a"))
    assert backend.application_status(done.application_no, live.ref) == done
    assert backend.result_document(done.application_no, live.ref).startswith(b"%PDF")
    backend.rate(Rating(application_no=done.application_no, score="good"), live.ref)
    with pytest.raises(NotFound):
        backend.application_status(done.application_no, holder.ref)
    backend.close()


def test_unknown_id_number_and_wrong_name_answer_alike(fleet: Fleet) -> None:
    a = fleet.clients["kiosk-a"]
    unknown = a.post("/v1/identity/card", json=card(
        "chen", id_number="11010519491231002X").model_dump(mode="json"))
    wrong = a.post("/v1/identity/card", json=card("chen", name="陈美").model_dump(mode="json"))
    assert unknown.status_code == wrong.status_code == 409
    assert unknown.json() == wrong.json() and unknown.json()["code"] == "identity_mismatch"


def test_identity_code_audience_over_http(fleet: Fleet) -> None:
    code = fleet.service.issue_identity_code(PEOPLE["he"]["id_number"], audience="kiosk-a")
    refused = fleet.clients["kiosk-b"].post("/v1/identity/code", json={"payload": code})
    assert refused.status_code == 409 and refused.json()["code"] == "code_invalid"
    assert fleet.clients["kiosk-a"].post("/v1/identity/code",
                                         json={"payload": code}).status_code == 200


def test_docs_are_a_setting(fleet: Fleet, signing_key: nacl.signing.SigningKey,
                            tmp_path: Path) -> None:
    for path in ("/docs", "/redoc"):
        assert httpx.get(f"{fleet.url}{path}").status_code == 404
    assert httpx.get(f"{fleet.url}/openapi.json").status_code == 401
    spec = fleet.clients["kiosk-a"].get("/openapi.json")
    assert spec.status_code == 200 and "/v1/applications/{application_no}/delivery" in \
        spec.json()["paths"]
    store = CredentialStore()
    with live_server(create_app(fleet.service, store, public_docs=True)) as url:
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert httpx.get(f"{url}{path}").status_code == 200, path
    helptext = " ".join(CliRunner().invoke(main, ["backend", "serve", "--help"]).output.split())
    assert "--public-docs" in helptext and "off by default" in helptext
