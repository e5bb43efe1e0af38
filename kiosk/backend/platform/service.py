"""The reference platform's business rules over SQLAlchemy (SQLite or PostgreSQL).

:class:`PlatformService` implements every operation of
:class:`kiosk.backend.contract.BackendAdapter`; the HTTP app and the embedded adapter are thin
layers over it. Holder references are opaque random session tokens mapped to holders here.

Authorization model (enforced here, in :meth:`PlatformService._resolve` and
:meth:`PlatformService._owned`; every method that touches a holder takes the authenticated
``kiosk_id``):

- A holder session belongs to the kiosk that opened it (card check, identity code,
  enterprise check). Any other kiosk gets the answer an unknown reference gets.
- A session lives ``session_ttl`` or until its kiosk ends it. After that only its own kiosk
  may still submit an application or set its delivery, within ``submit_grace`` (the kiosk's
  outbox delivers after the citizen left); nothing else.
- An application is reached (status, result, rating, delivery) only through the live
  session that submitted it; anything else gets the answer an unknown number gets.
  Application numbers carry random digits, so they cannot be enumerated.
- The identity check answers an unknown ID number like a known one with another name.
- Appointments belong to the holder, reached through a live session of the kiosk that
  opened it (:mod:`kiosk.backend.platform.booking`).
- Every text accepted goes through :func:`kiosk.backend.platform.text.clean_text`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import importlib
import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from kiosk.backend.contract import (
    ApplicationReceipt,
    ApplicationRequest,
    ApplicationState,
    Appointment,
    AppointmentSlot,
    ApprovalMode,
    AttachedMaterial,
    CardIdentity,
    Certificate,
    CertificateDocument,
    CertificateStatus,
    Delivery,
    DocumentVerification,
    Hall,
    Holder,
    HolderKind,
    I18nText,
    InvalidRequest,
    Matter,
    NotFound,
    PrefilledField,
    PreparedApplication,
    Rating,
    Refused,
    SlotChoice,
    Unavailable,
)
from kiosk.backend.platform import commitments as commit
from kiosk.backend.platform.appointments import CHINA, AppointmentPolicy
from kiosk.backend.platform.booking import AppointmentBook
from kiosk.backend.platform.models import (
    ApplicationRow,
    CertificateRow,
    DocumentCodeRow,
    HolderRow,
    MatterRow,
    RatingRow,
    SessionRow,
    UsedNonceRow,
)
from kiosk.backend.platform.text import clean_text
from kiosk.documents import (
    CertificateCopyInfo,
    ResultInfo,
    render_certificate_copy,
    render_result,
)
from kiosk.identity import checks

__all__ = ["CHINA", "AppointmentPolicy", "PlatformService", "next_steps",
           "load_reference_photo", "request_digest"]

log = logging.getLogger(__name__)

UTC = dt.UTC
ISSUER = "ref-platform"
PLATFORM_NAME = "佛山市南海区政务服务数据管理局"
_REF_RE = re.compile(r"[A-Za-z0-9_\-]{16,64}")
# NH + date + 8 random digits (6 sequential digits in numbers from older versions)
_APP_NO_RE = re.compile(r"NH\d{8}(?:\d{6}|\d{8})", re.ASCII)
_APP_NO_DIGITS = 8
_KEY_RE = re.compile(r"[A-Za-z0-9._:\-]{8,64}")
_MATTER_RE = re.compile(r"[a-z0-9\-]{1,64}")
_MAX_VALUE = 500
_DOC_ID_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def _utcnow() -> dt.datetime:
    return dt.datetime.now(UTC)


def _naive(t: dt.datetime) -> dt.datetime:
    return t.astimezone(UTC).replace(tzinfo=None)


def _aware(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def _unknown_ref() -> NotFound:
    return NotFound("unknown holder reference", code="holder_ref_unknown")


def _unknown_application() -> NotFound:
    return NotFound("no such application", code="application_not_found")


@dataclass
class _Context:
    """A resolved holder reference within one transaction."""

    session: SessionRow
    holder: HolderRow
    representative: HolderRow | None


class PlatformService:
    """Every contract operation, with all business rules, against one SQLAlchemy engine.

    ``clock`` returns an aware UTC datetime (tests move it); ``signing_key`` (an Ed25519
    ``nacl.signing.SigningKey``) signs identity codes and document verification codes;
    ``appointments`` sets opening hours and the per-holder limit.
    """

    def __init__(self, engine: Engine, signing_key: Any, *,
                 clock: Callable[[], dt.datetime] = _utcnow,
                 session_ttl_s: float = 1800.0, submit_grace_s: float = 7 * 86400.0,
                 appointments: AppointmentPolicy | None = None) -> None:
        self.engine = engine
        self.signing_key = signing_key
        self.clock = clock
        self.session_ttl = dt.timedelta(seconds=session_ttl_s)
        self.submit_grace = dt.timedelta(seconds=submit_grace_s)
        self.appointments = appointments or AppointmentPolicy()
        self.booking = AppointmentBook(self)
        self._trusted = {ISSUER: signing_key.verify_key}

    # -- plumbing ------------------------------------------------------------------------
    @contextmanager
    def _tx(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            yield s

    def _now(self) -> dt.datetime:
        return _aware(self.clock())

    def _today(self) -> dt.date:
        return self._now().astimezone(CHINA).date()

    def _new_session(self, s: Session, holder: HolderRow, kiosk_id: str,
                     representative_ref: str | None = None) -> str:
        kiosk_id = clean_text(kiosk_id, "kiosk_id", limit=64, strip=False)
        now = _naive(self._now())
        s.execute(delete(SessionRow).where(SessionRow.submit_until < now))
        ref = secrets.token_urlsafe(24)
        s.add(SessionRow(ref=ref, holder_id=holder.id, kiosk_id=kiosk_id,
                         representative_ref=representative_ref,
                         expires_at=now + self.session_ttl,
                         submit_until=now + self.submit_grace, ended=False))
        return ref

    def _resolve(self, s: Session, ref: str, kiosk_id: str, *,
                 for_submit: bool = False) -> _Context:
        """The live session ``ref`` of ``kiosk_id`` (``for_submit``: also an ended or idle
        one within the submit grace). Another kiosk's session answers like an unknown one."""
        ref = clean_text(ref, "holder_ref", limit=64, strip=False)
        if not _REF_RE.fullmatch(ref):
            raise _unknown_ref()
        row = s.get(SessionRow, ref)
        if row is None or not _same(row.kiosk_id, kiosk_id):
            raise _unknown_ref()
        now = _naive(self._now())
        limit = row.submit_until if for_submit else row.expires_at
        if now >= limit or (row.ended and not for_submit):
            raise NotFound("holder reference expired", code="session_expired")
        holder = s.get(HolderRow, row.holder_id)
        if holder is None:  # the session outlived its holder: treat it as unknown
            raise NotFound("unknown holder reference", code="holder_ref_unknown")
        rep = s.get(HolderRow, holder.representative_id) if holder.representative_id else None
        return _Context(row, holder, rep)

    def _holder_model(self, h: HolderRow, ref: str, rep_ref: str | None = None) -> Holder:
        return Holder(ref=ref, kind=HolderKind(h.kind), name=h.name, code=h.code,
                      code_type=h.code_type, representative_ref=rep_ref)

    def _status(self, c: CertificateRow) -> CertificateStatus:
        if c.revoked:
            return CertificateStatus.REVOKED
        if c.valid_to is not None and c.valid_to < self._today():
            return CertificateStatus.EXPIRED
        return CertificateStatus.VALID

    def _cert_model(self, c: CertificateRow, h: HolderRow) -> Certificate:
        return Certificate(
            identifier=c.identifier, type_code=c.type_code, type_name=c.type_name,
            number=c.number, holder_name=h.name, holder_code=h.code,
            holder_code_type=h.code_type, issuer=c.issuer, issuer_code=c.issuer_code,
            issue_date=c.issue_date, valid_from=c.valid_from, valid_to=c.valid_to,
            status=self._status(c), fields=dict(c.fields or {}))

    def _certs(self, s: Session, ctx: _Context) -> list[tuple[CertificateRow, HolderRow]]:
        owners = [ctx.holder] + ([ctx.representative] if ctx.representative else [])
        out: list[tuple[CertificateRow, HolderRow]] = []
        for owner in owners:
            rows = s.scalars(select(CertificateRow).where(CertificateRow.holder_id == owner.id)
                             .order_by(CertificateRow.type_code, CertificateRow.issue_date))
            out.extend((r, owner) for r in rows)
        return out

    def _doc_code(self, s: Session, kind: str, title: str, subject: str) -> str:
        from kiosk.identity.doccodes import make_doc_code

        # read out by a person at a counter: no look-alike characters, no punctuation
        doc_id = "".join(secrets.choice(_DOC_ID_ALPHABET) for _ in range(16))
        s.add(DocumentCodeRow(code=doc_id, kind=kind, title=title[:200],
                              issued_at=_naive(self._now()), subject=subject))
        return make_doc_code(self.signing_key, doc_id, kind, issuer=ISSUER)

    # -- holders -------------------------------------------------------------------------
    def health(self) -> dict[str, object]:
        with self._tx() as s:
            matters = s.scalar(select(func.count()).select_from(MatterRow)) or 0
        return {"ok": True, "platform": "reference", "matters": matters,
                "database": self.engine.dialect.name}

    def check_identity(self, card: CardIdentity, *, kiosk_id: str) -> Holder:
        name = clean_text(card.name, "name", limit=200)
        number = clean_text(card.id_number, "id_number", limit=32).upper()
        if card.card_type in ("resident", "hk_mo_tw"):
            try:
                number = checks.validate_id_number(number, today=self._today())
            except checks.CheckError as exc:
                code = "bad_check_digit" if exc.kind == "bad_check_digit" else "malformed_id"
                raise InvalidRequest(str(exc), code=code) from exc
        elif not re.fullmatch(r"[0-9A-Z]{15,18}", number):
            raise InvalidRequest("malformed permanent residence card number",
                                 code="malformed_id")
        today = self._today()
        if card.valid_from > today:
            raise Refused("card not yet valid", code="card_not_yet_valid")
        if card.valid_to is not None and card.valid_to < today:
            raise Refused("card expired", code="card_expired")
        with self._tx() as s:
            holder = s.scalar(select(HolderRow).where(HolderRow.code == number,
                                                      HolderRow.kind == HolderKind.NATURAL))
            # an unknown number answers like a known one with another name: no oracle
            if (holder is None or holder.name != name or holder.valid_from != card.valid_from
                    or holder.valid_to != card.valid_to):
                raise Refused("card does not match the population record",
                              code="identity_mismatch")
            ref = self._new_session(s, holder, kiosk_id)
            return self._holder_model(holder, ref)

    def verify_identity_code(self, payload: str, *, kiosk_id: str) -> Holder:
        """A session for the holder of a signed identity code, bound to ``kiosk_id``; a code
        naming another kiosk as its audience is refused (and not spent)."""
        from kiosk.identity import codes

        payload = clean_text(payload, "code", limit=2048, strip=False)
        now = self._now()
        try:
            claim = codes.verify_code(payload, self._trusted, now.timestamp(),
                                      audience=kiosk_id)
        except codes.CodeExpired as exc:
            raise Refused("identity code expired", code="code_expired") from exc
        except codes.CodeError as exc:
            raise Refused(f"identity code refused: {exc.code}", code="code_invalid") from exc
        expires = dt.datetime.fromtimestamp(claim.expires_at, UTC)
        try:
            with self._tx() as s:
                if s.get(UsedNonceRow, claim.nonce) is not None:
                    raise Refused("identity code already used", code="code_replayed")
                s.execute(delete(UsedNonceRow).where(UsedNonceRow.expires_at
                                                     < _naive(now) - dt.timedelta(minutes=5)))
                s.add(UsedNonceRow(nonce=claim.nonce, expires_at=_naive(expires)))
        except IntegrityError as exc:
            raise Refused("identity code already used", code="code_replayed") from exc
        with self._tx() as s:
            holder = s.get(HolderRow, claim.holder)
            if holder is None:
                raise NotFound("no such holder", code="holder_not_found")
            return self._holder_model(holder, self._new_session(s, holder, kiosk_id))

    def issue_identity_code(self, holder_code: str, ttl_s: int = 60, *,
                            audience: str | None = None) -> str:
        """A signed identity code for the holder with this ID number (the citizen's phone
        app in real life; demos and tests here); ``audience``: the one kiosk id that may
        accept it."""
        from kiosk.identity import codes

        with self._tx() as s:
            holder = s.scalar(select(HolderRow).where(HolderRow.code == holder_code.upper()))
            if holder is None or holder.kind != HolderKind.NATURAL:
                raise NotFound("no such holder", code="holder_not_found")
            holder_id = holder.id
        return codes.issue_code(self.signing_key, ISSUER, holder_id, self._now().timestamp(),
                                ttl_s=ttl_s, audience=audience)

    def check_enterprise(self, uscc: str, representative_ref: str, *, kiosk_id: str) -> Holder:
        try:
            code = checks.validate_uscc(clean_text(uscc, "uscc", limit=32))
        except checks.CheckError as exc:
            kind = "bad_check_digit" if exc.kind == "bad_check_digit" else "malformed_uscc"
            raise InvalidRequest(str(exc), code=kind) from exc
        with self._tx() as s:
            rep = self._resolve(s, representative_ref, kiosk_id)
            ent = s.scalar(select(HolderRow).where(HolderRow.code == code,
                                                   HolderRow.kind == HolderKind.LEGAL))
            if ent is None:
                raise NotFound("no such enterprise", code="holder_not_found")
            if ent.representative_id != rep.holder.id:
                raise Refused("not the legal representative", code="not_representative")
            ref = self._new_session(s, ent, kiosk_id, representative_ref)
            return self._holder_model(ent, ref, representative_ref)

    def reference_photo(self, holder_ref: str, *, kiosk_id: str) -> bytes | None:
        with self._tx() as s:
            ctx = self._resolve(s, holder_ref, kiosk_id)
            if ctx.holder.photo is None and ctx.holder.face_key:
                ctx.holder.photo = load_reference_photo(ctx.holder.face_key)
            return ctx.holder.photo

    def end_session(self, holder_ref: str, *, kiosk_id: str) -> None:
        """End a session of ``kiosk_id`` (and its enterprise sessions); anything else is
        ignored (a privacy wipe never fails, and no kiosk ends another's sessions)."""
        if not isinstance(holder_ref, str) or not _REF_RE.fullmatch(holder_ref):
            return
        with self._tx() as s:
            row = s.get(SessionRow, holder_ref)
            if row is not None and _same(row.kiosk_id, kiosk_id):
                row.ended = True
                for dep in s.scalars(select(SessionRow)
                                     .where(SessionRow.representative_ref == holder_ref)):
                    dep.ended = True

    # -- certificates --------------------------------------------------------------------
    def list_certificates(self, holder_ref: str, *, kiosk_id: str) -> list[Certificate]:
        with self._tx() as s:
            ctx = self._resolve(s, holder_ref, kiosk_id)
            rows = s.scalars(select(CertificateRow)
                             .where(CertificateRow.holder_id == ctx.holder.id)
                             .order_by(CertificateRow.type_code, CertificateRow.issue_date))
            return [self._cert_model(r, ctx.holder) for r in rows]

    def _check_identifier(self, identifier: str) -> str:
        try:
            return checks.validate_certificate_identifier(
                clean_text(identifier, "identifier", limit=120))
        except checks.CheckError as exc:
            code = "bad_check_digit" if exc.kind == "bad_check_digit" else "malformed_identifier"
            raise InvalidRequest(str(exc), code=code) from exc

    def certificate_document(self, holder_ref: str, identifier: str, *,
                             kiosk_id: str) -> CertificateDocument:
        identifier = self._check_identifier(identifier)
        with self._tx() as s:
            ctx = self._resolve(s, holder_ref, kiosk_id)
            owned = {c.identifier: (c, h) for c, h in self._certs(s, ctx)}
            if identifier not in owned:
                raise NotFound("no such certificate for this holder",
                               code="certificate_not_found")
            row, owner = owned[identifier]
            cert = self._cert_model(row, owner)
            if cert.status != CertificateStatus.VALID:
                raise Refused(f"certificate {cert.status.value}",
                              code=f"certificate_{cert.status.value}")
            title = f"{cert.type_name}（电子证照打印件）"
            code = self._doc_code(s, "certificate_copy", title, identifier)
        rows = [(cert.holder_code_type, cert.holder_code),
                ("有效期至", cert.valid_to.isoformat() if cert.valid_to else "长期")]
        rows += list(cert.fields.items())[:8]
        pdf = render_certificate_copy(CertificateCopyInfo(
            certificate_name=cert.type_name, certificate_number=cert.number,
            holder_name=cert.holder_name, issuer=cert.issuer,
            issue_date=cert.issue_date.isoformat(), identifier=cert.identifier,
            use_for="政务服务", kiosk_id="", printed_at=self._now().astimezone(CHINA),
            verification_code=code, fields=rows))
        return CertificateDocument(certificate=cert, pdf=pdf, verification_code=code)

    def verify_document_code(self, code: str) -> DocumentVerification:
        from kiosk.identity import codes, doccodes

        code = clean_text(code, "code", limit=512, strip=False)
        try:
            claim = doccodes.verify_doc_code(code, self._trusted)
        except codes.CodeError as exc:
            return DocumentVerification(authentic=False, valid=False, kind="unknown",
                                        title="", reason=exc.code)
        with self._tx() as s:
            row = s.get(DocumentCodeRow, claim.doc_id)
            if row is None:
                return DocumentVerification(authentic=False, valid=False, kind=claim.kind,
                                            title="", reason="unknown_document")
            valid, reason = True, None
            if row.kind == "certificate_copy":
                cert = s.get(CertificateRow, row.subject)
                status = self._status(cert) if cert else CertificateStatus.REVOKED
                valid = status == CertificateStatus.VALID
                reason = None if valid else f"certificate_{status.value}"
            return DocumentVerification(authentic=True, valid=valid, kind=row.kind,
                                        title=row.title, issued_at=_aware(row.issued_at),
                                        reason=reason)

    # -- matters -------------------------------------------------------------------------
    def list_matters(self) -> list[Matter]:
        with self._tx() as s:
            rows = s.scalars(select(MatterRow).order_by(MatterRow.position))
            return [Matter.model_validate(r.definition) for r in rows]

    def _matter(self, s: Session, matter_id: str) -> tuple[MatterRow, Matter]:
        matter_id = clean_text(matter_id, "matter_id", limit=64, strip=False)
        row = s.get(MatterRow, matter_id) if _MATTER_RE.fullmatch(matter_id) else None
        if row is None:
            raise NotFound("no such matter", code="matter_not_found")
        return row, Matter.model_validate(row.definition)

    def _prepare(self, s: Session, matter: Matter, ctx: _Context,
                 ref: str) -> PreparedApplication:
        certs = self._certs(s, ctx)
        by_type: dict[str, list[tuple[CertificateRow, HolderRow]]] = {}
        for c, h in certs:
            by_type.setdefault(c.type_code, []).append((c, h))

        def valid_of(type_code: str | None) -> CertificateRow | None:
            for c, _h in reversed(by_type.get(type_code or "", [])):
                if self._status(c) == CertificateStatus.VALID:
                    return c
            return None

        blocking: list[str] = []
        want = HolderKind.NATURAL if matter.category == "personal" else HolderKind.LEGAL
        if ctx.holder.kind != want:
            blocking.append(f"wrong_holder_kind:{matter.category}")
        materials: list[AttachedMaterial] = []
        for m in matter.materials:
            cert = valid_of(m.certificate_type) if m.certificate_type else None
            materials.append(AttachedMaterial(
                material_id=m.id, certificate_identifier=cert.identifier if cert else None,
                waived=cert is not None))
            if (cert is None and m.required and m.certificate_type and not m.paper_allowed
                    and not commit.waivable(matter, m.id)):  # else a commitment at submit
                others = by_type.get(m.certificate_type, [])
                state = self._status(others[-1][0]).value if others else "missing"
                blocking.append(f"certificate_{state}:{m.id}")
        person = ctx.representative if ctx.holder.kind == HolderKind.LEGAL else ctx.holder
        card = dict(person.data) if person else {}
        holder_data = {"name": ctx.holder.name, "code": ctx.holder.code,
                       "code_type": ctx.holder.code_type}
        prefilled: list[PrefilledField] = []
        to_type: list[str] = []
        for f in matter.fields:
            value: str | None = None
            src = f.source
            if src.kind == "card":
                value = card.get(src.field or f.key)
            elif src.kind == "holder":
                value = holder_data.get(src.field or f.key)
            elif src.kind == "certificate":
                cert = valid_of(src.certificate_type)
                value = cert.fields.get(src.field or f.key) if cert else None
            if value:
                prefilled.append(PrefilledField(key=f.key, value=str(value), source=src))
            else:
                to_type.append(f.key)
        return PreparedApplication(matter_id=matter.id, holder_ref=ref, materials=materials,
                                   prefilled=prefilled, to_type=to_type, blocking=blocking)

    def prepare_application(self, matter_id: str, holder_ref: str, *,
                            kiosk_id: str) -> PreparedApplication:
        with self._tx() as s:
            _row, matter = self._matter(s, matter_id)
            ctx = self._resolve(s, holder_ref, kiosk_id)
            return self._prepare(s, matter, ctx, holder_ref)

    # -- applications --------------------------------------------------------------------
    def _receipt(self, row: ApplicationRow, matter: Matter) -> ApplicationReceipt:
        from kiosk.identity.doccodes import make_doc_code

        state = ApplicationState(row.state)
        number = row.application_no or ""
        return ApplicationReceipt(
            application_no=number, matter_id=row.matter_id, state=state,
            submitted_at=_aware(row.submitted_at), decision_reason=row.decision_reason,
            result_available=state == ApplicationState.RESULT_ISSUED,
            next_steps=next_steps(matter, state, Delivery(row.delivery)),
            # Ed25519 signatures are deterministic: the same receipt gets the same code
            verification_code=make_doc_code(self.signing_key, f"R{number}", "receipt",
                                            issuer=ISSUER),
            committed_materials=commit.committed(row))

    def submit_application(self, request: ApplicationRequest, *,
                           kiosk_id: str) -> ApplicationReceipt:
        _check_request_texts(request)
        if not _KEY_RE.fullmatch(request.idempotency_key):
            raise InvalidRequest("idempotency key must be [A-Za-z0-9._:-]{8,64}",
                                 code="bad_idempotency_key")
        if not _same(request.kiosk_id, kiosk_id):
            raise InvalidRequest("kiosk_id differs from the authenticated kiosk",
                                 code="kiosk_mismatch")
        digest = request_digest(request)
        existing = self._existing(request.idempotency_key, digest)
        if existing is not None:
            return existing
        for attempt in range(3):
            try:
                return self._create(request, digest, kiosk_id)
            except IntegrityError:
                existing = self._existing(request.idempotency_key, digest)
                if existing is not None:
                    return existing
                if attempt == 2:  # not a duplicate, nor a number collision: a real fault
                    raise
        raise AssertionError("unreachable")

    def _existing(self, key: str, digest: str) -> ApplicationReceipt | None:
        with self._tx() as s:
            row = s.scalar(select(ApplicationRow).where(ApplicationRow.idempotency_key == key))
            if row is None:
                return None
            if row.request_hash != digest:
                raise Refused("idempotency key reused with another request",
                              code="idempotency_conflict")
            _m, matter = self._matter(s, row.matter_id)
            return self._receipt(row, matter)

    def _new_application_no(self, s: Session) -> str:
        """NH + today's date + random digits, not yet used (a race is caught by the unique
        column and the submission retried)."""
        for _ in range(10):
            number = f"NH{self._today():%Y%m%d}{secrets.randbelow(10 ** _APP_NO_DIGITS):08d}"
            if s.scalar(select(ApplicationRow.id)
                        .where(ApplicationRow.application_no == number)) is None:
                return number
        raise Unavailable("no free application number", code="application_no_exhausted")

    def _create(self, req: ApplicationRequest, digest: str,
                kiosk_id: str) -> ApplicationReceipt:
        with self._tx() as s:
            mrow, matter = self._matter(s, req.matter_id)
            ctx = self._resolve(s, req.holder_ref, kiosk_id, for_submit=True)
            address = _delivery_address(matter, req.delivery, req.mail_address)
            prepared = self._prepare(s, matter, ctx, req.holder_ref)
            if prepared.blocking:
                raise Refused("; ".join(prepared.blocking), code="matter_blocked")
            form = self._validate_form(matter, prepared, req.form)
            attachments = self._validate_attachments(s, ctx, prepared, req.attachments)
            commitments = commit.check(matter, prepared, req)  # 告知承诺制
            now = _naive(self._now())
            row = ApplicationRow(
                idempotency_key=req.idempotency_key, request_hash=digest, matter_id=matter.id,
                holder_id=ctx.holder.id, kiosk_id=req.kiosk_id, session_ref=req.holder_ref,
                form=form, attachments=attachments, delivery=req.delivery.value,
                mail_address=address, state=ApplicationState.SUBMITTED.value,
                submitted_at=now, application_no=self._new_application_no(s))
            s.add(row)
            s.flush()
            commit.record(s, row, commitments)
            s.add(DocumentCodeRow(code=f"R{row.application_no}", kind="receipt",
                                  title=matter.name["zh_CN"][:200], issued_at=now,
                                  subject=row.application_no))
            row.state = ApplicationState.ACCEPTED.value
            if matter.approval == ApprovalMode.INSTANT:
                failed = self._evaluate(s, mrow.rules, ctx, matter)
                row.decided_at = now
                if failed:
                    row.state = ApplicationState.REJECTED.value
                    row.decision_reason = "; ".join(failed)
                else:
                    row.state = ApplicationState.RESULT_ISSUED.value
            s.flush()
            return self._receipt(row, matter)

    def _validate_form(self, matter: Matter, prepared: PreparedApplication,
                       form: dict[str, str]) -> dict[str, str]:
        fields = {f.key: f for f in matter.fields}
        unknown = set(form) - set(fields)
        if unknown:
            raise InvalidRequest(f"unknown form fields: {sorted(unknown)}", code="form_invalid")
        out = {p.key: p.value for p in prepared.prefilled}  # authoritative sources win
        for key, value in form.items():
            if key not in out:
                out[key] = clean_text(value, "form value", multiline=True)
        for f in matter.fields:
            value = out.get(f.key, "")
            if not value:
                if f.required:
                    raise InvalidRequest(f"field {f.key} is required", code="form_invalid")
                out.pop(f.key, None)
                continue
            if f.source.kind != "citizen":
                continue
            if f.pattern and not re.fullmatch(f.pattern, value):
                raise InvalidRequest(f"field {f.key} has the wrong format", code="form_invalid")
            if f.choices and value not in f.choices:
                raise InvalidRequest(f"field {f.key} is not a choice", code="form_invalid")
        return out

    def _validate_attachments(self, s: Session, ctx: _Context, prepared: PreparedApplication,
                              attachments: list[str]) -> list[str]:
        owned = {c.identifier: c for c, _h in self._certs(s, ctx)}
        out = [m.certificate_identifier for m in prepared.materials if m.certificate_identifier]
        for ident in attachments:
            ident = self._check_identifier(ident)
            cert = owned.get(ident)
            if cert is None:
                raise NotFound("attachment is not the holder's", code="certificate_not_found")
            status = self._status(cert)
            if status != CertificateStatus.VALID:
                raise Refused(f"certificate {status.value}", code=f"certificate_{status.value}")
            if ident not in out:
                out.append(ident)
        return out

    def _evaluate(self, s: Session, rules: list[dict[str, Any]], ctx: _Context,
                  matter: Matter) -> list[str]:
        """The declared instant-approval rules that fail (empty: approve)."""
        failed: list[str] = []
        code = ctx.holder.code
        for rule in rules:
            kind = rule.get("rule")
            if kind == "certificate_valid":
                ok = any(c.type_code == rule["type"] and self._status(c) == "valid"
                         for c, _h in self._certs(s, ctx))
                if not ok:
                    failed.append("无有效证照 (certificate_valid)")
            elif kind == "min_age":
                birth = dt.date(int(code[6:10]), int(code[10:12]), int(code[12:14]))
                today = self._today()
                age = today.year - birth.year - ((today.month, today.day)
                                                 < (birth.month, birth.day))
                if age < int(rule["years"]):
                    failed.append(f"未满{rule['years']}周岁 (min_age)")
            elif kind == "area":
                if not code.startswith(str(rule["prefix"])):
                    failed.append("非本区户籍 (area)")
            elif kind == "once_per_holder":
                done = s.scalar(select(func.count()).select_from(ApplicationRow).where(
                    ApplicationRow.matter_id == matter.id,
                    ApplicationRow.holder_id == ctx.holder.id,
                    ApplicationRow.state.in_([ApplicationState.APPROVED.value,
                                              ApplicationState.RESULT_ISSUED.value])))
                if done:
                    failed.append("已享受该待遇 (once_per_holder)")
            else:
                failed.append(f"unknown rule {kind}")
        return failed

    def review_application(self, application_no: str, approve: bool,
                           reason: str | None = None) -> ApplicationReceipt:
        """A reviewer's decision on an accepted (review-mode) application (back office: not
        part of the kiosk contract)."""
        if reason is not None:
            reason = clean_text(reason, "reason", multiline=True)
        with self._tx() as s:
            row = self._application(s, application_no)
            if row.state != ApplicationState.ACCEPTED.value:
                raise Refused("application is not awaiting review", code="not_in_review")
            row.decided_at = _naive(self._now())
            row.decision_reason = reason
            row.state = (ApplicationState.RESULT_ISSUED if approve
                         else ApplicationState.REJECTED).value
            _m, matter = self._matter(s, row.matter_id)
            return self._receipt(row, matter)

    def _application(self, s: Session, application_no: str) -> ApplicationRow:
        application_no = clean_text(application_no, "application_no", limit=32, strip=False)
        row = None
        if _APP_NO_RE.fullmatch(application_no):
            row = s.scalar(select(ApplicationRow)
                           .where(ApplicationRow.application_no == application_no))
        if row is None:
            raise _unknown_application()
        return row

    def _owned(self, s: Session, application_no: str, holder_ref: str, kiosk_id: str, *,
               for_submit: bool = False) -> ApplicationRow:
        """The application ``application_no`` if the session ``holder_ref`` of ``kiosk_id``
        submitted it; else the answer an unknown number gets."""
        clean_text(application_no, "application_no", limit=32, strip=False)
        self._resolve(s, holder_ref, kiosk_id, for_submit=for_submit)
        row = self._application(s, application_no)
        if not _same(row.session_ref, holder_ref):
            raise _unknown_application()
        return row

    def application_status(self, application_no: str, holder_ref: str, *,
                           kiosk_id: str) -> ApplicationReceipt:
        with self._tx() as s:
            row = self._owned(s, application_no, holder_ref, kiosk_id)
            _m, matter = self._matter(s, row.matter_id)
            return self._receipt(row, matter)

    def set_delivery(self, application_no: str, holder_ref: str, delivery: Delivery,
                     mail_address: str | None = None, *,
                     kiosk_id: str) -> ApplicationReceipt:
        """Record how the result is delivered (the citizen's choice after submitting).
        Idempotent; allowed to the submitting session's kiosk also after the session ended,
        within the submit grace (the kiosk's outbox may send it after the citizen left)."""
        if mail_address is not None:
            clean_text(mail_address, "mail_address", multiline=True)
        with self._tx() as s:
            row = self._owned(s, application_no, holder_ref, kiosk_id, for_submit=True)
            _m, matter = self._matter(s, row.matter_id)
            delivery = Delivery(delivery)
            address = _delivery_address(matter, delivery, mail_address)
            if (row.delivery, row.mail_address) != (delivery.value, address):
                row.delivery, row.mail_address = delivery.value, address
            return self._receipt(row, matter)

    def result_document(self, application_no: str, holder_ref: str, *, kiosk_id: str) -> bytes:
        with self._tx() as s:
            row = self._owned(s, application_no, holder_ref, kiosk_id)
            if row.state != ApplicationState.RESULT_ISSUED.value:
                raise Refused("no result yet", code="result_not_ready")
            mrow, matter = self._matter(s, row.matter_id)
            title = mrow.result_title.get("zh_CN") or matter.name["zh_CN"]
            code = self._doc_code(s, "result", title, application_no)
            labels = {f.key: f.label.get("zh_CN", f.key) for f in matter.fields}
            rows = [(labels.get(k, k), v) for k, v in row.form.items()]
            info = ResultInfo(
                application_no=application_no, matter_name=title, decision="准予许可",
                decided_at=_aware(row.decided_at or row.submitted_at).astimezone(CHINA),
                department=matter.department["zh_CN"], kiosk_id=row.kiosk_id,
                verification_code=code, reason="经审核，符合办理条件，特此证明。",
                fields=rows)
        return render_result(info)

    # -- appointments (kiosk.backend.platform.booking) -----------------------------------
    def list_halls(self, matter_id: str | None = None,
                   district: str | None = None) -> list[Hall]:
        """The halls taking appointments (for ``matter_id``), ``district``'s first."""
        return self.booking.list_halls(matter_id, district)

    def appointment_slots(self, hall_id: str, matter_id: str) -> list[AppointmentSlot]:
        """The coming slots of a hall for a matter, with the places left in each."""
        return self.booking.slots(hall_id, matter_id)

    def book_appointment(self, matter_id: str, holder_ref: str,
                         choice: SlotChoice | None = None, *, kiosk_id: str) -> Appointment:
        """Book the chosen slot (without ``choice``: the first free one at the first hall
        taking the matter) for the holder; see :mod:`kiosk.backend.platform.booking`."""
        return self.booking.book(matter_id, holder_ref, kiosk_id, choice)

    def list_appointments(self, holder_ref: str, *, kiosk_id: str) -> list[Appointment]:
        return self.booking.mine(holder_ref, kiosk_id)

    def cancel_appointment(self, appointment_no: str, holder_ref: str, *,
                           kiosk_id: str) -> Appointment:
        return self.booking.cancel(appointment_no, holder_ref, kiosk_id)

    def check_appointment(self, appointment_no: str, check_code: str) -> Appointment | None:
        """The hall's check of a slip (back office): number and check code must match."""
        return self.booking.check(appointment_no, check_code)

    def rate(self, rating: Rating, holder_ref: str, *, kiosk_id: str) -> None:
        """A satisfaction rating, through the session that submitted the application; the
        same rating again is harmless, another one is ``already_rated``."""
        reasons = [clean_text(r, "reason", limit=200, multiline=True)
                   for r in rating.reasons[:10]]
        with self._tx() as s:
            row = self._owned(s, rating.application_no, holder_ref, kiosk_id)
            number = row.application_no or rating.application_no
            old = s.get(RatingRow, number)
            if old is not None:
                if old.score != rating.score or old.reasons != reasons:
                    raise Refused("already rated", code="already_rated")
                return
            s.add(RatingRow(application_no=number, score=rating.score,
                            reasons=reasons, rated_at=_naive(self._now())))

    def application_count(self, idempotency_key: str) -> int:
        """How many applications carry this key (0 or 1; for tests and audits)."""
        with self._tx() as s:
            return s.scalar(select(func.count()).select_from(ApplicationRow).where(
                ApplicationRow.idempotency_key == idempotency_key)) or 0


def next_steps(matter: Matter, state: ApplicationState, delivery: Delivery) -> I18nText:
    """What the citizen does next, in the three languages."""
    days = matter.time_limit_days
    if state == ApplicationState.REJECTED:
        return {"zh_CN": "申请未获批准，可咨询窗口工作人员。",
                "zh_HK": "申請未獲批准，可諮詢窗口工作人員。",
                "en": "The application was not approved; please ask at a counter."}
    if state == ApplicationState.RESULT_ISSUED:
        if delivery == Delivery.PRINT:
            return {"zh_CN": "已办结，请在本机打印结果。", "zh_HK": "已辦結，請在本機列印結果。",
                    "en": "Done: print the result at this kiosk."}
        if delivery == Delivery.MAIL:
            return {"zh_CN": "已办结，结果将邮寄给您。", "zh_HK": "已辦結，結果將郵寄給您。",
                    "en": "Done: the result will be mailed to you."}
        return {"zh_CN": "已办结，可凭办件编号领取或下载结果。",
                "zh_HK": "已辦結，可憑辦件編號領取或下載結果。",
                "en": "Done: collect or download the result with the application number."}
    steps = {"zh_CN": f"已受理，将在{days}个工作日内办结，可凭办件编号查询进度。",
             "zh_HK": f"已受理，將在{days}個工作日內辦結，可憑辦件編號查詢進度。",
             "en": f"Accepted; decided within {days} working days. Track it by its number."}
    if matter.needs_original:
        steps = {k: v + extra for (k, v), extra in zip(steps.items(), (
            "请预约并携带原件到窗口核验。", "請預約並攜帶原件到窗口核驗。",
            " Book an appointment and bring the originals to a counter."), strict=True)}
    return steps


def load_reference_photo(face_key: str) -> bytes | None:
    """The demo reference photo for ``face_key`` from the camera simulator, if available."""
    try:
        faces = importlib.import_module("kiosk.demo.faces")
    except ImportError:
        log.warning("kiosk.demo.faces is not available: no reference photos")
        return None
    try:
        data = faces.reference_jpeg(face_key)
    except Exception as exc:  # a missing demo face must not break a session
        log.warning("no reference photo for a demo face: %s", type(exc).__name__)
        return None
    return bytes(data) if data else None


def _delivery_address(matter: Matter, delivery: Delivery,
                      mail_address: str | None) -> str | None:
    """The mail address to store for ``delivery`` (None unless mailed); InvalidRequest when
    the matter does not offer it or mail has no address."""
    if delivery not in matter.delivery:
        raise InvalidRequest("delivery not offered", code="delivery_not_offered")
    if delivery != Delivery.MAIL:
        return None
    address = clean_text(mail_address, "mail_address", multiline=True) if mail_address else ""
    if not address:
        raise InvalidRequest("mail address missing", code="mail_address_missing")
    return address


def _check_request_texts(request: ApplicationRequest) -> None:
    """Every text of a submission through the one validator (before anything is stored)."""
    clean_text(request.idempotency_key, "idempotency_key", limit=64, strip=False)
    clean_text(request.kiosk_id, "kiosk_id", limit=64, strip=False)
    clean_text(request.matter_id, "matter_id", limit=64, strip=False)
    clean_text(request.holder_ref, "holder_ref", limit=64, strip=False)
    if len(request.form) > 100 or len(request.attachments) > 50:
        raise InvalidRequest("too many form fields or attachments", code="form_invalid")
    for key, value in request.form.items():
        clean_text(key, "form key", limit=64, strip=False)
        clean_text(value, "form value", multiline=True)
    for ident in request.attachments:
        clean_text(ident, "attachment", limit=120)
    if request.mail_address is not None:
        clean_text(request.mail_address, "mail_address", multiline=True)


def request_digest(request: ApplicationRequest) -> str:
    """Canonical hash of a request (what an idempotency key is bound to)."""
    return hashlib.sha256(json.dumps(request.model_dump(mode="json"),
                                     sort_keys=True).encode()).hexdigest()

