"""告知承诺制 on the reference platform: checking the signed commitments of a submission and
recording that they replaced materials.

A commitment is accepted only for a material of the matter that allows one, that the holder
has no valid certificate for, signed under the catalogue's current text version, with a PNG
signature and a digest that the platform recomputes from its own text
(:func:`kiosk.backend.commitments.digest`). The signature is kept with the application (it
is the citizen's commitment); only the platform reads it back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, object_session

from kiosk.backend import commitments
from kiosk.backend.contract import (
    MAX_SIGNATURE_PNG,
    ApplicationRequest,
    InvalidRequest,
    Matter,
    PreparedApplication,
    Refused,
    SignedCommitment,
)
from kiosk.backend.platform.models import ApplicationRow, Base
from kiosk.backend.platform.text import clean_text


class CommitmentRow(Base):
    """A signed commitment that replaced one material of one application."""

    __tablename__ = "application_commitments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    material_id: Mapped[str] = mapped_column(String(64))
    text_version: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    digest: Mapped[str] = mapped_column(String(64))
    signature_png: Mapped[bytes] = mapped_column(LargeBinary)


Checked = list[tuple[SignedCommitment, bytes]]


def check(matter: Matter, prepared: PreparedApplication, request: ApplicationRequest) -> Checked:
    """The request's commitments with their PNG bytes, or the typed refusal: ``Refused``
    ``commitment_not_allowed`` / ``commitment_text_outdated`` / ``commitment_missing``;
    ``InvalidRequest`` for a malformed one."""
    materials = {m.id: m for m in matter.materials}
    covered = {a.material_id for a in prepared.materials if a.certificate_identifier}
    out: Checked = []
    seen: set[str] = set()
    for c in request.commitments:
        clean_text(c.material_id, "material_id", limit=64, strip=False)
        clean_text(c.text_version, "text_version", limit=64, strip=False)
        material = materials.get(c.material_id)
        if material is None:
            raise InvalidRequest("commitment for no material of the matter",
                                 code="commitment_material_unknown")
        if c.material_id in seen:
            raise InvalidRequest("two commitments for one material",
                                 code="commitment_duplicate")
        seen.add(c.material_id)
        if not material.commitment_allowed:
            raise Refused("this material cannot be replaced by a commitment",
                          code="commitment_not_allowed")
        if c.material_id in covered:
            raise InvalidRequest("the material is covered by a certificate",
                                 code="commitment_not_needed")
        if c.text_version != material.commitment_version:
            raise Refused("commitment signed under another text version",
                          code="commitment_text_outdated")
        text = material.commitment_text.get(c.language)
        if not text:
            raise InvalidRequest("no commitment text in this language",
                                 code="commitment_language")
        if c.signed_at.tzinfo is None:
            raise InvalidRequest("signing time without a zone", code="commitment_invalid")
        try:
            png = commitments.decode_png(c.signature_png, MAX_SIGNATURE_PNG)
        except commitments.SignatureInvalid as exc:
            raise InvalidRequest("signature is not a usable PNG", code=exc.code) from exc
        expected = commitments.digest(
            matter_id=matter.id, material_id=c.material_id,
            idempotency_key=request.idempotency_key, text_version=c.text_version,
            language=c.language, text=text, signed_at=c.signed_at, signature_png=png)
        if expected != c.digest:
            raise InvalidRequest("commitment digest does not match",
                                 code="commitment_digest_mismatch")
        out.append((c, png))
    for m in matter.materials:
        if (m.required and m.commitment_allowed and not m.paper_allowed
                and m.id not in covered and m.id not in seen):
            raise Refused(f"material {m.id} needs a certificate or a commitment",
                          code="commitment_missing")
    return out


def waivable(matter: Matter, material_id: str) -> bool:
    """Whether a missing certificate for ``material_id`` can be replaced by a commitment
    (then it does not block the matter before submission)."""
    return any(m.id == material_id and m.commitment_allowed for m in matter.materials)


def record(s: Session, row: ApplicationRow, checked: Checked) -> None:
    """Store the commitments of the (flushed) application ``row``."""
    for c, png in checked:
        s.add(CommitmentRow(application_id=row.id, material_id=c.material_id,
                            text_version=c.text_version, language=c.language,
                            signed_at=c.signed_at.astimezone(dt.UTC).replace(tzinfo=None),
                            digest=c.digest, signature_png=png))


def committed(row: ApplicationRow) -> list[str]:
    """The material ids of ``row`` replaced by a commitment (empty if it is detached)."""
    s = object_session(row)
    if s is None or row.id is None:
        return []
    return list(s.scalars(select(CommitmentRow.material_id)
                          .where(CommitmentRow.application_id == row.id)
                          .order_by(CommitmentRow.id)))
