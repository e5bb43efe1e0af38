"""The citizen journey as an explicit state machine, with timeouts and a privacy wipe."""

from kiosk.session.data import SessionData
from kiosk.session.machine import (
    Clock,
    InvalidTransition,
    MonotonicClock,
    SessionMachine,
    TimeoutPolicy,
)
from kiosk.session.states import Event, State

__all__ = [
    "Clock",
    "Event",
    "InvalidTransition",
    "MonotonicClock",
    "SessionData",
    "SessionMachine",
    "State",
    "TimeoutPolicy",
]
