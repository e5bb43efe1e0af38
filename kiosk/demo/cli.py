"""``kiosk sim identity-code``: the demo's phone, a valid dynamic identity code of a holder.

It signs with the reference platform's key: a platform concern, not a device's, so it lives
with the kiosk (the QR scanner only reads what a phone shows).
"""

from __future__ import annotations

import time
from pathlib import Path

import click

DEFAULT_KEY = "var/secrets/platform-signing.key"


@click.command("identity-code")
@click.option("--holder", required=True, help="platform holder reference (not an ID number)")
@click.option("--png", type=click.Path(dir_okay=False), help="also write the code as a PNG")
@click.option("--key", "key_path", default=DEFAULT_KEY, show_default=True,
              help="platform signing key (created, mode 0600, if missing)")
@click.option("--issuer", default=None, help="issuer id (default: the reference platform)")
@click.option("--ttl", type=click.IntRange(1, 60), default=60, show_default=True)
@click.option("--purpose", default="identity", show_default=True)
def sim_identity_code(holder: str, png: str | None, key_path: str, issuer: str | None,
                      ttl: int, purpose: str) -> None:
    """Print a valid dynamic identity code (the demo's phone), optionally as a PNG."""
    from kiosk.identity.codes import DEFAULT_ISSUER, issue_code, load_or_create_signing_key

    try:
        key = load_or_create_signing_key(key_path)
        code = issue_code(key, issuer or DEFAULT_ISSUER, holder, time.time(), ttl, purpose)
    except (ValueError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(code)
    if png:
        import segno

        Path(png).parent.mkdir(parents=True, exist_ok=True)
        segno.make(code, error="m", micro=False).save(png, scale=6, border=4)
