"""Themed bundles (一件事一次办): the contract's values and operations for "one thing, one visit".

A bundle names a life event (a newborn, a retirement) and the matters it takes, in order,
with the form fields they share: the kiosk asks each shared field once and copies it into
every matter's form, then submits each matter as its own application (its own idempotency
key, through the outbox) under one bundle receipt number.

Kept beside :mod:`kiosk.backend.contract` (same conventions: frozen pydantic values, typed
:class:`~kiosk.backend.contract.BackendError` failures) so adapters that predate bundles still
satisfy :class:`~kiosk.backend.contract.BackendAdapter`; :func:`supports_bundles` tells them
apart.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from kiosk.backend.contract import I18nText


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BundleStep(_Model):
    """One matter of a bundle, with a short note on what it gives the citizen."""

    matter_id: str = Field(min_length=1, max_length=64)
    note: I18nText = Field(default_factory=dict)


class Bundle(_Model):
    """A themed bundle: its matters in order and the field keys they share."""

    id: str = Field(min_length=1, max_length=64)
    name: I18nText
    summary: I18nText
    category: str = "personal"
    keywords: list[str] = Field(default_factory=list)
    steps: list[BundleStep] = Field(min_length=2)
    shared_fields: list[str] = Field(default_factory=list)

    @property
    def matter_ids(self) -> list[str]:
        return [s.matter_id for s in self.steps]


@runtime_checkable
class BundleCatalogue(Protocol):
    """What a backend offers for bundles (``NotFound`` ``bundle_not_found`` for an unknown
    id). Both are public catalogue reads: no holder reference."""

    def list_bundles(self) -> list[Bundle]: ...

    def get_bundle(self, bundle_id: str) -> Bundle: ...


def supports_bundles(backend: object) -> bool:
    """Whether ``backend`` offers bundles (an older platform adapter may not)."""
    return callable(getattr(backend, "list_bundles", None)) and callable(
        getattr(backend, "get_bundle", None))
