"""The HTTP app on a real uvicorn server, and HttpBackend against it."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from kiosk.backend.contract import (
    ApplicationState,
    BackendAdapter,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Rating,
    Refused,
    Unauthorized,
    Unavailable,
)
from kiosk.backend.credentials import KioskCredential, write_private
from kiosk.backend.http import HttpBackend
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.helpers import ENTERPRISES, card, request

Server = tuple[str, KioskCredential, PlatformService]


def make_backend(tmp_path: Path, url: str, cred: KioskCredential | None,
                 retries: int = 2) -> HttpBackend:
    backend: dict[str, object] = {"kind": "http", "url": url, "retries": retries,
                                  "timeout_s": 5.0}
    if cred is not None:
        path = tmp_path / "kiosk-cred.json"
        write_private(path, cred.model_dump_json())
        backend["credentials_file"] = str(path)
    cfg = KioskConfig.model_validate({"kiosk": {"id": "kiosk-test"}, "backend": backend})
    return HttpBackend(cfg, backoff_s=0.01)


def test_health_is_open_everything_else_needs_a_token(http_platform: Server) -> None:
    url, cred, _ = http_platform
    assert httpx.get(f"{url}/health").json()["ok"] is True
    for headers in ({}, {"Authorization": "Bearer kiosk-test.wrong"},
                    {"Authorization": f"Bearer other.{cred.token.split('.', 1)[1]}"}):
        resp = httpx.get(f"{url}/v1/matters", headers=headers)
        assert resp.status_code == 401
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["code"] == "unauthorized"
    ok = httpx.get(f"{url}/v1/matters", headers={"Authorization": f"Bearer {cred.token}"})
    assert ok.status_code == 200 and len(ok.json()) >= 10


def test_problem_json_and_limits(http_platform: Server) -> None:
    url, cred, _ = http_platform
    auth = {"Authorization": f"Bearer {cred.token}"}
    resp = httpx.get(f"{url}/v1/nowhere", headers=auth)
    assert resp.status_code == 404 and resp.json()["code"] == "not_found"
    resp = httpx.post(f"{url}/v1/applications", headers=auth, json={"matter_id": "x"})
    assert resp.status_code == 422 and resp.json()["code"] == "invalid_request"
    assert "idempotency_key" in resp.json()["detail"]
    big = b'{"payload": "' + b"A" * 200_000 + b'"}'
    resp = httpx.post(f"{url}/v1/identity/code", headers={**auth, "Content-Type":
                                                          "application/json"}, content=big)
    assert resp.status_code == 413 and resp.json()["code"] == "payload_too_large"

    def chunks() -> object:
        for _ in range(100):
            yield b"A" * 4096

    resp = httpx.post(f"{url}/v1/identity/code", headers=auth, content=chunks())  # no length
    assert resp.status_code == 413
    assert httpx.get(f"{url}/openapi.json").status_code == 401  # docs are not public
    assert httpx.get(f"{url}/openapi.json", headers=auth).status_code == 200


def test_http_backend_full_journey(http_platform: Server, tmp_path: Path) -> None:
    url, cred, service = http_platform
    backend = make_backend(tmp_path, url, cred)
    assert isinstance(backend, BackendAdapter)
    assert backend.health()["kind"] == "http"
    holder = backend.check_identity(card("huang"))
    photo = backend.reference_photo(holder.ref)
    assert photo is not None and photo[:2] == b"\xff\xd8"
    certs = backend.list_certificates(holder.ref)
    doc = backend.certificate_document(holder.ref, certs[0].identifier)
    assert doc.pdf.startswith(b"%PDF") and doc.certificate == certs[0]
    assert doc.verification_code and backend.verify_document_code(doc.verification_code).valid
    matters = backend.list_matters()
    assert {m.id for m in matters} >= {"sb-record-print", "food-licence-change"}
    prep = backend.prepare_application("sb-record-print", holder.ref)
    assert all(m.waived for m in prep.materials)
    req = request("sb-record-print", holder.ref)
    receipt = backend.submit_application(req)
    assert backend.submit_application(req) == receipt
    assert service.application_count(req.idempotency_key) == 1
    assert backend.application_status(receipt.application_no, holder.ref).state == \
        ApplicationState.RESULT_ISSUED
    assert backend.result_document(receipt.application_no, holder.ref).startswith(b"%PDF")
    backend.rate(Rating(application_no=receipt.application_no, score="good"), holder.ref)
    ent = backend.check_enterprise(ENTERPRISES["meiwei"]["uscc"], holder.ref)
    assert ent.representative_ref == holder.ref
    appt = backend.book_appointment("birth-registration", holder.ref)
    assert appt.matter_id == "birth-registration"
    code = service.issue_identity_code(holder.code)
    assert backend.verify_identity_code(code).name == holder.name
    with pytest.raises(Refused) as err:
        backend.verify_identity_code(code)
    assert err.value.code == "code_replayed"
    backend.end_session(holder.ref)
    with pytest.raises(NotFound):
        backend.list_certificates(holder.ref)
    backend.close()


def test_http_backend_maps_errors(http_platform: Server, tmp_path: Path) -> None:
    url, cred, _ = http_platform
    backend = make_backend(tmp_path, url, cred)
    with pytest.raises(Refused) as refused:
        backend.check_identity(card("liang"))
    assert refused.value.code == "card_expired"
    with pytest.raises(InvalidRequest) as bad:
        backend.check_identity(card("chen", id_number="440605195803121229"))
    assert bad.value.code == "bad_check_digit"
    ref = backend.check_identity(card("chen")).ref
    with pytest.raises(NotFound):
        backend.application_status("NH2026010199999999", ref)
    with pytest.raises(PayloadTooLarge):
        backend.verify_identity_code("A" * 100_000)
    with pytest.raises(Unauthorized):
        make_backend(tmp_path, url, None).list_matters()


def test_http_backend_unreachable_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = make_backend(tmp_path, f"http://127.0.0.1:{port}", None, retries=2)
    with pytest.raises(Unavailable):
        backend.list_matters()
    with pytest.raises(Unavailable):
        backend.submit_application(request("sb-record-print", "x" * 32))


def test_retry_then_success_on_5xx(tmp_path: Path, http_platform: Server) -> None:
    url, cred, _ = http_platform
    calls = {"n": 0}
    real = httpx.HTTPTransport()

    class Flaky(httpx.BaseTransport):
        def handle_request(self, req: httpx.Request) -> httpx.Response:
            calls["n"] += 1
            if calls["n"] == 1:
                return httpx.Response(503, json={"code": "unavailable"})
            return real.handle_request(req)

    path = tmp_path / "c.json"
    write_private(path, cred.model_dump_json())
    cfg = KioskConfig.model_validate({"backend": {"kind": "http", "url": url,
                                                  "credentials_file": str(path)}})
    backend = HttpBackend(cfg, transport=Flaky(), backoff_s=0.01)
    assert backend.list_matters() and calls["n"] == 2
