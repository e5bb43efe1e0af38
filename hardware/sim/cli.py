"""``kiosk sim ctl SOCKET OP [KEY=VALUE ...]``: one request to a simulator's control socket.

Values are JSON when they parse as JSON (``times=2``, ``who=null``), text otherwise
(``key=chen``). Prints the reply as one JSON line; exit 0 when the simulator did it, 1 when
it refused (the reply names why), 2 when nothing answers at that path.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from hardware.sim.control import SimClient


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


@click.command("ctl")
@click.argument("socket_path", metavar="SOCKET", type=click.Path(dir_okay=False))
@click.argument("op")
@click.argument("args", nargs=-1, metavar="[KEY=VALUE]...")
@click.option("--timeout", type=float, default=10.0, show_default=True)
def ctl(socket_path: str, op: str, args: tuple[str, ...], timeout: float) -> None:
    """Send OP (status, fault, insert, scan, present, jobs ...) to a simulator."""
    request: dict[str, Any] = {"op": op}
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{arg!r}: expected KEY=VALUE", param_hint="ARGS")
        request[key] = _value(value)
    try:
        reply = SimClient(socket_path, timeout).request(request)
    except (OSError, ValueError) as exc:
        click.echo(json.dumps({"ok": False, "error": "no_simulator",
                               "message": type(exc).__name__}), err=True)
        sys.exit(2)
    click.echo(json.dumps(reply, ensure_ascii=False))
    sys.exit(0 if reply.get("ok") else 1)
