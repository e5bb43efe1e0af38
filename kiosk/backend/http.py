"""The HTTP backend: the contract over HTTPS to a remote platform (httpx).

Timeouts on every call; retries with exponential backoff for idempotent calls and for
``submit_application`` (safe thanks to its idempotency key); problem+json errors mapped back to
the contract's error classes; connection failures and 5xx become :class:`Unavailable`.
The bearer token is read from ``backend.credentials_file`` and re-read when that file
changes, so installing new credentials needs no restart.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import threading
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from kiosk.backend.bundles import Bundle
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    Appointment,
    AppointmentSlot,
    BackendError,
    CardIdentity,
    Certificate,
    CertificateDocument,
    Delivery,
    DocumentVerification,
    Hall,
    Holder,
    InvalidRequest,
    Matter,
    NotFound,
    PayloadTooLarge,
    PreparedApplication,
    Rating,
    Refused,
    SlotChoice,
    Unauthorized,
    Unavailable,
)
from kiosk.backend.credentials import CredentialFile
from kiosk.config.schema import KioskConfig

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

ERRORS_BY_STATUS: dict[int, type[BackendError]] = {
    400: InvalidRequest, 401: Unauthorized, 403: Unauthorized, 404: NotFound, 409: Refused,
    413: PayloadTooLarge, 422: InvalidRequest,
}


def error_from_response(resp: httpx.Response) -> BackendError:
    """The contract error a problem+json (or any error) response stands for."""
    code, detail = None, ""
    try:
        body = resp.json()
        if isinstance(body, dict):
            code = body.get("code") if isinstance(body.get("code"), str) else None
            detail = str(body.get("detail") or "")
    except (ValueError, UnicodeDecodeError):
        pass
    if resp.status_code >= 500:
        return Unavailable(f"platform answered {resp.status_code}", code=code or "unavailable")
    cls = ERRORS_BY_STATUS.get(resp.status_code, BackendError)
    return cls(detail or f"HTTP {resp.status_code}", code=code)


def _seg(value: str) -> str:
    """``value`` as one URL path segment (an application number never holds a slash)."""
    return quote(value, safe="")


class HttpBackend:
    """:class:`~kiosk.backend.contract.BackendAdapter` over HTTP(S) to ``cfg.backend.url``."""

    def __init__(self, cfg: KioskConfig, transport: httpx.BaseTransport | None = None,
                 backoff_s: float = 0.2) -> None:
        if not cfg.backend.url:
            raise ValueError("backend.url is required for the http backend")
        self.kiosk_id = cfg.kiosk.id
        self.retries = cfg.backend.retries
        self.backoff_s = backoff_s
        headers = {"User-Agent": f"kiosk/{cfg.kiosk.id}"}
        self._credentials = (CredentialFile(cfg.backend.credentials_file)
                             if cfg.backend.credentials_file else None)
        timeout = httpx.Timeout(cfg.backend.timeout_s, connect=min(cfg.backend.timeout_s, 3.0))
        self._client = httpx.Client(base_url=cfg.backend.url.rstrip("/"), headers=headers,
                                    timeout=timeout, verify=cfg.backend.verify_tls,
                                    transport=transport)
        self._closed = threading.Event()

    def close(self) -> None:
        """Abort pending backoffs and close the connection pool."""
        self._closed.set()
        self._client.close()

    # -- plumbing ------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, body: Any = None, ref: str | None = None,
              retry: bool = False, params: dict[str, str] | None = None) -> httpx.Response:
        headers = {"X-Holder-Ref": ref} if ref is not None else {}
        if self._credentials is not None:
            headers["Authorization"] = f"Bearer {self._credentials.current().token}"
        attempts = 1 + (self.retries if retry else 0)
        last: BackendError = Unavailable("not tried")
        for attempt in range(attempts):
            if attempt:
                delay = min(self.backoff_s * 2 ** (attempt - 1), 2.0) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter
                if self._closed.wait(delay):
                    break
            try:
                resp = self._client.request(method, path, json=body, headers=headers,
                                            params=params)
            except httpx.TransportError as exc:
                last = Unavailable(f"platform unreachable: {type(exc).__name__}")
                continue
            except RuntimeError as exc:  # client closed
                raise Unavailable("backend client closed") from exc
            if resp.status_code < 400:
                return resp
            last = error_from_response(resp)
            if not isinstance(last, Unavailable):
                raise last
        raise last

    def _model(self, resp: httpx.Response, model: type[M]) -> M:
        try:
            return model.model_validate_json(resp.content)
        except ValidationError as exc:
            raise Unavailable("malformed platform response", code="bad_response") from exc

    def _list(self, resp: httpx.Response, model: type[M]) -> list[M]:
        try:
            return TypeAdapter(list[model]).validate_json(resp.content)  # type: ignore[valid-type]
        except ValidationError as exc:
            raise Unavailable("malformed platform response", code="bad_response") from exc

    # -- contract ------------------------------------------------------------------------
    def health(self) -> dict[str, object]:
        resp = self._call("GET", "/health", retry=True)
        try:
            data = resp.json()
        except json.JSONDecodeError as exc:
            raise Unavailable("malformed platform response", code="bad_response") from exc
        return {**data, "kind": "http"} if isinstance(data, dict) else {"kind": "http"}

    def check_identity(self, card: CardIdentity) -> Holder:
        resp = self._call("POST", "/v1/identity/card", body=card.model_dump(mode="json"),
                          retry=True)
        return self._model(resp, Holder)

    def verify_identity_code(self, payload: str) -> Holder:
        # single use: never retried (a retry after a lost answer would be a replay)
        return self._model(self._call("POST", "/v1/identity/code", body={"payload": payload}),
                           Holder)

    def check_enterprise(self, uscc: str, representative_ref: str) -> Holder:
        resp = self._call("POST", "/v1/identity/enterprise", retry=True,
                          body={"uscc": uscc, "representative_ref": representative_ref})
        return self._model(resp, Holder)

    def reference_photo(self, holder_ref: str) -> bytes | None:
        resp = self._call("GET", "/v1/holder/photo", ref=holder_ref, retry=True)
        return None if resp.status_code == 204 else resp.content

    def list_certificates(self, holder_ref: str) -> list[Certificate]:
        return self._list(self._call("GET", "/v1/holder/certificates", ref=holder_ref,
                                     retry=True), Certificate)

    def certificate_document(self, holder_ref: str, identifier: str) -> CertificateDocument:
        resp = self._call("GET", f"/v1/holder/certificates/{identifier}/document",
                          ref=holder_ref, retry=True)
        try:
            data = resp.json()
            return CertificateDocument(certificate=Certificate.model_validate(data["certificate"]),
                                       pdf=base64.b64decode(data["pdf_base64"], validate=True),
                                       verification_code=data.get("verification_code"))
        except (ValueError, KeyError, TypeError) as exc:
            raise Unavailable("malformed platform response", code="bad_response") from exc

    def verify_document_code(self, code: str) -> DocumentVerification:
        return self._model(self._call("POST", "/v1/documents/verify", body={"code": code},
                                      retry=True), DocumentVerification)

    def list_matters(self) -> list[Matter]:
        return self._list(self._call("GET", "/v1/matters", retry=True), Matter)

    def list_bundles(self) -> list[Bundle]:
        return self._list(self._call("GET", "/v1/bundles", retry=True), Bundle)

    def get_bundle(self, bundle_id: str) -> Bundle:
        return self._model(self._call("GET", f"/v1/bundles/{_seg(bundle_id)}", retry=True),
                           Bundle)

    def prepare_application(self, matter_id: str, holder_ref: str) -> PreparedApplication:
        return self._model(self._call("GET", f"/v1/matters/{matter_id}/prepared",
                                      ref=holder_ref, retry=True), PreparedApplication)

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        # retried: the idempotency key makes a repeat return the same application
        return self._model(self._call("POST", "/v1/applications", retry=True,
                                      body=request.model_dump(mode="json")), ApplicationReceipt)

    def application_status(self, application_no: str, holder_ref: str) -> ApplicationReceipt:
        return self._model(self._call("GET", f"/v1/applications/{_seg(application_no)}",
                                      ref=holder_ref, retry=True), ApplicationReceipt)

    def set_delivery(self, application_no: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None) -> ApplicationReceipt:
        # retried: setting the same delivery twice gives the same answer
        body = {"delivery": Delivery(delivery).value, "mail_address": mail_address}
        return self._model(self._call("PUT", f"/v1/applications/{_seg(application_no)}/delivery",
                                      body=body, ref=holder_ref, retry=True),
                           ApplicationReceipt)

    def result_document(self, application_no: str, holder_ref: str) -> bytes:
        return self._call("GET", f"/v1/applications/{_seg(application_no)}/result",
                          ref=holder_ref, retry=True).content

    def list_halls(self, matter_id: str | None = None,
                   district: str | None = None) -> list[Hall]:
        params = {k: v for k, v in (("matter_id", matter_id), ("district", district)) if v}
        return self._list(self._call("GET", "/v1/halls", params=params, retry=True), Hall)

    def appointment_slots(self, hall_id: str, matter_id: str) -> list[AppointmentSlot]:
        return self._list(self._call("GET", f"/v1/halls/{_seg(hall_id)}/slots",
                                     params={"matter_id": matter_id}, retry=True),
                          AppointmentSlot)

    def book_appointment(self, matter_id: str, holder_ref: str,
                         choice: SlotChoice | None = None) -> Appointment:
        # retried only with a chosen slot: its idempotency key makes a repeat return the
        # appointment it made (the first free slot has no key: a retry could book twice)
        body = choice.model_dump(mode="json") if choice is not None else None
        return self._model(self._call("POST", f"/v1/matters/{_seg(matter_id)}/appointments",
                                      body=body, ref=holder_ref, retry=choice is not None),
                           Appointment)

    def list_appointments(self, holder_ref: str) -> list[Appointment]:
        return self._list(self._call("GET", "/v1/holder/appointments", ref=holder_ref,
                                     retry=True), Appointment)

    def cancel_appointment(self, appointment_no: str, holder_ref: str) -> Appointment:
        # retried: cancelling a cancelled appointment gives the same answer
        return self._model(self._call("DELETE",
                                      f"/v1/holder/appointments/{_seg(appointment_no)}",
                                      ref=holder_ref, retry=True), Appointment)

    def rate(self, rating: Rating, holder_ref: str) -> None:
        self._call("POST", "/v1/ratings", body=rating.model_dump(mode="json"), ref=holder_ref,
                   retry=True)

    def end_session(self, holder_ref: str) -> None:
        self._call("DELETE", "/v1/holder", ref=holder_ref, retry=True)
