"""SQLAlchemy tables of the reference platform (SQLite and PostgreSQL alike).

Times are stored as naive UTC; the service adds the zone on the way out.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of the platform's tables."""


class HolderRow(Base):
    """A natural person (by ID number) or a legal person (by credit code)."""

    __tablename__ = "holders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(200))
    code: Mapped[str] = mapped_column(String(32), unique=True, index=True)
    code_type: Mapped[str] = mapped_column(String(40))
    card_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    valid_from: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    face_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    photo: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    representative_id: Mapped[str | None] = mapped_column(
        ForeignKey("holders.id"), nullable=True)


class CertificateRow(Base):
    """An electronic certificate (GB/T 36901); status is derived from dates and revoked."""

    __tablename__ = "certificates"

    identifier: Mapped[str] = mapped_column(String(120), primary_key=True)
    type_code: Mapped[str] = mapped_column(String(40), index=True)
    type_name: Mapped[str] = mapped_column(String(60))
    number: Mapped[str] = mapped_column(String(60))
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    issuer: Mapped[str] = mapped_column(String(120))
    issuer_code: Mapped[str] = mapped_column(String(32))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    fields: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class MatterRow(Base):
    """A matter: its contract definition as JSON plus the declared instant-approval rules."""

    __tablename__ = "matters"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    result_title: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)


class SessionRow(Base):
    """An opaque per-session holder reference handed to one kiosk (``kiosk_id``): no other
    kiosk can use it."""

    __tablename__ = "holder_sessions"

    ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"))
    # NULL only in rows from before sessions were bound: usable by no kiosk
    kiosk_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    representative_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    submit_until: Mapped[dt.datetime] = mapped_column(DateTime)
    ended: Mapped[bool] = mapped_column(Boolean, default=False)


class UsedNonceRow(Base):
    """Nonces of identity codes already used (single use)."""

    __tablename__ = "used_nonces"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApplicationRow(Base):
    """A submitted application; ``idempotency_key`` makes a resubmission return this row.
    ``session_ref`` is the holder session that submitted it: the only way to read it."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_no: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"))
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"))
    kiosk_id: Mapped[str] = mapped_column(String(64))
    session_ref: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    form: Mapped[dict[str, str]] = mapped_column(JSON)
    attachments: Mapped[list[str]] = mapped_column(JSON)
    delivery: Mapped[str] = mapped_column(String(16))
    mail_address: Mapped[str | None] = mapped_column(Text, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    submitted_at: Mapped[dt.datetime] = mapped_column(DateTime)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    result_code: Mapped[str | None] = mapped_column(String(32), nullable=True)


class HallRow(Base):
    """A service hall taking appointments: its :class:`~kiosk.backend.platform.halls.HallSpec`
    as JSON."""

    __tablename__ = "halls"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)


# open appointments only: a cancelled one gives its place back
OPEN = text("cancelled_at IS NULL")


class AppointmentRow(Base):
    """A counter appointment. The database keeps one open appointment per counter (a hall's
    window) and time, so a slot never takes more citizens than it has windows; a retried
    booking finds its row by the kiosk and idempotency key."""

    __tablename__ = "appointments"
    __table_args__ = (
        Index("uq_appointment_open_slot", "counter", "at", unique=True,
              sqlite_where=OPEN, postgresql_where=OPEN),
        Index("uq_appointment_request", "kiosk_id", "idempotency_key", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    appointment_no: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    matter_id: Mapped[str] = mapped_column(ForeignKey("matters.id"))
    holder_id: Mapped[str] = mapped_column(ForeignKey("holders.id"), index=True)
    session_ref: Mapped[str | None] = mapped_column(String(64), nullable=True)
    counter: Mapped[str] = mapped_column(String(60))
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    # since halls (all NULL in rows from before)
    hall_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    window_no: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kiosk_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    check_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    booked_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class RatingRow(Base):
    """A satisfaction rating (好差评), one per application."""

    __tablename__ = "ratings"

    application_no: Mapped[str] = mapped_column(String(32), primary_key=True)
    score: Mapped[str] = mapped_column(String(16))
    reasons: Mapped[list[str]] = mapped_column(JSON)
    rated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class DocumentCodeRow(Base):
    """A verification code printed on a document the platform issued."""

    __tablename__ = "document_codes"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime)
    subject: Mapped[str] = mapped_column(String(120))  # application no or cert identifier
