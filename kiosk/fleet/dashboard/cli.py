"""``kiosk ops dashboard`` and ``kiosk ops user add|remove|list``.

Registered on the ``kiosk ops`` group by :func:`register` (so the web stack is imported only
when the dashboard runs). Operator mistakes exit 2 naming the option or file.
"""

from __future__ import annotations

import contextlib
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import click

from kiosk.fleet.dashboard.users import ROLES, UserStore
from kiosk.fleet.errors import OperatorError

DEFAULT_USERS = "dashboard/users.json"
DEFAULT_AUDIT = "dashboard/audit.jsonl"

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _duration(option: str, text: str) -> float:
    from kiosk.fleet.keys import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise OperatorError(option, str(exc)) from None


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OperatorError("--port", f"cannot listen on {host}:{port} ({exc.strerror})") \
            from None
    sock.listen(128)
    return sock


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """Ends the live event streams first, so a stop does not wait for them, and closes
        the broker link and the audit file before uvicorn re-raises the stopping signal."""

        def __init__(self, config: uvicorn.Config, monitor: Any,
                     cleanup: Callable[[], None]) -> None:
            super().__init__(config)
            self.monitor = monitor
            self.cleanup = cleanup

        def handle_exit(self, sig: int, frame: Any) -> None:
            self.monitor.changes.close()
            super().handle_exit(sig, frame)

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            with super().capture_signals():
                try:
                    yield
                finally:
                    self.cleanup()

    return Server


def _read_password() -> str:
    if sys.stdin.isatty():
        text: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        return text
    return sys.stdin.readline().rstrip("\r\n")


def register(ops: click.Group, broker_options: Decorator, operator_errors: Decorator) -> None:
    """Add ``dashboard`` and ``user`` to ``ops``."""

    @ops.command("dashboard")
    @broker_options
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
                  help="0: any free port (printed)")
    @click.option("--host", default="127.0.0.1", show_default=True,
                  help="address to listen on (put TLS in front, or use --tls-cert)")
    @click.option("--users", "users_path", default=DEFAULT_USERS, show_default=True,
                  type=click.Path(dir_okay=False), help="accounts (kiosk ops user add)")
    @click.option("--key", "key_path", default=None, type=click.Path(dir_okay=False),
                  help="signing key for remote commands (without it the page is read only)")
    @click.option("--audit", "audit_path", default=DEFAULT_AUDIT, show_default=True,
                  type=click.Path(dir_okay=False), help="the operator actions' audit file")
    @click.option("--state-dir", "state_dir", default=None, type=click.Path(file_okay=False),
                  help="where history.sqlite keeps fleet state, commands and the action log "
                  "across restarts (default: the audit file's folder)")
    @click.option("--stale-after", default="90s", show_default=True,
                  help="a kiosk silent this long is red (3 heartbeats)")
    @click.option("--idle-logout", default="30m", show_default=True,
                  help="a session with no click for this long logs out (an open page too)")
    @click.option("--tls-cert", default=None, type=click.Path(dir_okay=False))
    @click.option("--tls-key", default=None, type=click.Path(dir_okay=False))
    @click.option("--secure-cookies/--no-secure-cookies", default=None,
                  help="force the cookies' Secure flag (default: when served over HTTPS, "
                  "also behind a proxy that sends X-Forwarded-Proto)")
    @operator_errors
    def dashboard(broker: str, credentials: str | None, ca_file: str | None,
                  connect_timeout: float, port: int, host: str, users_path: str,
                  key_path: str | None, audit_path: str, state_dir: str | None,
                  stale_after: str,
                  idle_logout: str,
                  tls_cert: str | None, tls_key: str | None,
                  secure_cookies: bool | None) -> None:
        """Serve the operator dashboard (fleet table, kiosk pages, remote commands)."""
        import uvicorn
        from sqlalchemy.exc import SQLAlchemyError

        from kiosk.fleet import keys
        from kiosk.fleet.dashboard.app import DashboardSettings, create_app
        from kiosk.fleet.dashboard.audit import OperatorAudit
        from kiosk.fleet.dashboard.history import History
        from kiosk.fleet.dashboard.monitor import FleetMonitor
        from kiosk.fleet.mqtt import BrokerSettings

        users = UserStore(users_path)
        if not users.names():
            raise OperatorError(users_path, "no accounts; create one with `kiosk ops user add "
                                f"NAME --role operator --users {users_path}`")
        if bool(tls_cert) != bool(tls_key):
            raise OperatorError("--tls-key", "give both --tls-cert and --tls-key")
        stale_s = _duration("--stale-after", stale_after)
        idle_s = _duration("--idle-logout", idle_logout)
        key = keys.load_signing_key(key_path) if key_path else None
        settings = BrokerSettings.from_url(broker, credentials_file=credentials,
                                           ca_file=ca_file)
        sock = _listen(host, port)
        state_dir = state_dir or str(Path(audit_path).parent)
        try:
            history = History(state_dir)
        except (OSError, SQLAlchemyError) as exc:
            sock.close()
            raise OperatorError("--state-dir", f"cannot keep the history in {state_dir} "
                                f"({getattr(exc, 'strerror', None) or exc.__class__.__name__})"
                                ) from None
        audit = OperatorAudit(audit_path, history=history)
        monitor = FleetMonitor(settings, history=history).start()
        try:
            if not monitor.link.subscribed.wait(connect_timeout):
                raise OperatorError("--broker", f"no connection to {settings} within "
                                    f"{connect_timeout:g} s (address, credentials, TLS?)")
            app = create_app(DashboardSettings(users, monitor, audit, key, stale_s,
                                               secure_cookies, idle_session_s=idle_s,
                                               history=history))
            scheme = "https" if tls_cert else "http"
            click.echo(f"dashboard: {scheme}://{host}:{sock.getsockname()[1]}/ "
                       f"({f'commands signed by {key_path}' if key else 'read only'}; "
                       f"audit {audit_path})", err=True)
            def cleanup() -> None:
                monitor.close()
                audit.close()
                history.close()

            server = _server_class()(uvicorn.Config(
                app, log_level="warning", access_log=False, ssl_certfile=tls_cert,
                ssl_keyfile=tls_key, proxy_headers=True, timeout_graceful_shutdown=5),
                monitor, cleanup)
            server.run(sockets=[sock])
        finally:
            monitor.close()
            audit.close()
            history.close()
            sock.close()

    @ops.group("user")
    def user() -> None:
        """The dashboard's accounts (viewer: read only; operator: also sends commands)."""

    @user.command("add")
    @click.argument("name")
    @click.option("--role", required=True, type=click.Choice(list(ROLES)))
    @click.option("--users", "users_path", default=DEFAULT_USERS, show_default=True,
                  type=click.Path(dir_okay=False))
    @click.option("--replace", is_flag=True, help="reset the password and role of NAME")
    @operator_errors
    def add(name: str, role: str, users_path: str, replace: bool) -> None:
        """Create NAME with ROLE; the password is read from standard input."""
        account = UserStore(users_path).add(name, role, _read_password(), replace=replace)
        click.echo(f"{users_path}: {account.name} ({account.role})")

    @user.command("remove")
    @click.argument("name")
    @click.option("--users", "users_path", default=DEFAULT_USERS, show_default=True,
                  type=click.Path(dir_okay=False))
    @operator_errors
    def remove(name: str, users_path: str) -> None:
        """Remove NAME (its sessions end at their next request)."""
        UserStore(users_path).remove(name)
        click.echo(f"{users_path}: {name} removed")

    @user.command("list")
    @click.option("--users", "users_path", default=DEFAULT_USERS, show_default=True,
                  type=click.Path(dir_okay=False))
    @operator_errors
    def list_users(users_path: str) -> None:
        """Names and roles."""
        store = UserStore(users_path)
        for name in store.names():
            account = store.get(name)
            click.echo(f"{name}\t{account.role if account else '?'}")
