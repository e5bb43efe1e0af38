"""One screen per session state: ``<state>.py`` holds the Screen class, ``<state>.kv`` its
layout. Loaded on first visit."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

VIEWS_DIR = Path(__file__).resolve().parent

SCREENS: dict[str, str] = {
    "attract": "AttractScreen",
    "home": "HomeScreen",
    "guide": "GuideScreen",
    "identify": "IdentifyScreen",
    "face_consent": "FaceConsentScreen",
    "face": "FaceScreen",
    "consent": "ConsentScreen",
    "certificates": "CertificatesScreen",
    "form": "FormScreen",
    "review": "ReviewScreen",
    "submitting": "SubmittingScreen",
    "result": "ResultScreen",
    "delivery": "DeliveryScreen",
    "rating": "RatingScreen",
    "goodbye": "GoodbyeScreen",
    # counter appointments: shown over home or result while the flow is open
    # (kiosk.session.appointments, screens/views/appointment_base.py)
    "appointment_halls": "AppointmentHallsScreen",
    "appointment_slots": "AppointmentSlotsScreen",
    "appointment_confirm": "AppointmentConfirmScreen",
    "appointment_booked": "AppointmentBookedScreen",
    "appointment_mine": "AppointmentMineScreen",
    # 一件事一次办: shown over home while the bundle flow is open (kiosk.session.bundles,
    # screens/views/bundle_base.py)
    "bundle_overview": "BundleOverviewScreen",
    "bundle_form": "BundleFormScreen",
    "bundle_review": "BundleReviewScreen",
    "bundle_receipt": "BundleReceiptScreen",
    # 告知承诺制: shown over certificates while the flow is open (kiosk.session.commitments)
    "commitment": "CommitmentScreen",
    # not session states: shown over them by the service gate and maintenance mode
    "out_of_service": "OutOfServiceScreen",
    "technician": "TechnicianScreen",
    "maintenance": "MaintenanceScreen",
    "closed": "ClosedScreen",  # outside the opening hours (kiosk.appliance.opening)
}
SERVICE_SCREENS = frozenset({"out_of_service", "technician", "maintenance", "closed"})


def load_screen(state: str) -> Any:
    """Load ``<state>.kv`` and instantiate its Screen (named after the state)."""
    module = importlib.import_module(f"screens.views.{state}")
    load_kv(state)
    cls = getattr(module, SCREENS[state])
    return cls(name=state)


def load_kv(state: str) -> None:
    """Load ``<state>.kv`` once (a screen built on another's rules loads that one first)."""
    from kivy.lang import Builder

    path = str(VIEWS_DIR / f"{state}.kv")
    if path not in Builder.files:
        Builder.load_file(path)
