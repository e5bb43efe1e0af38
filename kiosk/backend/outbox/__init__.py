"""The kiosk's outbox of submissions: store, then deliver; never erase before the platform
has it (see :mod:`kiosk.backend.outbox.queue`)."""

from kiosk.backend.outbox.disposition import Disposition, classify
from kiosk.backend.outbox.queue import (
    PENDING_STEPS,
    Outbox,
    OutboxEntry,
    OutboxStats,
    pending_number,
)
from kiosk.backend.outbox.sealing import OutboxKeyError

__all__ = ["PENDING_STEPS", "Disposition", "Outbox", "OutboxEntry", "OutboxKeyError",
           "OutboxStats", "classify", "pending_number"]
