"""Issue 17, appointments over real HTTP (uvicorn, the http adapter): the whole contract,
errors as typed contract errors, a retried booking after a lost answer, and concurrent
bookings that never overbook a slot (SQLite and PostgreSQL behind the server)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kiosk.backend.contract import (
    Appointment,
    AppointmentState,
    BackendError,
    InvalidRequest,
    NotFound,
    Refused,
)
from kiosk.backend.credentials import CredentialStore, KioskCredential
from kiosk.backend.http import HttpBackend
from kiosk.backend.platform.app import create_app
from kiosk.backend.platform.models import AppointmentRow
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig
from tests.kiosk.backend.conftest import live_server
from tests.kiosk.backend.helpers import card
from tests.kiosk.backend.test_appointments_halls import BIRTH, CENTRE, TUESDAY_9, choice
from tests.kiosk.backend.test_http import make_backend

Served = tuple[str, KioskCredential, PlatformService]
PEOPLE = ("huang", "chen", "he", "lee")


@pytest.fixture()
def served(fresh_platform: PlatformService) -> Iterator[Served]:
    """A platform of its own (SQLite, then PostgreSQL) behind a live uvicorn server."""
    store = CredentialStore()
    cred = store.issue("kiosk-test")
    with live_server(create_app(fresh_platform, store)) as url:
        yield url, cred, fresh_platform


def open_rows(service: PlatformService, **where: Any) -> int:
    with Session(service.engine) as s:
        query = select(func.count()).select_from(AppointmentRow).where(
            AppointmentRow.cancelled_at.is_(None))
        for name, value in where.items():
            query = query.where(getattr(AppointmentRow, name) == value)
        return s.scalar(query) or 0


def test_the_contract_over_http(served: Served, tmp_path: Path) -> None:
    url, cred, service = served
    backend = make_backend(tmp_path, url, cred)
    try:
        halls = backend.list_halls(BIRTH, "禅城区")
        assert halls[0].id == "cc-admin-centre" and {h.id for h in halls} >= {CENTRE}
        slots = backend.appointment_slots(CENTRE, BIRTH)
        assert slots[0].at == TUESDAY_9 and slots[0].at.utcoffset() is not None
        holder = backend.check_identity(card("huang"))
        booked = backend.book_appointment(BIRTH, holder.ref, choice(TUESDAY_9))
        assert booked.at == TUESDAY_9 and booked.hall_id == CENTRE and booked.check_code
        assert backend.list_appointments(holder.ref) == [booked]
        assert next(s for s in backend.appointment_slots(CENTRE, BIRTH)
                    if s.at == TUESDAY_9).free == 1
        cancelled = backend.cancel_appointment(booked.appointment_no, holder.ref)
        assert cancelled.state is AppointmentState.CANCELLED
        assert backend.cancel_appointment(booked.appointment_no, holder.ref) == cancelled
        assert backend.list_appointments(holder.ref) == []
        # errors arrive as the contract's typed errors with their codes
        cases: list[tuple[Any, type[BackendError], str]] = [
            (lambda: backend.appointment_slots("no-such-hall", BIRTH), NotFound,
             "hall_not_found"),
            (lambda: backend.appointment_slots("nh-guicheng", "sole-trader-register"),
             InvalidRequest, "matter_not_at_hall"),
            (lambda: backend.book_appointment(BIRTH, holder.ref,
                                              choice(TUESDAY_9.replace(minute=7))),
             InvalidRequest, "slot_invalid"),
            (lambda: backend.cancel_appointment("YY2026060212345678", holder.ref), NotFound,
             "appointment_not_found"),
            (lambda: backend.list_halls("no-such-matter"), NotFound, "matter_not_found"),
        ]
        for call, kind, code in cases:
            with pytest.raises(kind) as err:
                call()
            assert err.value.code == code
        # the first free slot without a choice (the older call) still books
        legacy = backend.book_appointment(BIRTH, holder.ref)
        assert legacy.at == TUESDAY_9 and legacy.hall_id == CENTRE
        # a holder reference never travels in a URL
        raw = httpx.get(f"{url}/v1/holder/appointments",
                        headers={"Authorization": f"Bearer {cred.token}"})
        assert raw.status_code == 422
    finally:
        backend.close()


class LostAnswer(httpx.BaseTransport):
    """Delivers every request to the server, but loses the answer to the first booking (a
    dropped connection after the platform booked): the adapter must retry."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and "/appointments" in request.url.path and not self.lost:
            response.read()
            self.lost += 1
            raise httpx.ReadError("connection reset after the booking", request=request)
        return response

    def close(self) -> None:
        self.inner.close()


def test_a_booking_whose_answer_was_lost_is_retried_once(served: Served,
                                                         tmp_path: Path) -> None:
    url, cred, service = served
    plain = make_backend(tmp_path, url, cred)
    wire = LostAnswer()
    path = tmp_path / "kiosk-cred.json"  # written by make_backend
    cfg = KioskConfig.model_validate({"kiosk": {"id": "kiosk-test"}, "backend": {
        "kind": "http", "url": url, "retries": 2, "credentials_file": str(path)}})
    lossy = HttpBackend(cfg, transport=wire, backoff_s=0.01)
    try:
        holder = plain.check_identity(card("chen"))
        booked = lossy.book_appointment(BIRTH, holder.ref, choice(TUESDAY_9))
        assert wire.lost == 1  # the first answer never arrived
        assert plain.list_appointments(holder.ref) == [booked]
        assert open_rows(service) == 1
    finally:
        plain.close()
        lossy.close()


def test_concurrent_bookings_over_http_never_overbook(served: Served, tmp_path: Path) -> None:
    url, cred, service = served
    clients = [make_backend(tmp_path, url, cred) for _ in range(len(PEOPLE) * 2)]
    try:
        refs = [(key, clients[0].check_identity(card(key)).ref)
                for key in PEOPLE for _ in range(2)]
        barrier = threading.Barrier(len(refs))
        booked: list[tuple[str, Appointment]] = []
        refused: list[str] = []
        other: list[str] = []

        def book(client: HttpBackend, key: str, ref: str) -> None:
            barrier.wait(10)
            try:
                booked.append((key, client.book_appointment(BIRTH, ref, choice(TUESDAY_9))))
            except Refused as exc:
                refused.append(exc.code)
            except Exception as exc:  # reported by the assertion below
                other.append(f"{type(exc).__name__}: {getattr(exc, 'code', exc)}")

        threads = [threading.Thread(target=book, args=(c, k, r))
                   for c, (k, r) in zip(clients, refs, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert other == []
        assert len(booked) == 2  # the slot has two windows: two places, no more
        assert len({key for key, _a in booked}) == 2 and \
            {a.window for _k, a in booked} == {1, 2}
        assert len(refused) == len(refs) - 2
        assert set(refused) <= {"slot_full", "appointment_same_time"}
        assert open_rows(service, hall_id=CENTRE) == 2
        slot = next(s for s in clients[0].appointment_slots(CENTRE, BIRTH)
                    if s.at == TUESDAY_9)
        assert slot.free == 0

        # the same booking sent six times at once (a kiosk retrying): one appointment
        ref = clients[0].check_identity(card("huang")).ref
        same = choice(TUESDAY_9.replace(minute=15), key=uuid.uuid4().hex)
        answers: list[str] = []
        barrier = threading.Barrier(6)

        def again(client: HttpBackend) -> None:
            barrier.wait(10)
            try:
                answers.append(client.book_appointment(BIRTH, ref, same).appointment_no)
            except Exception as exc:  # reported by the assertion below
                other.append(f"{type(exc).__name__}: {getattr(exc, 'code', exc)}")

        threads = [threading.Thread(target=again, args=(c,)) for c in clients[:6]]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert other == [] and len(answers) == 6 and len(set(answers)) == 1
        assert open_rows(service, idempotency_key=same.idempotency_key) == 1
    finally:
        for c in clients:
            c.close()
