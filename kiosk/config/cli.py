"""``kiosk config check`` and ``kiosk config schema``."""

from __future__ import annotations

import json
import sys

import click

from hardware.diag_output import printable
from kiosk.config import policy
from kiosk.config.loader import ConfigError, load_config
from kiosk.config.schema import KioskConfig


@click.group("config")
def config_group() -> None:
    """Validate configuration files and export the schema for operators."""


@config_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--profile", type=str, default=None, help="profile to layer under PATH")
def check(path: str, profile: str | None) -> None:
    """Validate PATH (layered over the defaults) and the files it names on this machine;
    exit 2 naming each bad key. Production policy overrides in force are printed as warnings.
    """
    from kiosk.preflight import preflight

    try:
        cfg = load_config(path, profile=profile)
        problems = preflight(cfg)
        if cfg.fleet.enabled:  # what `kiosk run` checks before the agent starts
            from kiosk.fleet.preflight import fleet_problems

            problems += fleet_problems(cfg)
        if problems:
            raise ConfigError(path, problems)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)
    click.echo(f"ok: {printable(path)} (profile {cfg.profile}, kiosk {cfg.kiosk.id})")
    for line in policy.warnings(policy.evaluate(cfg)):
        click.echo(f"warning: {printable(line)}", err=True)


@config_group.command("schema")
def schema() -> None:
    """Print the JSON Schema of the configuration."""
    click.echo(json.dumps(KioskConfig.model_json_schema(), ensure_ascii=False, indent=2))
