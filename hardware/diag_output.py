"""Output of the technician ``kiosk diag`` commands: one JSON object with ``--json``, else
``key: value`` lines; failures as ``{"error": CODE, "message": TEXT}`` and an exit code."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import click


def emit(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for key, value in data.items():
            click.echo(f"{key}: {value}")


def fail(error: str, message: str, as_json: bool, exit_code: int) -> NoReturn:
    if as_json:
        emit({"error": error, "message": message}, True)
    else:
        click.echo(f"error: {error}: {message}", err=True)
    sys.exit(exit_code)
