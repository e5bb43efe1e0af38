"""Everything personal a session holds, in memory only, and its wipe."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from kiosk.backend.contract import (
    ApplicationReceipt,
    CardIdentity,
    Certificate,
    Delivery,
    Holder,
    Matter,
    PreparedApplication,
)

if TYPE_CHECKING:
    from kiosk.session.commitments import HeldCommitment


def _zero(value: Any) -> None:
    """Overwrite mutable buffers in place before dropping them."""
    if callable(getattr(value, "wipe", None)):  # e.g. a held commitment's signature
        value.wipe()
    elif isinstance(value, bytearray | memoryview):
        value[:] = bytes(len(value))
    elif hasattr(value, "fill") and callable(value.fill):  # numpy arrays (frames, encodings)
        value.fill(0)
    elif isinstance(value, dict):
        for item in value.values():
            _zero(item)
        value.clear()
    elif isinstance(value, list):
        for item in value:
            _zero(item)
        value.clear()


@dataclass
class SessionData:
    """One citizen's session. :meth:`wipe` drops every personal value it holds.

    Buffers (card photo, face frames, encodings) are kept as ``bytearray`` or numpy arrays
    so the wipe can overwrite them in place; immutable strings are dropped. Each session
    gets its own object; :attr:`ended` is set when its journey ends (the cancel of every
    long wait done for it, such as the camera's).
    """

    language: str = "zh_CN"
    elderly: bool = False
    matter: Matter | None = None
    card: CardIdentity | None = None
    holder: Holder | None = None
    enterprise: Holder | None = None
    needs_face: bool = False
    face_consent: bool = False
    face_verified: bool = False
    face_attempts: int = 0
    reference_photo: bytearray | None = None
    card_photo: bytearray | None = None
    face_buffers: list[Any] = field(default_factory=list)
    certificate_consent: bool = False
    certificates: list[Certificate] = field(default_factory=list)
    prepared: PreparedApplication | None = None
    form: dict[str, str] = field(default_factory=dict)
    # signed commitments (告知承诺) by material id: signature PNGs, memory only
    commitments: dict[str, HeldCommitment] = field(default_factory=dict)
    idempotency_key: str | None = None
    receipt: ApplicationReceipt | None = None
    declared_delivery: Delivery | None = None  # as the platform has it (submitted or set)
    delivery: Delivery | None = None
    mail_address: str | None = None
    rating: str | None = None
    last_error: str | None = None  # a message key, never personal data

    PREFERENCES = ("language", "elderly")

    def __post_init__(self) -> None:
        self._ended = threading.Event()  # not a field: never wiped, copied or compared

    @property
    def ended(self) -> threading.Event:
        """Set once this session is over: work for it stops and stores nothing more."""
        return self._ended

    @property
    def identified(self) -> bool:
        return self.holder is not None and (self.face_verified or not self.needs_face)

    @property
    def applicant(self) -> Holder | None:
        """Who applies: the enterprise for an enterprise matter, else the person."""
        if self.matter is not None and self.matter.category == "enterprise" and self.enterprise:
            return self.enterprise
        return self.holder

    def wipe(self, keep_preferences: bool = False) -> None:
        """Overwrite and drop everything personal; optionally keep language/elderly.
        The session is over afterwards (:attr:`ended` is set)."""
        self._ended.set()
        fresh = SessionData()
        for f in fields(self):
            if keep_preferences and f.name in self.PREFERENCES:
                continue
            _zero(getattr(self, f.name))
            setattr(self, f.name, getattr(fresh, f.name))

    def personal_values(self) -> dict[str, Any]:
        """The fields that hold personal data and are set (for tests and audits)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in self.PREFERENCES
            and getattr(self, f.name) not in (None, False, 0, [], {}, "")
        }
