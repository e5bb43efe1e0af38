"""The backend adapter contract: what a kiosk asks of a government platform.

One protocol, several implementations (``embedded`` reference platform in-process, ``http``
to a remote platform). Values are pydantic models so they cross HTTP unchanged. Every
failure is a :class:`BackendError` subclass with a stable ``code``; the kiosk turns codes
into plain messages for the citizen.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

# ---------------------------------------------------------------------------------------
# errors


class BackendError(Exception):
    """A typed failure of a backend call. ``code`` is stable; ``message`` is for logs."""

    code = "backend_error"
    http_status = 500

    def __init__(self, message: str = "", *, code: str | None = None) -> None:
        super().__init__(message or self.code)
        if code:
            self.code = code

    @property
    def message(self) -> str:
        return str(self.args[0])


class InvalidRequest(BackendError):
    code = "invalid_request"
    http_status = 422


class PayloadTooLarge(InvalidRequest):
    code = "payload_too_large"
    http_status = 413


class NotFound(BackendError):
    code = "not_found"
    http_status = 404


class Unauthorized(BackendError):
    code = "unauthorized"
    http_status = 401


class Refused(BackendError):
    """A well-formed request the platform refuses: expired card, revoked certificate,
    identity mismatch, expired or replayed identity code (``code`` says which)."""

    code = "refused"
    http_status = 409


class Unavailable(BackendError):
    """The platform cannot be reached or answered 5xx; the kiosk may retry later."""

    code = "unavailable"
    http_status = 503


# ---------------------------------------------------------------------------------------
# values


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


I18nText = dict[str, str]
"""Text by language code: ``zh_CN`` (always present), ``zh_HK``, ``en``."""


class HolderKind(enum.StrEnum):
    NATURAL = "natural"  # a person, by ID number (GB 11643)
    LEGAL = "legal"  # an enterprise, by unified social credit code (GB 32100)


class CardIdentity(_Model):
    """What the kiosk read from an ID card, sent for the identity check."""

    card_type: Literal["resident", "hk_mo_tw", "foreign_permanent"] = "resident"
    name: str
    id_number: str
    valid_from: dt.date
    valid_to: dt.date | None = None  # None: 长期 (long-term)


class Holder(_Model):
    """A verified holder. ``ref`` is an opaque per-session reference for later calls."""

    ref: str
    kind: HolderKind
    name: str
    code: str  # ID number or USCC
    code_type: str  # e.g. 居民身份证号码, 统一社会信用代码
    representative_ref: str | None = None  # legal persons: the representative's ref


class CertificateStatus(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


class Certificate(_Model):
    """An electronic certificate's metadata (GB/T 36901-36905)."""

    identifier: str
    type_code: str
    type_name: str
    number: str
    holder_name: str
    holder_code: str
    holder_code_type: str
    issuer: str
    issuer_code: str
    issue_date: dt.date
    valid_from: dt.date
    valid_to: dt.date | None = None  # None: long-term
    status: CertificateStatus
    fields: dict[str, str] = Field(default_factory=dict)  # data items for form filling


class CertificateDocument(_Model):
    certificate: Certificate
    pdf: bytes
    verification_code: str | None = None  # the code printed on the copy (verify_document_code)


class DocumentVerification(_Model):
    """Outcome of scanning a verification code printed on a kiosk document."""

    authentic: bool
    valid: bool
    kind: str  # receipt | result | certificate_copy
    title: str
    issued_at: dt.datetime | None = None
    reason: str | None = None


class Material(_Model):
    id: str
    name: I18nText
    certificate_type: str | None = None  # type code the material is bound to
    paper_only: bool = False
    required: bool = True
    paper_allowed: bool = True  # False: without a valid certificate the matter cannot go on
    # 告知承诺制: without a certificate, a signed commitment may replace the material; the
    # citizen signs ``commitment_text`` (per language) of version ``commitment_version``
    commitment_allowed: bool = False
    commitment_version: str | None = None
    commitment_text: I18nText = Field(default_factory=dict)


class FieldSource(_Model):
    kind: Literal["card", "certificate", "citizen", "holder"]
    certificate_type: str | None = None
    field: str | None = None  # key in the card / holder / certificate fields


class FormField(_Model):
    key: str
    label: I18nText
    source: FieldSource
    input: Literal["text", "digits", "phone", "date", "choice", "address"] = "text"
    choices: list[str] = Field(default_factory=list)
    required: bool = True
    pattern: str | None = None


class ApprovalMode(enum.StrEnum):
    INSTANT = "instant"  # 秒批: decided at once by declared rules
    REVIEW = "review"


class Delivery(enum.StrEnum):
    PRINT = "print"  # print at the kiosk (结果秒出)
    MAIL = "mail"
    COUNTER = "counter"  # collect at a counter
    ELECTRONIC = "electronic"  # electronic copy via a code


class Matter(_Model):
    """A government service matter (事项) with its guide, materials and form."""

    id: str
    name: I18nText
    category: Literal["personal", "enterprise"]
    department: I18nText
    keywords: list[str] = Field(default_factory=list)
    conditions: I18nText
    fee: I18nText
    time_limit_days: int
    materials: list[Material]
    fields: list[FormField]
    approval: ApprovalMode
    delivery: list[Delivery]
    needs_original: bool = False  # 原件核验 at a counter
    requires_face: bool = False
    devices: list[str] = Field(default_factory=list)  # devices the matter cannot do without

    @property
    def certificate_free(self) -> bool:
        """免证办: every required material is bound to a certificate type."""
        return all(m.certificate_type for m in self.materials if m.required)


class AttachedMaterial(_Model):
    material_id: str
    certificate_identifier: str | None  # None: not covered, the citizen must bring it
    waived: bool  # shown as 免提交


class PrefilledField(_Model):
    key: str
    value: str
    source: FieldSource


class PreparedApplication(_Model):
    """The certificate-free rule applied to one matter and holder (表单秒填, 材料秒报)."""

    matter_id: str
    holder_ref: str
    materials: list[AttachedMaterial]
    prefilled: list[PrefilledField]
    to_type: list[str]  # field keys no source gives
    blocking: list[str] = Field(default_factory=list)  # reasons the matter cannot go on


MAX_SIGNATURE_PNG = 24 * 1024
"""Bytes a commitment's signature PNG may have (it travels base64 in a 64 KiB request)."""


class SignedCommitment(_Model):
    """A signed commitment (告知承诺) replacing the material ``material_id``: the version of
    the text signed, in which language, when, the signature as a base64 PNG, and ``digest``
    binding text, signature and application (:func:`kiosk.backend.commitments.digest`)."""

    material_id: str = Field(min_length=1, max_length=64)
    text_version: str = Field(min_length=1, max_length=64)
    language: Literal["zh_CN", "zh_HK", "en"]
    signed_at: dt.datetime
    signature_png: str = Field(min_length=1, max_length=(MAX_SIGNATURE_PNG + 2) // 3 * 4)
    digest: str = Field(pattern=r"^[0-9a-f]{64}$")


class ApplicationRequest(_Model):
    idempotency_key: str = Field(min_length=8, max_length=64)
    matter_id: str
    holder_ref: str
    kiosk_id: str
    form: dict[str, str]
    attachments: list[str]  # certificate identifiers
    delivery: Delivery
    mail_address: str | None = None
    commitments: list[SignedCommitment] = Field(default_factory=list, max_length=10)


class ApplicationState(enum.StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    APPROVED = "approved"
    REJECTED = "rejected"
    RESULT_ISSUED = "result_issued"


class ApplicationReceipt(_Model):
    application_no: str
    matter_id: str
    state: ApplicationState
    submitted_at: dt.datetime
    decision_reason: str | None = None
    result_available: bool = False
    next_steps: I18nText = Field(default_factory=dict)
    # the platform-signed code printed on the receipt (kiosk.identity.doccodes); None for a
    # pending receipt issued by the kiosk's outbox while the platform was unreachable
    verification_code: str | None = None
    committed_materials: list[str] = Field(default_factory=list)  # replaced by a commitment


class Hall(_Model):
    """A government service hall that takes counter appointments (预约办)."""

    id: str
    name: I18nText
    district: str  # e.g. 南海区: a kiosk's own district is listed first
    address: I18nText
    hours: I18nText  # opening hours as the hall states them
    hotline: str
    matters: list[str] = Field(default_factory=list)  # matter ids bookable here


class AppointmentSlot(_Model):
    """A time slot of one hall for one matter: ``free`` of ``capacity`` places left."""

    at: dt.datetime
    capacity: int
    free: int


class SlotChoice(_Model):
    """The slot a citizen chose. ``idempotency_key`` makes a retried booking return the
    appointment it made instead of a second one."""

    hall_id: str = Field(min_length=1, max_length=40)
    at: dt.datetime
    idempotency_key: str = Field(min_length=8, max_length=64)


class AppointmentState(enum.StrEnum):
    BOOKED = "booked"
    CANCELLED = "cancelled"


class Appointment(_Model):
    """A counter appointment. ``check_code`` goes on the printed slip beside the number
    (the hall checks both); ``window`` is the counter's window number."""

    appointment_no: str
    matter_id: str
    counter: str
    at: dt.datetime
    hall_id: str | None = None
    window: int | None = None
    state: AppointmentState = AppointmentState.BOOKED
    check_code: str | None = None

    @property
    def slip_code(self) -> str:
        """What the slip's QR code holds: the number and the check code, nothing else."""
        return f"YYBL:{self.appointment_no}:{self.check_code or ''}"


class Rating(_Model):
    application_no: str
    score: Literal["good", "average", "bad"]
    reasons: list[str] = Field(default_factory=list)


@runtime_checkable
class BackendAdapter(Protocol):
    """What the kiosk needs of a government platform. Raises :class:`BackendError`.

    A holder reference belongs to the kiosk that obtained it; an application is reached only
    with the reference of the session that submitted it (another one answers ``NotFound``
    like an unknown number). After :meth:`end_session` only :meth:`submit_application` and
    :meth:`set_delivery` still accept the reference, within the platform's submit grace.
    """

    def health(self) -> dict[str, object]: ...

    def check_identity(self, card: CardIdentity) -> Holder: ...

    def verify_identity_code(self, payload: str) -> Holder: ...

    def check_enterprise(self, uscc: str, representative_ref: str) -> Holder: ...

    def reference_photo(self, holder_ref: str) -> bytes | None: ...

    def list_certificates(self, holder_ref: str) -> list[Certificate]: ...

    def certificate_document(self, holder_ref: str, identifier: str) -> CertificateDocument: ...

    def verify_document_code(self, code: str) -> DocumentVerification: ...

    def list_matters(self) -> list[Matter]: ...

    def prepare_application(self, matter_id: str, holder_ref: str) -> PreparedApplication: ...

    def submit_application(self, request: ApplicationRequest) -> ApplicationReceipt: ...

    def application_status(self, application_no: str, holder_ref: str) -> ApplicationReceipt:
        ...

    def set_delivery(self, application_no: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None) -> ApplicationReceipt:
        """Record how the result is delivered (idempotent; ``InvalidRequest`` with
        ``delivery_not_offered`` or ``mail_address_missing``)."""
        ...

    def result_document(self, application_no: str, holder_ref: str) -> bytes: ...

    def list_halls(self, matter_id: str | None = None,
                   district: str | None = None) -> list[Hall]:
        """The halls taking appointments (for ``matter_id`` only, if given), those of
        ``district`` first."""
        ...

    def appointment_slots(self, hall_id: str, matter_id: str) -> list[AppointmentSlot]:
        """The slots of the coming working days at ``hall_id`` for ``matter_id``, full
        ones included (``free`` 0); never a past one."""
        ...

    def book_appointment(self, matter_id: str, holder_ref: str,
                         choice: SlotChoice | None = None) -> Appointment:
        """Book ``choice`` (or, without one, the first free slot) for the holder of
        ``holder_ref``. Refused: ``slot_full``, ``appointment_limit``,
        ``appointment_same_time``, ``no_slot_available``; ``InvalidRequest``:
        ``slot_invalid``, ``matter_not_at_hall``, ``no_counter_needed``."""
        ...

    def list_appointments(self, holder_ref: str) -> list[Appointment]:
        """The open (booked, not yet past) appointments of the holder of ``holder_ref``."""
        ...

    def cancel_appointment(self, appointment_no: str, holder_ref: str) -> Appointment:
        """Cancel one of the holder's appointments (idempotent); another holder's answers
        ``NotFound`` like an unknown number; a past one is ``Refused``."""
        ...

    def rate(self, rating: Rating, holder_ref: str) -> None: ...

    def end_session(self, holder_ref: str) -> None:
        """Forget the per-session holder reference (privacy wipe)."""
        ...
