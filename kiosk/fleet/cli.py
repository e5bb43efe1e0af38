"""``kiosk ops``: keys, signed bundles, pushing, the fleet's status, staged rollouts, remote
commands and the broker's accounts. An operator mistake (a bad file, option or key) exits 2
naming it; a refused or failed result exits 1."""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from hardware.diag_output import printable, to_json
from kiosk.config.loader import ConfigError, load_config
from kiosk.files import write_private
from kiosk.fleet import acl as acl_mod
from kiosk.fleet import bundle as bundle_mod
from kiosk.fleet import keys, topics
from kiosk.fleet.commands import COMMANDS, sign_command
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.mqtt import BrokerSettings
from kiosk.fleet.ops import FleetView, inspect_bundle
from kiosk.fleet.rollout import rollout as run_rollout

F = TypeVar("F", bound=Callable[..., Any])


def _operator_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except OperatorError as exc:
            name = click.get_current_context().info_name
            click.echo(f"kiosk ops {name}: {printable(str(exc))}", err=True)
            sys.exit(2)
    return wrapper  # type: ignore[return-value]


def _duration(option: str, text: str) -> float:
    try:
        return keys.parse_duration(text)
    except ValueError as exc:
        raise OperatorError(option, str(exc)) from None


def _broker_options(func: F) -> F:
    func = click.option("--connect-timeout", "connect_timeout", default=10.0, type=float,
                        show_default=True, help="seconds to wait for the broker")(func)
    func = click.option("--ca-file", type=click.Path(dir_okay=False), default=None,
                        help="CA bundle for an mqtts:// broker")(func)
    func = click.option("--credentials", "credentials", type=click.Path(dir_okay=False),
                        default=None, help="operator account: JSON {username, password}")(func)
    func = click.option("--broker", required=True,
                        help="mqtt://HOST:PORT or mqtts://HOST:PORT")(func)
    return func


def _view(broker: str, credentials: str | None, ca_file: str | None, connect_timeout: float,
          answers: bool = False) -> FleetView:
    settings = BrokerSettings.from_url(broker, credentials_file=credentials, ca_file=ca_file)
    return FleetView(settings, answers=answers).open(connect_timeout)


def _read_bundle(path: str) -> bytes:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise OperatorError(path, f"cannot read the bundle ({exc.strerror})") from None
    inspect_bundle(data)
    return data


@click.group("ops")
def ops() -> None:
    """Fleet operations: keys, signed config bundles, status, rollouts, commands, ACL."""


# -- keys and bundles ----------------------------------------------------------------------
@ops.command("keygen")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="folder for root.key, root.pub and signing.key")
@click.option("--valid", default="365d", show_default=True,
              help="how long the signing key's certificate is valid")
@click.option("--purpose", "purposes", multiple=True, type=click.Choice(list(keys.PURPOSES)),
              help="what the signing key may sign (default: config, command and release)")
@_operator_errors
def keygen(out: str, valid: str, purposes: tuple[str, ...]) -> None:
    """Create an offline root key and a signing key certified by it."""
    paths = keys.keygen(out, _duration("--valid", valid), purposes=purposes or keys.PURPOSES)
    for name, path in paths.items():
        click.echo(f"{name}: {path}")
    click.echo("keep root.key offline; give kiosks root.pub (fleet.trust_root)", err=True)


@ops.command("certify")
@click.option("--root", "root_path", required=True, type=click.Path(dir_okay=False))
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--valid", default="90d", show_default=True)
@click.option("--purpose", "purposes", multiple=True, type=click.Choice(list(keys.PURPOSES)),
              help="what the key may sign (default: config, command and release)")
@_operator_errors
def certify(root_path: str, out: str, valid: str, purposes: tuple[str, ...]) -> None:
    """Certify a new signing key with the root key (rotation)."""
    import secrets

    import nacl.signing

    root = keys.load_root_key(root_path)
    key = nacl.signing.SigningKey(secrets.token_bytes(32))
    cert = keys.certify(root, key.verify_key, _duration("--valid", valid),
                        purposes or keys.PURPOSES)
    keys.write_signing_key(out, key, cert)
    click.echo(f"signing.key: {out} (key {cert['body']['key_id']}, until "
               f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(cert['body']['not_after']))} "
               "UTC)")


@ops.command("sign")
@click.argument("overlay", type=click.Path(dir_okay=False))
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@click.option("--version", "version", required=True, type=click.IntRange(1))
@click.option("--expires", "expires", required=True, help="lifetime, e.g. 7d, 12h")
@click.option("--scope", "scope", required=True, help="kiosk:ID, group:NAME or fleet")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--check/--no-check", default=True, show_default=True,
              help="check that the overlay merges into a valid configuration over the defaults")
@_operator_errors
def sign(overlay: str, key_path: str, version: int, expires: str, scope: str, out: str,
         check: bool) -> None:
    """Sign OVERLAY (YAML) as a bundle for SCOPE."""
    data = bundle_mod.read_overlay(overlay)
    try:
        bundle_mod.parse_scope(scope)
    except ValueError as exc:
        raise OperatorError("--scope", str(exc)) from None
    if check:
        try:
            load_config(None, environ={}, overlays=[data])
        except ConfigError as exc:
            raise OperatorError(overlay, "; ".join(exc.problems[:3])) from None
    key = keys.load_signing_key(key_path)
    try:
        payload = bundle_mod.sign(data, key, version, _duration("--expires", expires), scope)
    except ValueError as exc:
        raise OperatorError("--expires" if "outlive" in str(exc) else "--version",
                            str(exc)) from None
    write_private(out, payload)
    click.echo(f"{out}: {scope} version {version}")


# -- broker --------------------------------------------------------------------------------
@ops.command("push")
@click.argument("bundle", type=click.Path(dir_okay=False))
@_broker_options
@_operator_errors
def push(bundle: str, broker: str, credentials: str | None, ca_file: str | None,
         connect_timeout: float) -> None:
    """Publish BUNDLE (retained) on the desired topic of its scope."""
    data = _read_bundle(bundle)
    with _view(broker, credentials, ca_file, connect_timeout) as view:
        topic = view.push(data)
    info = inspect_bundle(data)
    click.echo(f"pushed {info['scope']} version {info['version']} to {topic}")


@ops.command("status")
@_broker_options
@click.option("--group", default=None, help="only this group's kiosks")
@click.option("--json", "as_json", is_flag=True, help="a JSON array, one object per kiosk")
@click.option("--settle", default=0.2, show_default=True, type=float,
              help="extra seconds for a clustered broker's retained messages")
@_operator_errors
def status(broker: str, credentials: str | None, ca_file: str | None,
           connect_timeout: float, group: str | None, as_json: bool, settle: float) -> None:
    """Online, applied version, last rejection, health and last heartbeat per kiosk."""
    with _view(broker, credentials, ca_file, connect_timeout) as view:
        view.sync(settle_s=settle)
        rows = view.rows(group)
    if as_json:
        click.echo(to_json(rows))
        return
    now = time.time()
    for r in rows:
        rej = r["last_rejection"]
        beat = r["last_heartbeat"]
        verdict = (r["health"] or {}).get("verdict", "?") if isinstance(r["health"], dict) \
            else "?"
        rejected = "-" if rej is None else f"v{rej['version']}:{rej['reason']}"
        heartbeat = "-" if not beat else f"{now - beat:.0f}s ago"
        click.echo(printable(
            f"{r['kiosk_id']:<20} {'online' if r['online'] else 'OFFLINE':<8} "
            f"v{r['applied_version']} health={verdict} rejected={rejected} "
            f"heartbeat={heartbeat}"))


@ops.command("rollout")
@click.argument("bundle", type=click.Path(dir_okay=False))
@_broker_options
@click.option("--group", default=None, help="the group (a group bundle names it already)")
@click.option("--batch", default="10%", show_default=True, help="share (10%) or count (5)")
@click.option("--max-failures", default=0, show_default=True, type=click.IntRange(0))
@click.option("--timeout", "timeout", default="10m", show_default=True,
              help="how long a batch may take to report (e.g. 90s, 10m)")
@click.option("--json", "as_json", is_flag=True, help="progress and result as JSON lines")
@_operator_errors
def rollout(bundle: str, broker: str, credentials: str | None, ca_file: str | None,
            connect_timeout: float, group: str | None, batch: str, max_failures: int, timeout: str,
            as_json: bool) -> None:
    """Roll BUNDLE out batch by batch; stop with the reason on failures (resumable)."""
    data = _read_bundle(bundle)
    timeout_s = _duration("--timeout", timeout)

    def progress(event: dict[str, Any]) -> None:
        click.echo(to_json(event) if as_json else printable(
            " ".join(f"{k}={v}" for k, v in event.items())), err=not as_json)

    with _view(broker, credentials, ca_file, connect_timeout) as view:
        result = run_rollout(view, data, group, batch, max_failures, timeout_s, progress)
    click.echo(to_json(result.as_json()) if as_json else printable(
        f"rollout {result.status}: {result.scope} version {result.version}; "
        f"applied {len(result.applied)}, skipped {len(result.skipped)}, failed "
        f"{len(result.failed)}" + (f"; {result.reason}" if result.reason else "")))
    if result.status != "completed":
        sys.exit(1)


@ops.command("command")
@click.argument("kiosk_id")
@click.argument("name", type=click.Choice(list(COMMANDS)))
@_broker_options
@click.option("--key", "key_path", required=True, type=click.Path(dir_okay=False))
@click.option("--arg", "args", multiple=True, help="KEY=VALUE (repeatable)")
@click.option("--ttl", default="5m", show_default=True, help="lifetime of the command")
@click.option("--timeout", "timeout", default=30.0, show_default=True, type=float,
              help="seconds to wait for the answer")
@_operator_errors
def command(kiosk_id: str, name: str, broker: str, credentials: str | None,
            ca_file: str | None, connect_timeout: float, key_path: str,
            args: tuple[str, ...], ttl: str, timeout: float) -> None:
    """Send a signed command to KIOSK_ID and print its answer (JSON)."""
    acl_mod.check_name(kiosk_id, "KIOSK_ID")
    params: dict[str, str] = {}
    for spec in args:
        k, sep, v = spec.partition("=")
        if not sep or not k:
            raise OperatorError("--arg", f"expected KEY=VALUE (got {spec[:40]!r})")
        params[k] = v
    key = keys.load_signing_key(key_path)
    ttl_s = _duration("--ttl", ttl)
    try:
        envelope = sign_command(key, kiosk_id, name, params, ttl_s)
    except ValueError as exc:
        raise OperatorError("--ttl", str(exc)) from None
    nonce = json.loads(envelope)["body"]["nonce"]
    with _view(broker, credentials, ca_file, connect_timeout, answers=True) as view:
        view.publish(topics.cmd(kiosk_id), envelope, retain=False)
        got = view.wait_for(lambda v: nonce in v.answers, timeout)
        answer = view.answers.get(nonce)
    if not got or answer is None:
        click.echo(to_json({"kiosk_id": kiosk_id, "command": name, "ok": False,
                            "code": "no_answer", "detail": f"nothing within {timeout:g} s"}))
        sys.exit(1)
    click.echo(to_json(answer))
    if not answer.get("ok"):
        sys.exit(1)


@ops.command("acl")
@click.option("--kiosks", "kiosks", multiple=True, required=True, help="k1,k2,...")
@click.option("--groups", "groups", multiple=True, help="GROUP=K1,K2 (repeatable)")
@click.option("--operator", "operators", multiple=True, help="operator account(s)")
@click.option("--viewer", "viewers", multiple=True, help="read-only account(s)")
@click.option("-o", "--out", "out", required=True, type=click.Path(dir_okay=False))
@click.option("--password-file", default=None, type=click.Path(dir_okay=False),
              help="write a hashed Mosquitto password file for every account")
@click.option("--credentials-dir", default=None, type=click.Path(file_okay=False),
              help="where each account's JSON credentials go (with --password-file)")
@_operator_errors
def acl(kiosks: tuple[str, ...], groups: tuple[str, ...], operators: tuple[str, ...],
        viewers: tuple[str, ...], out: str, password_file: str | None,
        credentials_dir: str | None) -> None:
    """Generate the broker ACL (and accounts): each kiosk reaches only its own topics."""
    members = acl_mod.parse_groups(kiosks, groups)
    ops_accounts = [acl_mod.check_name(o, "--operator") for o in operators or ("operator",)]
    view_accounts = [acl_mod.check_name(v, "--viewer") for v in viewers]
    clash = set(members) & (set(ops_accounts) | set(view_accounts))
    if clash:
        raise OperatorError("--operator", f"{sorted(clash)[0]} is also a kiosk")
    write_private(out, acl_mod.acl_text(members, ops_accounts, view_accounts).encode())
    click.echo(f"{out}: {len(members)} kiosks, {len(ops_accounts)} operators, "
               f"{len(view_accounts)} viewers")
    if password_file:
        if not credentials_dir:
            raise OperatorError("--credentials-dir", "needed with --password-file")
        folder = Path(credentials_dir)
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        written = acl_mod.write_accounts([*ops_accounts, *view_accounts, *members],
                                         Path(password_file), folder)
        click.echo(f"{password_file}: {len(written)} accounts; credentials in {folder}")


# the operator dashboard and its accounts (kiosk/fleet/dashboard/)
from kiosk.fleet.dashboard.cli import register as _register_dashboard  # noqa: E402

_register_dashboard(ops, _broker_options, _operator_errors)
