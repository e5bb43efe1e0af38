"""``kiosk backend``: run the reference platform server and manage kiosk credentials."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click

DEFAULT_CREDENTIALS = "var/secrets/platform-credentials.json"
DEFAULT_KEY = "var/secrets/platform-signing.key"


@click.group("backend")
def backend() -> None:
    """The reference government platform (e-certificates, matters, applications)."""


@backend.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(1, 65535))
@click.option("--db", default="var/platform.sqlite", show_default=True,
              help="SQLite path or postgresql://user@host:port/dbname")
@click.option("--seed-demo", is_flag=True, help="Seed demo citizens, certificates, matters.")
@click.option("--credentials", "credentials_file", default=DEFAULT_CREDENTIALS,
              show_default=True, help="Kiosk token hashes (see issue-credentials).")
@click.option("--key-file", default=DEFAULT_KEY, show_default=True,
              help="Ed25519 key signing identity and document codes.")
@click.option("--public-docs", is_flag=True,
              help="Serve /docs, /redoc and /openapi.json without a token (off by default: "
                   "no docs, and /openapi.json needs a kiosk token).")
@click.option("--max-open-appointments", default=3, show_default=True,
              type=click.IntRange(1, 100), help="Open counter appointments per holder.")
@click.option("--halls", "halls_file", default=None, type=click.Path(dir_okay=False),
              help="The halls taking counter appointments (YAML like config/demo/halls.yaml);"
                   " replaces the halls in the database.")
def serve(host: str, port: int, db: str, seed_demo: bool, credentials_file: str,
          key_file: str, public_docs: bool, max_open_appointments: int,
          halls_file: str | None) -> None:
    """Serve the backend contract over HTTP.

    The credentials file is followed while serving: tokens issued or revoked with
    issue-credentials / revoke-credentials count from the next request, no restart. The
    OpenAPI description is at /openapi.json (with a kiosk token, or public with
    --public-docs).
    """
    import uvicorn

    from kiosk.backend.credentials import CredentialFileError, CredentialStore
    from kiosk.backend.platform.app import create_app
    from kiosk.backend.platform.appointments import AppointmentPolicy
    from kiosk.backend.platform.halls import HallsError, load_halls
    from kiosk.backend.platform.runtime import open_platform
    from kiosk.backend.platform.seed import seed_halls

    store = CredentialStore.load(credentials_file)
    try:
        store.check()
    except (CredentialFileError, OSError) as exc:
        click.echo(f"error: --credentials {credentials_file}: {exc}", err=True)
        sys.exit(2)
    try:
        halls = load_halls(Path(halls_file)) if halls_file else None
    except HallsError as exc:
        click.echo(f"error: --halls {exc}", err=True)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    service = open_platform(db, key_file, seed=seed_demo)
    if halls is not None:
        seed_halls(service.engine, halls, replace=True)
    service.appointments = AppointmentPolicy(max_open_per_holder=max_open_appointments)
    app = create_app(service, store, public_docs=public_docs)
    click.echo(f"reference platform on http://{host}:{port} ({service.engine.dialect.name})",
               err=True)
    # access logs off: paths are harmless but we keep the server's logs minimal
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="warning")


@backend.command("issue-credentials")
@click.option("--kiosk-id", required=True)
@click.option("--credentials", "credentials_file", default=DEFAULT_CREDENTIALS,
              show_default=True, help="The server's token-hash file (updated).")
@click.option("--out", type=click.Path(dir_okay=False), default=None,
              help="Write the kiosk's credentials file here (mode 0600); else print it.")
def issue_credentials(kiosk_id: str, credentials_file: str, out: str | None) -> None:
    """Issue (or replace) the bearer token of one kiosk; a running server takes the new
    token, and refuses the replaced one, from its next request."""
    from kiosk.backend.credentials import CredentialFileError, CredentialStore, write_private

    try:
        cred = CredentialStore.load(credentials_file).issue(kiosk_id)
    except (CredentialFileError, OSError) as exc:
        click.echo(f"error: --credentials {credentials_file}: {exc}", err=True)
        sys.exit(2)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--kiosk-id") from exc
    text = cred.model_dump_json(indent=1)
    if out:
        write_private(Path(out), text + "\n")
        click.echo(json.dumps({"kiosk_id": kiosk_id, "credentials_file": out}))
    else:
        click.echo(text)


@backend.command("revoke-credentials")
@click.option("--kiosk-id", required=True)
@click.option("--credentials", "credentials_file", default=DEFAULT_CREDENTIALS,
              show_default=True, help="The server's token-hash file (updated).")
def revoke_credentials(kiosk_id: str, credentials_file: str) -> None:
    """Revoke the bearer token of one kiosk; a running server refuses it from its next
    request. Exit code 2 if the kiosk has no token."""
    from kiosk.backend.credentials import CredentialFileError, CredentialStore

    try:
        revoked = CredentialStore.load(credentials_file).revoke(kiosk_id)
    except (CredentialFileError, OSError) as exc:
        click.echo(f"error: --credentials {credentials_file}: {exc}", err=True)
        sys.exit(2)
    if not revoked:
        click.echo(f"error: --kiosk-id: no token for kiosk {kiosk_id!r}", err=True)
        sys.exit(2)
    click.echo(json.dumps({"kiosk_id": kiosk_id, "revoked": True}))


@backend.command("identity-code")
@click.option("--db", default="var/platform.sqlite", show_default=True)
@click.option("--key-file", default=DEFAULT_KEY, show_default=True)
@click.option("--id-number", required=True, help="The holder's ID number (demo people).")
@click.option("--ttl", default=60, show_default=True, type=click.IntRange(1, 60))
@click.option("--audience", default=None, metavar="KIOSK_ID",
              help="Only this kiosk may accept the code (others refuse it).")
def identity_code(db: str, key_file: str, id_number: str, ttl: int,
                  audience: str | None) -> None:
    """Print a signed dynamic identity code for a holder (what the citizen's phone shows)."""
    from kiosk.backend.contract import BackendError
    from kiosk.backend.platform.runtime import open_platform

    service = open_platform(db, key_file, seed=True)
    try:
        click.echo(service.issue_identity_code(id_number, ttl_s=ttl, audience=audience))
    except BackendError as exc:
        click.echo(f"error: {exc.code}", err=True)
        sys.exit(2)
    except ValueError as exc:
        click.echo(f"error: --audience: {exc}", err=True)
        sys.exit(2)
