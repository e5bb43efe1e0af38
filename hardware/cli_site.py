"""How the device commands (``kiosk diag ...``, ``kiosk sim ...``) learn the site's settings
without importing the kiosk: the ``kiosk`` command puts a :class:`SiteSource` in the click
context, and a device command asks it for its own section and the device context. Run on
their own (no source), the commands use the built-in defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import click
from pydantic import BaseModel

from hardware.context import DeviceContext

S = TypeVar("S", bound=BaseModel)


class SiteError(Exception):
    """The site configuration cannot be loaded; the message names the key paths."""


@dataclass(frozen=True)
class Site:
    """The device sections of the site configuration and the devices' context."""

    sections: Mapping[str, BaseModel] = field(default_factory=dict)
    context: DeviceContext = field(default_factory=DeviceContext)

    def section(self, name: str, kind: type[S]) -> S:
        """Section ``name`` as ``kind`` (the built-in defaults when the site has none)."""
        value = self.sections.get(name)
        return value if isinstance(value, kind) else kind()


@dataclass(frozen=True)
class SiteSource:
    """Loads the site for a configuration file path (``None``: the default layering)."""

    load: Callable[[str | None], Site]


def load_site(ctx: click.Context | None = None, path: str | None = None) -> Site:
    """The site as the enclosing ``kiosk`` command loads it; raises :class:`SiteError`."""
    ctx = ctx or click.get_current_context(silent=True)
    source = ctx.find_object(SiteSource) if ctx is not None else None
    if source is None:
        return Site()
    return source.load(path)


def site_or_defaults() -> Site:
    """The site, or the built-in defaults when its configuration does not load (device
    commands that only need a default port must still run on a broken site file)."""
    try:
        return load_site()
    except SiteError:
        return Site()
