"""What the outbox does with each answer: retry later, park for an operator, or settle.

One table, read top to bottom (pure, no I/O). The rule behind it: a stored submission is the
citizen's promise, so only an answer that says the platform itself decided against this
request settles it. Everything that may be the kiosk's or the network's fault (a replaced
token, a mistyped URL, a proxy's body limit, a schema the platform does not know, a request
the kiosk could not even encode) parks the row, with its content, until an operator has
fixed the cause and retries it (``kiosk outbox retry``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from kiosk.backend.contract import (
    BackendError,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    Refused,
    Unauthorized,
    Unavailable,
)


class Disposition(enum.StrEnum):
    RETRY = "retry"  # transient: the next round tries again
    PARK = "park"  # needs an operator: kept with its content, retried on command
    SETTLE = "settle"  # the platform decided: the request itself is invalid or refused


# Business decisions of the platform on this very request: retrying cannot change them.
SETTLING_CODES = frozenset({
    "form_invalid", "delivery_not_offered", "mail_address_missing", "matter_blocked",
    "matter_not_found", "certificate_expired", "certificate_revoked", "certificate_not_found",
    "identity_mismatch", "wrong_holder_kind", "not_representative", "text_invalid",
})


@dataclass(frozen=True)
class Rule:
    """``error`` class (and, if given, only these codes) -> disposition."""

    error: type[BackendError]
    disposition: Disposition
    codes: frozenset[str] | None = None


RULES: tuple[Rule, ...] = (
    Rule(Unavailable, Disposition.RETRY),  # link down, timeouts, 5xx
    Rule(Unauthorized, Disposition.PARK),  # 401/403: replaced, revoked or missing token
    Rule(PayloadTooLarge, Disposition.PARK),  # 413: a proxy's limit, not the citizen's fault
    Rule(NotFound, Disposition.SETTLE, frozenset({"matter_not_found", "certificate_not_found"})),
    Rule(NotFound, Disposition.PARK),  # a wrong URL, an expired grace: a person must look
    Rule(InvalidRequest, Disposition.SETTLE, SETTLING_CODES),
    Rule(InvalidRequest, Disposition.PARK),  # schema or version skew, kiosk id mismatch
    Rule(Refused, Disposition.SETTLE, SETTLING_CODES),
    Rule(Refused, Disposition.PARK),  # idempotency conflict and codes we do not know
    Rule(BackendError, Disposition.PARK),  # any other status: do not guess
)


def classify(exc: BaseException) -> Disposition:
    """The disposition of an answer (or of a local failure, which always parks)."""
    if not isinstance(exc, BackendError):
        return Disposition.PARK
    for rule in RULES:
        if isinstance(exc, rule.error) and (rule.codes is None or exc.code in rule.codes):
            return rule.disposition
    return Disposition.PARK  # pragma: no cover - the last rule matches every BackendError


def reason(exc: BaseException) -> str:
    """A short, personal-data-free reason for the row (a contract code or an error type)."""
    if isinstance(exc, BackendError):
        return exc.code
    return f"local:{type(exc).__name__}"
