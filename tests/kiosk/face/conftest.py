"""Shared, module-cached face fixtures (face computations are slow on shared cores)."""

from __future__ import annotations

import pytest

from kiosk.face.config import FaceConfig
from kiosk.face.verify import FaceVerifier


@pytest.fixture(scope="session")
def verifier() -> FaceVerifier:
    return FaceVerifier(FaceConfig())
