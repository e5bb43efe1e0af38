"""The data read from an ID card, held in memory for one session only."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date
from typing import Any

CARD_TYPES = ("resident", "hk_mo_tw", "foreign_permanent")
LONG_TERM = "长期"


@dataclass
class IdCardData:
    """One card's text fields and raw WLT photo.

    ``valid_to`` is ``None`` for a card valid long-term (长期). The repr never shows personal
    data; :meth:`wipe` zeroes the photo in place and blanks the text. Whether the number is
    valid is the core's business rule, not a field read from the card.
    """

    card_type: str
    name: str
    sex: str
    nation: str | None
    birth_date: date
    address: str
    id_number: str
    issuer: str
    valid_from: date
    valid_to: date | None
    photo: bytearray = field(default_factory=bytearray)
    pass_number: str | None = None  # 'J' residence permit: HK/Macau/Taiwan travel permit number
    issue_count: str | None = None  # 'J' residence permit: 签发次数
    en_name: str | None = None  # 'I' foreigner card
    nationality: str | None = None  # 'I' foreigner card: ISO 3166-1 alpha-3
    card_version: str | None = None  # 'I' foreigner card
    authority_code: str | None = None  # 'I' foreigner card: issuing authority code

    def __repr__(self) -> str:
        return f"IdCardData(card_type={self.card_type!r}, <personal data redacted>)"

    __str__ = __repr__

    def expired(self, today: date) -> bool:
        """True when ``today`` is after the last day of validity (长期 never expires)."""
        return self.valid_to is not None and today > self.valid_to

    def as_json(self) -> dict[str, Any]:
        """The technician diag JSON shape (without ``elapsed_ms``)."""
        out: dict[str, Any] = {
            "card_type": self.card_type,
            "name": self.name,
            "sex": self.sex,
            "nation": self.nation,
            "birth_date": self.birth_date.isoformat(),
            "address": self.address,
            "id_number": self.id_number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat(),
            "valid_to": self.valid_to.isoformat() if self.valid_to else LONG_TERM,
            "photo_bytes": len(self.photo),
        }
        for key in ("pass_number", "issue_count", "en_name", "nationality", "card_version",
                    "authority_code"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def wipe(self) -> None:
        """Zero the photo bytes in place and blank every text field."""
        self.photo[:] = bytes(len(self.photo))
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("card_type", "photo"):
                continue
            if isinstance(value, str):
                setattr(self, f.name, "" if f.default is not None else None)
