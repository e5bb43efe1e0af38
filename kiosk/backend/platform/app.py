"""The reference platform over HTTP (FastAPI): the backend contract, per-kiosk bearer tokens,
errors as ``application/problem+json`` (RFC 9457) carrying the contract's error ``code``.

Holder references travel in the ``X-Holder-Ref`` header, never in URLs (URLs end up in logs).
What a kiosk token reaches is decided by the service (see
:mod:`kiosk.backend.platform.service`): its own holder sessions, and applications only through
the session that submitted them. ``/docs``, ``/redoc`` and ``/openapi.json`` are public only
with ``public_docs``; otherwise ``/openapi.json`` needs a kiosk token and there are no docs.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiosk.backend.bundles import Bundle
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    Appointment,
    AppointmentSlot,
    BackendError,
    CardIdentity,
    Certificate,
    Delivery,
    DocumentVerification,
    Hall,
    Holder,
    Matter,
    NotFound,
    PayloadTooLarge,
    PreparedApplication,
    Rating,
    SlotChoice,
    Unauthorized,
)
from kiosk.backend.credentials import CredentialStore
from kiosk.backend.platform.service import PlatformService

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"
MAX_BODY = 64 * 1024
API = "/v1"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]


class Problem(BaseModel):
    """An error (RFC 9457) with the contract's stable ``code``."""

    type: str = "about:blank"
    title: str
    status: int
    code: str
    detail: str = ""


class CodePayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payload: str = Field(max_length=2048)


class EnterpriseCheck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    uscc: str = Field(max_length=32)
    representative_ref: str = Field(max_length=64)


class DocumentCode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=512)


class DeliveryChoice(BaseModel):
    """How the result of an application is delivered (``PUT .../delivery``)."""

    model_config = ConfigDict(extra="forbid")
    delivery: Delivery
    mail_address: str | None = Field(None, max_length=500)


class CertificateDocumentWire(BaseModel):
    """A certificate and its PDF (base64) as sent over HTTP."""

    certificate: Certificate
    pdf_base64: str
    verification_code: str | None = None


_PROBLEM_CONTENT = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": Problem, "description": text, "content": _PROBLEM_CONTENT}
    for status, text in ((401, "Missing or bad kiosk credentials"), (404, "Not found"),
                         (409, "Refused"), (413, "Body too large"), (422, "Invalid request"))
}


_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\u2028\u2029\u202a-\u202e"
                     r"\u2066-\u2069\ufeff]")


def _safe(text: str, limit: int = 300) -> str:
    """``text`` fit for a response and a log: no surrogates or controls, bounded."""
    return _UNSAFE.sub("?", text[:limit])


def problem(status: int, code: str, detail: str = "", title: str = "") -> JSONResponse:
    body = Problem(title=_safe(title or code.replace("_", " ")), status=status,
                   code=_safe(code, 64), detail=_safe(detail))
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM,
                        headers={"WWW-Authenticate": "Bearer"} if status == 401 else None)


class BodyLimit:
    """ASGI middleware: refuse bodies over ``limit`` bytes with 413 (declared or streamed)."""

    def __init__(self, app: Asgi, limit: int = MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.limit):
                await self._too_large(scope, receive, send)
                return
        if any(name == b"content-length" for name, _v in scope.get("headers", [])):
            await self.app(scope, receive, send)  # declared size within the limit
            return
        # streamed (chunked) body: buffer it up to the limit, then replay it to the app
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.limit:
                await self._too_large(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        resp = problem(413, PayloadTooLarge.code, f"body over {self.limit} bytes")
        await resp(scope, receive, send)


_bearer = HTTPBearer(auto_error=False)


def _kiosk(request: Request,
           auth: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> str:
    """The authenticated kiosk id (401 without a valid bearer token)."""
    store: CredentialStore = request.app.state.credentials
    kiosk_id = store.verify(auth.credentials) if auth else None
    if kiosk_id is None:
        raise Unauthorized("missing or bad kiosk credentials")
    return kiosk_id


Kiosk = Annotated[str, Depends(_kiosk)]
Ref = Annotated[str, Header(alias="X-Holder-Ref", max_length=64)]
# on application endpoints a missing reference answers like an unknown application
OwnerRef = Annotated[str | None, Header(alias="X-Holder-Ref", max_length=64)]


def _owner(ref: str | None) -> str:
    if not ref:
        raise NotFound("no such application", code="application_not_found")
    return ref


def create_app(service: PlatformService, credentials: CredentialStore,
               max_body: int = MAX_BODY, *, public_docs: bool = False) -> FastAPI:
    """The HTTP face of ``service``; every endpoint but ``/health`` needs a kiosk token.
    ``public_docs``: serve ``/docs``, ``/redoc`` and ``/openapi.json`` without a token."""
    docs: dict[str, Any] = {} if public_docs else {"docs_url": None, "redoc_url": None,
                                                   "openapi_url": None}
    app = FastAPI(title="Reference government platform (kiosk backend contract)",
                  version="1.0", description=__doc__, **docs)
    app.state.credentials = credentials

    @app.exception_handler(BackendError)
    async def _backend_error(_r: Request, exc: BackendError) -> JSONResponse:
        return problem(exc.http_status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_r: Request, exc: RequestValidationError) -> JSONResponse:
        # locations only, never values; a hostile dict key is made safe by problem()
        where = "; ".join(".".join(str(p)[:64] for p in e.get("loc", ()))
                          for e in exc.errors()[:5])
        return problem(422, "invalid_request", f"invalid: {where}")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_r: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, "not_found" if exc.status_code == 404 else
                       "http_error", str(exc.detail))

    @app.exception_handler(Exception)
    async def _crash(_r: Request, exc: Exception) -> JSONResponse:
        log.error("internal error: %s", type(exc).__name__)
        return problem(500, "internal_error")

    app.add_middleware(BodyLimit, limit=max_body)

    @app.get("/health")
    def health() -> dict[str, object]:
        return service.health()

    if not public_docs:
        @app.get("/openapi.json", include_in_schema=False)
        def openapi(_k: Kiosk) -> JSONResponse:
            return JSONResponse(app.openapi())

    @app.post(f"{API}/identity/card", responses=ERRORS)
    def check_identity(card: CardIdentity, kiosk_id: Kiosk) -> Holder:
        return service.check_identity(card, kiosk_id=kiosk_id)

    @app.post(f"{API}/identity/code", responses=ERRORS)
    def verify_identity_code(body: CodePayload, kiosk_id: Kiosk) -> Holder:
        return service.verify_identity_code(body.payload, kiosk_id=kiosk_id)

    @app.post(f"{API}/identity/enterprise", responses=ERRORS)
    def check_enterprise(body: EnterpriseCheck, kiosk_id: Kiosk) -> Holder:
        return service.check_enterprise(body.uscc, body.representative_ref, kiosk_id=kiosk_id)

    @app.get(f"{API}/holder/photo", response_class=Response, responses={
        **ERRORS, 200: {"content": {"image/jpeg": {"schema": {"type": "string",
                                                                "format": "binary"}}},
                        "description": "JPEG reference photo"},
        204: {"description": "No reference photo"}})
    def reference_photo(ref: Ref, kiosk_id: Kiosk) -> Response:
        photo = service.reference_photo(ref, kiosk_id=kiosk_id)
        if photo is None:
            return Response(status_code=204)
        return Response(photo, media_type="image/jpeg", headers={"Cache-Control": "no-store"})

    @app.delete(f"{API}/holder", status_code=204, response_class=Response, responses=ERRORS)
    def end_session(ref: Ref, kiosk_id: Kiosk) -> Response:
        service.end_session(ref, kiosk_id=kiosk_id)
        return Response(status_code=204)

    @app.get(f"{API}/holder/certificates", responses=ERRORS)
    def list_certificates(ref: Ref, kiosk_id: Kiosk) -> list[Certificate]:
        return service.list_certificates(ref, kiosk_id=kiosk_id)

    @app.get(f"{API}/holder/certificates/{{identifier}}/document", responses=ERRORS)
    def certificate_document(identifier: Annotated[str, Path(max_length=120)], ref: Ref,
                             kiosk_id: Kiosk) -> CertificateDocumentWire:
        doc = service.certificate_document(ref, identifier, kiosk_id=kiosk_id)
        return CertificateDocumentWire(certificate=doc.certificate,
                                       pdf_base64=base64.b64encode(doc.pdf).decode(),
                                       verification_code=doc.verification_code)

    @app.post(f"{API}/documents/verify", responses=ERRORS)
    def verify_document_code(body: DocumentCode, _k: Kiosk) -> DocumentVerification:
        return service.verify_document_code(body.code)

    @app.get(f"{API}/matters", responses=ERRORS)
    def list_matters(_k: Kiosk) -> list[Matter]:
        return service.list_matters()

    @app.get(f"{API}/bundles", responses=ERRORS)
    def list_bundles(_k: Kiosk) -> list[Bundle]:
        """Themed bundles (一件事一次办) whose matters are all in the catalogue."""
        from kiosk.backend.platform import bundles

        return bundles.list_bundles(service.list_matters())

    @app.get(f"{API}/bundles/{{bundle_id}}", responses=ERRORS)
    def get_bundle(bundle_id: Annotated[str, Path(max_length=64)], _k: Kiosk) -> Bundle:
        from kiosk.backend.platform import bundles

        return bundles.get_bundle(service.list_matters(), bundle_id)

    @app.get(f"{API}/matters/{{matter_id}}/prepared", responses=ERRORS)
    def prepare_application(matter_id: Annotated[str, Path(max_length=64)], ref: Ref,
                            kiosk_id: Kiosk) -> PreparedApplication:
        return service.prepare_application(matter_id, ref, kiosk_id=kiosk_id)

    @app.get(f"{API}/halls", responses=ERRORS)
    def list_halls(_k: Kiosk, matter_id: Annotated[str | None, Query(max_length=64)] = None,
                   district: Annotated[str | None, Query(max_length=40)] = None) -> list[Hall]:
        return service.list_halls(matter_id, district)

    @app.get(f"{API}/halls/{{hall_id}}/slots", responses=ERRORS)
    def appointment_slots(hall_id: Annotated[str, Path(max_length=40)],
                          matter_id: Annotated[str, Query(max_length=64)],
                          _k: Kiosk) -> list[AppointmentSlot]:
        return service.appointment_slots(hall_id, matter_id)

    @app.post(f"{API}/matters/{{matter_id}}/appointments", responses=ERRORS)
    def book_appointment(matter_id: Annotated[str, Path(max_length=64)], ref: Ref,
                         kiosk_id: Kiosk, choice: SlotChoice | None = None) -> Appointment:
        """Book the chosen slot (idempotent by its key); without a body, the first free
        slot."""
        return service.book_appointment(matter_id, ref, choice, kiosk_id=kiosk_id)

    @app.get(f"{API}/holder/appointments", responses=ERRORS)
    def list_appointments(ref: Ref, kiosk_id: Kiosk) -> list[Appointment]:
        return service.list_appointments(ref, kiosk_id=kiosk_id)

    @app.delete(f"{API}/holder/appointments/{{appointment_no}}", responses=ERRORS)
    def cancel_appointment(appointment_no: Annotated[str, Path(max_length=32)], ref: Ref,
                           kiosk_id: Kiosk) -> Appointment:
        return service.cancel_appointment(appointment_no, ref, kiosk_id=kiosk_id)

    @app.post(f"{API}/applications", responses=ERRORS)
    def submit_application(request: ApplicationRequest, kiosk_id: Kiosk) -> ApplicationReceipt:
        return service.submit_application(request, kiosk_id=kiosk_id)

    @app.get(f"{API}/applications/{{application_no}}", responses=ERRORS)
    def application_status(application_no: Annotated[str, Path(max_length=32)],
                           kiosk_id: Kiosk, ref: OwnerRef = None) -> ApplicationReceipt:
        return service.application_status(application_no, _owner(ref), kiosk_id=kiosk_id)

    @app.put(f"{API}/applications/{{application_no}}/delivery", responses=ERRORS)
    def set_delivery(application_no: Annotated[str, Path(max_length=32)], body: DeliveryChoice,
                     kiosk_id: Kiosk, ref: OwnerRef = None) -> ApplicationReceipt:
        return service.set_delivery(application_no, _owner(ref), body.delivery,
                                    body.mail_address, kiosk_id=kiosk_id)

    @app.get(f"{API}/applications/{{application_no}}/result", response_class=Response,
             responses={**ERRORS, 200: {"content": {"application/pdf": {
                 "schema": {"type": "string", "format": "binary"}}},
                 "description": "Result document (PDF)"}})
    def result_document(application_no: Annotated[str, Path(max_length=32)],
                        kiosk_id: Kiosk, ref: OwnerRef = None) -> Response:
        pdf = service.result_document(application_no, _owner(ref), kiosk_id=kiosk_id)
        return Response(pdf, media_type="application/pdf")

    @app.post(f"{API}/ratings", status_code=204, response_class=Response, responses=ERRORS)
    def rate(rating: Rating, kiosk_id: Kiosk, ref: OwnerRef = None) -> Response:
        service.rate(rating, _owner(ref), kiosk_id=kiosk_id)
        return Response(status_code=204)

    return app
