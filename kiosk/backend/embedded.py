"""The embedded backend: the reference platform in-process on SQLite (the default)."""

from __future__ import annotations

from kiosk.backend.bundles import Bundle
from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    Appointment,
    AppointmentSlot,
    CardIdentity,
    Certificate,
    CertificateDocument,
    Delivery,
    DocumentVerification,
    Hall,
    Holder,
    Matter,
    PreparedApplication,
    Rating,
    SlotChoice,
)
from kiosk.backend.platform.runtime import open_platform
from kiosk.backend.platform.service import PlatformService
from kiosk.config.schema import KioskConfig


class EmbeddedBackend:
    """:class:`~kiosk.backend.contract.BackendAdapter` over an in-process
    :class:`PlatformService` (database ``cfg.backend.db``, created and seeded on first use),
    acting as the kiosk ``cfg.kiosk.id`` (what a bearer token is over HTTP)."""

    def __init__(self, cfg: KioskConfig, service: PlatformService | None = None) -> None:
        self.kiosk_id = cfg.kiosk.id
        self.service = service or open_platform(
            cfg.backend.db, cfg.backend.identity_key_file, seed=cfg.backend.seed_demo,
            session_ttl_s=cfg.backend.session_ttl_s)

    def health(self) -> dict[str, object]:
        return {**self.service.health(), "kind": "embedded"}

    def check_identity(self, card: CardIdentity) -> Holder:
        return self.service.check_identity(card, kiosk_id=self.kiosk_id)

    def verify_identity_code(self, payload: str) -> Holder:
        return self.service.verify_identity_code(payload, kiosk_id=self.kiosk_id)

    def check_enterprise(self, uscc: str, representative_ref: str) -> Holder:
        return self.service.check_enterprise(uscc, representative_ref, kiosk_id=self.kiosk_id)

    def reference_photo(self, holder_ref: str) -> bytes | None:
        return self.service.reference_photo(holder_ref, kiosk_id=self.kiosk_id)

    def list_certificates(self, holder_ref: str) -> list[Certificate]:
        return self.service.list_certificates(holder_ref, kiosk_id=self.kiosk_id)

    def certificate_document(self, holder_ref: str, identifier: str) -> CertificateDocument:
        return self.service.certificate_document(holder_ref, identifier,
                                                 kiosk_id=self.kiosk_id)

    def verify_document_code(self, code: str) -> DocumentVerification:
        return self.service.verify_document_code(code)

    def list_matters(self) -> list[Matter]:
        return self.service.list_matters()

    def list_bundles(self) -> list[Bundle]:
        from kiosk.backend.platform import bundles

        return bundles.list_bundles(self.service.list_matters())

    def get_bundle(self, bundle_id: str) -> Bundle:
        from kiosk.backend.platform import bundles

        return bundles.get_bundle(self.service.list_matters(), bundle_id)

    def prepare_application(self, matter_id: str, holder_ref: str) -> PreparedApplication:
        return self.service.prepare_application(matter_id, holder_ref, kiosk_id=self.kiosk_id)

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt:
        return self.service.submit_application(request, kiosk_id=self.kiosk_id)

    def application_status(self, application_no: str, holder_ref: str) -> ApplicationReceipt:
        return self.service.application_status(application_no, holder_ref,
                                               kiosk_id=self.kiosk_id)

    def set_delivery(self, application_no: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None) -> ApplicationReceipt:
        return self.service.set_delivery(application_no, holder_ref, delivery, mail_address,
                                         kiosk_id=self.kiosk_id)

    def result_document(self, application_no: str, holder_ref: str) -> bytes:
        return self.service.result_document(application_no, holder_ref, kiosk_id=self.kiosk_id)

    def list_halls(self, matter_id: str | None = None,
                   district: str | None = None) -> list[Hall]:
        return self.service.list_halls(matter_id, district)

    def appointment_slots(self, hall_id: str, matter_id: str) -> list[AppointmentSlot]:
        return self.service.appointment_slots(hall_id, matter_id)

    def book_appointment(self, matter_id: str, holder_ref: str,
                         choice: SlotChoice | None = None) -> Appointment:
        return self.service.book_appointment(matter_id, holder_ref, choice,
                                             kiosk_id=self.kiosk_id)

    def list_appointments(self, holder_ref: str) -> list[Appointment]:
        return self.service.list_appointments(holder_ref, kiosk_id=self.kiosk_id)

    def cancel_appointment(self, appointment_no: str, holder_ref: str) -> Appointment:
        return self.service.cancel_appointment(appointment_no, holder_ref,
                                               kiosk_id=self.kiosk_id)

    def rate(self, rating: Rating, holder_ref: str) -> None:
        self.service.rate(rating, holder_ref, kiosk_id=self.kiosk_id)

    def end_session(self, holder_ref: str) -> None:
        self.service.end_session(holder_ref, kiosk_id=self.kiosk_id)
