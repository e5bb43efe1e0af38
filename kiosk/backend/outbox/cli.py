"""``kiosk outbox``: what is stored, what needs an operator, and putting it right.

Works on the kiosk's own outbox database beside a running kiosk (SQLite WAL): ``retry``
puts parked rows back in the queue and the running kiosk delivers them on its next round;
``deliver`` runs one round from here (when the kiosk is stopped). Output carries pending
numbers, matters, states and reason codes, never personal data.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict

import click

from kiosk.backend.outbox.queue import Outbox
from kiosk.backend.outbox.sealing import OutboxKeyError
from kiosk.config.loader import ConfigError, load_config
from kiosk.config.schema import KioskConfig

_config = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                       default=None, help="site configuration file (as for `kiosk run`)")
_profile = click.option("--profile", type=click.Choice(["simulation", "production"]),
                        default=None)
_json = click.option("--json", "as_json", is_flag=True, help="one JSON document")


def _cfg(config_path: str | None, profile: str | None) -> KioskConfig:
    try:
        return load_config(config_path, profile=profile)
    except ConfigError as exc:
        click.echo(str(exc), err=True)
        sys.exit(2)


def _open(cfg: KioskConfig) -> Outbox:
    return Outbox(cfg.outbox, None, inspect=True)


@click.group("outbox")
def outbox() -> None:
    """The outbox of stored submissions: status, parked rows, retry."""


@outbox.command("status")
@_config
@_profile
@_json
def status(config_path: str | None, profile: str | None, as_json: bool) -> None:
    """Depth, oldest pending age and rows that need an operator (exit 1 if any do)."""
    box = _open(_cfg(config_path, profile))
    try:
        stats = box.stats()
    finally:
        box.close()
    data = {**asdict(stats), "needs_operator": stats.needs_operator}
    if as_json:
        click.echo(json.dumps(data))
    else:
        age = stats.oldest_pending_age_s
        click.echo(f"pending {stats.pending}, parked {stats.parked}, refused (kept) "
                   f"{stats.refused}, delivered {stats.delivered}, delivery choices pending "
                   f"{stats.followups_pending}, parked {stats.followups_parked}; oldest "
                   f"waiting: {'-' if age is None else f'{age:.0f} s'}")
        if stats.key_error:
            click.echo(f"KEY: {stats.key_error}: delivery is stopped until the outbox key "
                       "file is restored", err=True)
    sys.exit(1 if stats.needs_operator or stats.key_error else 0)


@outbox.command("list")
@_config
@_profile
@_json
@click.option("--state", "states", multiple=True,
              type=click.Choice(["pending", "parked", "refused", "delivered", "discarded"]),
              help="only rows in this state (repeatable)")
def list_rows(config_path: str | None, profile: str | None, as_json: bool,
              states: tuple[str, ...]) -> None:
    """The stored rows with their state and the reason of their last failure."""
    box = _open(_cfg(config_path, profile))
    try:
        entries = box.entries(states or None)
    finally:
        box.close()
    if as_json:
        click.echo(json.dumps([asdict(e) for e in entries], ensure_ascii=False))
        return
    for e in entries:
        follow = f" delivery-choice={e.followup_state}" if e.followup_state else ""
        click.echo(f"{e.pending_no} {e.state:<9} {e.matter_id} attempts={e.attempts} "
                   f"last={e.last_error or '-'} app={e.application_no or '-'}{follow}")


@outbox.command("retry")
@_config
@_profile
@click.argument("pending_nos", nargs=-1)
def retry(config_path: str | None, profile: str | None, pending_nos: tuple[str, ...]) -> None:
    """Queue parked rows again (all, or these pending numbers) once the cause is fixed."""
    box = _open(_cfg(config_path, profile))
    try:
        n = box.retry(pending_nos or None)
    finally:
        box.close()
    click.echo(f"{n} row(s) queued again")


@outbox.command("deliver")
@_config
@_profile
def deliver(config_path: str | None, profile: str | None) -> None:
    """Run one delivery round from here (use when the kiosk itself is stopped)."""
    from kiosk.backend.contract import BackendError
    from kiosk.backend.factory import create_backend

    cfg = _cfg(config_path, profile)
    try:
        backend = create_backend(cfg)
        box = Outbox(cfg.outbox, backend)
    except OutboxKeyError as exc:
        click.echo(f"outbox: {exc}", err=True)
        sys.exit(2)
    except (BackendError, ValueError, OSError) as exc:
        click.echo(f"backend: {exc}", err=True)
        sys.exit(2)
    try:
        n = box.deliver_pending()
        stats = box.stats()
    finally:
        box.close()
    click.echo(f"delivered {n}; pending {stats.pending}, needing an operator "
               f"{stats.needs_operator}")
    sys.exit(1 if stats.pending or stats.needs_operator else 0)


@outbox.command("discard")
@_config
@_profile
@click.argument("pending_no")
@click.option("--yes", is_flag=True, help="confirm: the content is erased for good")
def discard(config_path: str | None, profile: str | None, pending_no: str, yes: bool) -> None:
    """Erase a parked or refused row for good (after the citizen was reached otherwise)."""
    if not yes:
        click.echo("refusing without --yes: the citizen's submission would be erased", err=True)
        sys.exit(2)
    box = _open(_cfg(config_path, profile))
    try:
        done = box.discard(pending_no)
    finally:
        box.close()
    if not done:
        click.echo(f"{pending_no}: no parked or refused row with this number", err=True)
        sys.exit(2)
    click.echo(f"{pending_no}: discarded")
