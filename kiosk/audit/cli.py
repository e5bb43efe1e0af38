"""``kiosk diag audit verify|head``: check the audit chain, show the head an operator keeps.

Exit codes: ``verify`` 0 when the file verifies (also ``unkeyed``: a file from before keyed
audit, said so in the output), 2 when it is broken (the first bad record is named) and for a
configuration error (the key path is named). ``head`` 0, or 2 when there is no checkpoint.
Read only: neither command creates a key, a checkpoint or a file.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kiosk.audit.log import read_head
from kiosk.audit.verify import verify_file

LOG_NAME = "audit.jsonl"


def _paths(config_path: str | None, file: str | None) -> tuple[Path, Path]:
    """The audit file and the secrets folder (from the configuration's ``var_dir``)."""
    if file is not None:
        p = Path(file)
        return p, p.parent / "secrets"
    from kiosk.config.loader import ConfigError, load_config

    try:
        cfg = load_config(config_path)
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(2)
    var = Path(cfg.var_dir)
    return var / LOG_NAME, var / "secrets"


def _emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
        return
    for key, value in data.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "; ".join(str(v) for v in value) or "-"
        click.echo(f"{key}: {value}")


@click.group("audit")
def diag() -> None:
    """The audit log: verify the chain, show its head."""


_config = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                       default=None, help="kiosk configuration (for var_dir)")
_file = click.option("--file", type=click.Path(dir_okay=False), default=None,
                     help="an audit file (its key and checkpoint in secrets/ next to it)")
_json = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


_secrets = click.option("--secrets", "secrets_dir", type=click.Path(file_okay=False),
                        default=None, help="the folder with audit.key and the checkpoint")


@diag.command("verify")
@_config
@_file
@_secrets
@_json
def verify(config_path: str | None, file: str | None, secrets_dir: str | None,
           as_json: bool) -> None:
    """Check every record's MAC, the chain, and that the file ends at its checkpoint."""
    path, secrets = _paths(config_path, file)
    result = verify_file(path, Path(secrets_dir) if secrets_dir else secrets)
    data = result.as_dict()
    segments = sorted(p.name for p in path.parent.glob(f"{path.name}.*")
                      if not p.name.endswith(".tmp"))
    if segments:
        data["segments_set_aside"] = segments
    if not as_json and result.status == "broken":
        data = {"file": data["file"], "status": "broken", "first_bad": data["first_bad"],
                "records": data["records"]}
    _emit(data, as_json)
    sys.exit(2 if result.status == "broken" else 0)


@diag.command("head")
@_config
@_file
@_secrets
@_json
def head(config_path: str | None, file: str | None, secrets_dir: str | None,
         as_json: bool) -> None:
    """The checkpoint (seq, hash, mac) an operator keeps a copy of."""
    path, secrets = _paths(config_path, file)
    found = read_head(path, Path(secrets_dir) if secrets_dir else secrets)
    if found is None:
        _emit({"file": str(path), "error": "no_checkpoint"}, as_json)
        sys.exit(2)
    _emit({"file": str(path), **found.as_dict()}, as_json)
