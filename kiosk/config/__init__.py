"""Kiosk configuration: pydantic schema, layered loading, environment overrides."""

from kiosk.config.loader import ConfigError, load_config
from kiosk.config.schema import KioskConfig

__all__ = ["ConfigError", "KioskConfig", "load_config"]
