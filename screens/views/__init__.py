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
    # not session states: shown over them by the service gate and maintenance mode
    "out_of_service": "OutOfServiceScreen",
    "technician": "TechnicianScreen",
    "maintenance": "MaintenanceScreen",
}
SERVICE_SCREENS = frozenset({"out_of_service", "technician", "maintenance"})


def load_screen(state: str) -> Any:
    """Load ``<state>.kv`` and instantiate its Screen (named after the state)."""
    from kivy.lang import Builder

    module = importlib.import_module(f"screens.views.{state}")
    Builder.load_file(str(VIEWS_DIR / f"{state}.kv"))
    cls = getattr(module, SCREENS[state])
    return cls(name=state)
