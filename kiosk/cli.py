"""The one ``kiosk`` command.

Subcommand groups are loaded lazily from the modules that implement them, so ``kiosk run``
does not import OpenCV or Kivy before it needs them, and a group appears once its module
exists (no placeholder commands).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from hardware.cli_site import Site, SiteError, SiteSource
from kiosk.config.cli import config_group
from kiosk.run import run_command

# name -> "module:attribute" of a click command; listed only when the module is present
# (``ops``, the fleet's, appears once kiosk.fleet exists).
DIAG_COMMANDS: dict[str, str] = {
    "idcard": "hardware.idcard.cli:diag",
    "printer": "hardware.printer.cli:diag",
    "qr": "hardware.qr.cli:diag",
    "camera": "kiosk.face.cli:diag_camera",
    "face": "kiosk.face.cli:diag_face",
    "audit": "kiosk.audit.cli:diag",
    "report": "kiosk.diag.cli:report",
    "issue-technician-token": "kiosk.diag.cli:issue_technician_token",
    "technician-pin": "kiosk.diag.cli:technician_pin",
    "counters": "kiosk.diag.cli:counters_command",
    "service": "kiosk.diag.cli:service_group",
    "test": "kiosk.diag.cli:test_command",
}
SIM_COMMANDS: dict[str, str] = {
    "idcard": "hardware.idcard.cli:sim",
    "printer": "hardware.printer.cli:sim",
    "qr": "hardware.qr.cli:sim",
    "ctl": "hardware.sim.cli:ctl",
    "identity-code": "kiosk.demo.cli:sim_identity_code",
}
TOP_COMMANDS: dict[str, str] = {
    "backend": "kiosk.backend.cli:backend",
    "outbox": "kiosk.backend.outbox.cli:outbox",
    "ops": "kiosk.fleet.cli:ops",
    "bench": "kiosk.bench.cli:bench",
}


def _module_present(target: str) -> bool:
    module = target.split(":", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        present = [name for name, target in self.lazy.items() if _module_present(target)]
        return sorted(set(super().list_commands(ctx)) | set(present))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is not None and _module_present(target):
            module_name, attr = target.split(":", 1)
            command = getattr(importlib.import_module(module_name), attr)
            if not isinstance(command, click.Command):
                raise TypeError(f"{target} is not a click command")
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy=TOP_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Government self-service kiosk (政务服务自助终端)."""


def load_site(path: str | None) -> Site:
    """The device sections and device context of the site configuration, for the device
    commands of ``hardware/`` (which import nothing of the kiosk)."""
    from kiosk.compose import device_context, device_sections
    from kiosk.config.loader import ConfigError, load_config

    try:
        cfg = load_config(path)
    except ConfigError as exc:
        raise SiteError(str(exc)) from None
    sections = {name: section for name, (_on, section) in device_sections(cfg).items()}
    return Site(sections, device_context(cfg))


@main.group(cls=LazyGroup, lazy=DIAG_COMMANDS)
@click.pass_context
def diag(ctx: click.Context) -> None:
    """Technician diagnostics for each device (JSON output with --json)."""
    ctx.obj = SiteSource(load_site)


@main.group(cls=LazyGroup, lazy=SIM_COMMANDS)
@click.pass_context
def sim(ctx: click.Context) -> None:
    """Device simulators that speak the real wire protocols (``ctl``: their control)."""
    ctx.obj = SiteSource(load_site)


main.add_command(run_command)
main.add_command(config_group)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
