"""The operator dashboard: server-rendered pages (FastAPI, Jinja2), live updates by
server-sent events, remote commands as signed envelopes.

Pages: ``/login``, ``/`` (the fleet table, ``?group=``), ``/kiosk/<id>``; streams
``/events/fleet`` and ``/events/kiosk/<id>`` push the re-rendered fragment when the fleet
changes (and every few seconds, so ages stay true). Every POST carries the session's CSRF
token; only the ``operator`` role sends commands; each action goes to the audit file.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import anyio
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import StreamingResponse

from kiosk.fleet import topics
from kiosk.fleet.acl import check_name
from kiosk.fleet.commands import sign_command
from kiosk.fleet.dashboard import model
from kiosk.fleet.dashboard.audit import OperatorAudit
from kiosk.fleet.dashboard.history import CommandRow, History
from kiosk.fleet.dashboard.monitor import FleetMonitor, Snapshot
from kiosk.fleet.dashboard.sessions import (
    LoginCsrf,
    LoginLimiter,
    Session,
    SessionStore,
    same_token,
)
from kiosk.fleet.dashboard.users import MAX_PASSWORD, UserStore
from kiosk.fleet.errors import OperatorError
from kiosk.fleet.keys import SigningKey

log = logging.getLogger("kiosk.fleet.dashboard")

SESSION_COOKIE = "kd_session"
LOGIN_COOKIE = "kd_login"
# the remote commands an operator sends from the page (the rest stay on `kiosk ops command`)
PAGE_COMMANDS = {"out_of_service": "Out of service", "back_in_service": "Back in service",
                 "restart_when_idle": "Restart when idle", "run_diagnostics": "Run diagnostics"}
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
STATIC = Path(__file__).parent / "static"


@dataclass
class DashboardSettings:
    """What the dashboard runs with (``kiosk ops dashboard`` builds it from its options)."""

    users: UserStore
    monitor: FleetMonitor
    audit: OperatorAudit
    signing_key: SigningKey | None = None
    stale_after_s: float = 90.0
    secure_cookies: bool | None = None  # None: Secure when the request came over HTTPS
    command_ttl_s: float = 300.0
    stream_interval_s: float = 1.0  # at most one push a second per page
    stream_tick_s: float = 5.0  # and at least one every few seconds (ages, broker state)
    idle_session_s: float = 1800.0
    # the database that keeps fleet state, commands and the action log across restarts
    # (give the same one to the monitor and the audit); None: memory only
    history: History | None = None


@dataclass(frozen=True)
class SentCommand:
    nonce: str
    kiosk_id: str
    command: str
    operator: str
    sent_at: float
    expires_at: float


@dataclass
class Dashboard:
    """The running dashboard's state (one per app)."""

    settings: DashboardSettings
    sessions: SessionStore = field(default_factory=SessionStore)
    limiter: LoginLimiter = field(default_factory=LoginLimiter)
    login_csrf: LoginCsrf = field(default_factory=LoginCsrf)
    sent: deque[SentCommand] = field(default_factory=lambda: deque(maxlen=1000))

    def __post_init__(self) -> None:
        self.sessions = SessionStore(idle_s=self.settings.idle_session_s)
        self.sent.extend(SentCommand(r.nonce, r.kiosk_id, r.command, r.operator, r.sent_at,
                                     r.expires_at) for r in self.settings.monitor.saved_commands)
        self._cache_lock = threading.Lock()
        self._cache: dict[tuple[str, ...], tuple[int, int, str]] = {}
        self.env = Environment(loader=PackageLoader("kiosk.fleet.dashboard", "templates"),
                               autoescape=select_autoescape(["html"]), trim_blocks=True,
                               lstrip_blocks=True)
        self.env.filters["ago"] = model.ago
        self.env.filters["clock"] = _clock
        self.env.globals["commands"] = PAGE_COMMANDS

    @property
    def monitor(self) -> FleetMonitor:
        return self.settings.monitor

    def answered(self, answer: dict[str, Any]) -> None:
        """Record a kiosk's answer to a command sent from here (called on the MQTT thread:
        the audit worker writes it)."""
        nonce = answer.get("nonce")
        for c in list(self.sent):
            if c.nonce == nonce:
                outcome = answer.get("status") if answer.get("ok") else answer.get("code")
                self.settings.audit.record_later(
                    "dashboard.command_answer", str(outcome), operator=c.operator,
                    kiosk=c.kiosk_id, command=c.command, nonce=c.nonce[:12])
                return

    def render(self, template: str, **ctx: Any) -> str:
        return self.env.get_template(template).render(**ctx)

    def fragment(self, key: tuple[str, ...], build: Callable[[Snapshot], str]) -> str:
        """A live fragment, rendered once per fleet change and second for every page that
        streams it (600 kiosks take some 30 ms to render)."""
        snap = self.monitor.snapshot()
        second = int(snap.at)
        with self._cache_lock:
            hit = self._cache.get(key)
        if hit is not None and hit[:2] == (snap.revision, second):
            return hit[2]
        html = build(snap)
        with self._cache_lock:
            if len(self._cache) > 256:
                self._cache.clear()
            self._cache[key] = (snap.revision, second, html)
        return html

    # -- sessions -----------------------------------------------------------------------
    def session(self, request: Request, touch: bool = True) -> Session | None:
        """The request's session, if valid; ``touch=False`` (streams) does not count as
        activity, so an unattended page still logs out after the idle time."""
        token = request.cookies.get(SESSION_COOKIE)
        s = self.sessions.get(token) if touch else self.sessions.peek(token)
        if s is None:
            return None
        user = self.settings.users.get(s.user)
        if user is None or user.role != s.role:  # removed, or another role: log in again
            self.sessions.end_user(s.user)
            return None
        return s

    def secure(self, request: Request) -> bool:
        flag = self.settings.secure_cookies
        return request.url.scheme == "https" if flag is None else flag

    def cookie(self, response: Response, request: Request, name: str, value: str,
               max_age: int | None = None, path: str = "/") -> None:
        response.set_cookie(name, value, max_age=max_age, path=path, httponly=True,
                            samesite="strict", secure=self.secure(request))

    # -- views --------------------------------------------------------------------------
    def fleet_context(self, snap: Snapshot, group: str | None) -> dict[str, Any]:
        views = model.fleet_views(snap, self.settings.stale_after_s, group)
        return {"snap": snap, "views": views, "summary": model.summary(views),
                "rollouts": model.rollouts(snap, group), "group": group,
                "groups": model.groups(snap), "now": snap.at}

    def actions(self) -> list[Any]:
        """The latest operator actions (the fleet page), from the database."""
        history = self.settings.history
        return history.actions(20) if history is not None else []

    def kiosk_context(self, snap: Snapshot, kiosk_id: str, s: Session) -> dict[str, Any]:
        view = model.kiosk_view(snap, kiosk_id, self.settings.stale_after_s)
        sent = [c for c in reversed(self.sent) if c.kiosk_id == kiosk_id][:20]
        history = [(c, _command_state(c, snap)) for c in sent]
        return {"snap": snap, "k": view, "history": history,
                "diagnostics": snap.diagnostics.get(kiosk_id) or {},
                "may_command": s.role == "operator" and self.settings.signing_key is not None,
                "role": s.role, "key_missing": self.settings.signing_key is None,
                "now": snap.at, "session": s}


def _clock(ts: Any) -> str:
    if not isinstance(ts, int | float):
        return "-"
    return datetime.fromtimestamp(ts).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _command_state(c: SentCommand, snap: Snapshot) -> dict[str, Any]:
    answer = snap.answers.get(c.nonce)
    if answer is None:
        state = "no answer" if snap.at > c.expires_at else "waiting"
        return {"state": state, "rag": "red" if state == "no answer" else "amber",
                "detail": ""}
    if answer.get("ok"):
        status = str(answer.get("status") or "done")
        return {"state": status, "rag": "green" if status == "done" else "amber",
                "detail": str(answer.get("detail") or "")[:200]}
    return {"state": f"refused: {answer.get('code')}", "rag": "red",
            "detail": str(answer.get("detail") or "")[:200]}


def _sse(event: str, html: str) -> bytes:
    lines = "".join(f"data: {line}\n" for line in html.splitlines() or [""])
    return f"event: {event}\n{lines}\n".encode()


def _known(snap: Snapshot, kiosk_id: str) -> bool:
    try:
        check_name(kiosk_id, "kiosk")
    except OperatorError:
        return False
    return kiosk_id in snap.reported or kiosk_id in snap.status


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(settings: DashboardSettings) -> FastAPI:
    """The dashboard app; ``settings.monitor`` is started by the caller."""
    dash = Dashboard(settings)
    app = FastAPI(title="Kiosk fleet dashboard", docs_url=None, redoc_url=None,
                  openapi_url=None)
    app.state.dashboard = dash
    settings.monitor.on_answer = dash.answered
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Any]) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def page(status: int, title: str, message: str, request: Request) -> HTMLResponse:
        s = dash.session(request)
        return HTMLResponse(dash.render("error.html", title=title, message=message,
                                        session=s, snap=dash.monitor.snapshot()),
                            status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        titles = {404: "Not found", 405: "Not allowed"}
        return page(exc.status_code, titles.get(exc.status_code, "Error"),
                    "There is no such page." if exc.status_code == 404 else str(exc.detail),
                    request)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> Response:
        log.error("dashboard: %s on %s", exc.__class__.__name__, request.url.path,
                  exc_info=exc)
        return page(500, "Something went wrong",
                    "The dashboard could not show this page; the error is in its log.",
                    request)

    # -- login --------------------------------------------------------------------------
    def login_page(request: Request, status: int = 200, error: str = "",
                   name: str = "") -> HTMLResponse:
        pre = dash.login_csrf.new_cookie()
        response = HTMLResponse(dash.render("login.html", csrf=dash.login_csrf.token(pre),
                                            error=error, name=name, session=None,
                                            snap=dash.monitor.snapshot()),
                                status_code=status)
        dash.cookie(response, request, LOGIN_COOKIE, pre, max_age=3600, path="/login")
        return response

    @app.get("/login", response_model=None)
    def login_form(request: Request) -> Response:
        if dash.session(request) is not None:
            return RedirectResponse("/", status_code=303)
        return login_page(request)

    @app.post("/login", response_model=None)
    def login(request: Request, username: Annotated[str, Form(max_length=64)] = "",
              password: Annotated[str, Form(max_length=MAX_PASSWORD)] = "",
              csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        known = settings.users.get(username) is not None
        who = username if known else None
        if not dash.login_csrf.check(request.cookies.get(LOGIN_COOKIE), csrf):
            settings.audit.record("dashboard.login", "csrf_refused", operator=who)
            return login_page(request, 403, "The login form had expired. Please try again.")
        wait = dash.limiter.retry_after(username, _client(request))
        if wait > 0:
            settings.audit.record("dashboard.login", "rate_limited", operator=who)
            response = login_page(request, 429, "Too many failed logins. Try again in "
                                  f"{model.ago(wait)}.", username if known else "")
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        user = settings.users.authenticate(username, password)
        if user is None:
            dash.limiter.failed(username, _client(request))
            settings.audit.record("dashboard.login", "refused", operator=who)
            return login_page(request, 401, "Wrong name or password.")
        dash.limiter.succeeded(username)
        s = dash.sessions.create(user.name, user.role)
        settings.audit.record("dashboard.login", "ok", operator=user.name, role=user.role)
        done = RedirectResponse("/", status_code=303)
        dash.cookie(done, request, SESSION_COOKIE, s.token)
        done.delete_cookie(LOGIN_COOKIE, path="/login")
        return done

    @app.post("/logout", response_model=None)
    def logout(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        s = dash.session(request)
        if s is not None:
            if not same_token(s.csrf, csrf):
                settings.audit.record("dashboard.logout", "csrf_refused", operator=s.user)
                return page(403, "Refused", "The form had expired; reload the page.", request)
            dash.sessions.end(s.token)
            settings.audit.record("dashboard.logout", "ok", operator=s.user)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    # -- pages --------------------------------------------------------------------------
    @app.get("/", response_model=None)
    def fleet(request: Request, group: str | None = None) -> Response:
        s = dash.session(request)
        if s is None:
            return RedirectResponse("/login", status_code=303)
        ctx = dash.fleet_context(dash.monitor.snapshot(), group or None)
        return HTMLResponse(dash.render("fleet.html", session=s, actions=dash.actions(), **ctx))

    @app.get("/kiosk/{kiosk_id}", response_model=None)
    def kiosk(request: Request, kiosk_id: str) -> Response:
        s = dash.session(request)
        if s is None:
            return RedirectResponse("/login", status_code=303)
        snap = dash.monitor.snapshot()
        if not _known(snap, kiosk_id):
            return page(404, "No such kiosk", "No kiosk by this id has reported.", request)
        return HTMLResponse(dash.render("kiosk.html",
                                        **dash.kiosk_context(snap, kiosk_id, s)))

    @app.post("/kiosk/{kiosk_id}/command", response_model=None)
    def command(request: Request, kiosk_id: str,
                name: Annotated[str, Form(max_length=40)] = "",
                csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        s = dash.session(request)
        if s is None:
            settings.audit.record("dashboard.command", "no_session", kiosk=kiosk_id[:64],
                                  command=name[:40])
            return page(403, "Refused", "Log in first.", request)
        if not same_token(s.csrf, csrf):
            settings.audit.record("dashboard.command", "csrf_refused", operator=s.user,
                                  kiosk=kiosk_id[:64], command=name[:40])
            return page(403, "Refused", "The form had expired; reload the page.", request)
        if s.role != "operator":
            settings.audit.record("dashboard.command", "denied", operator=s.user,
                                  role=s.role, kiosk=kiosk_id[:64], command=name[:40])
            return page(403, "Refused", "Viewers cannot send commands.", request)
        if name not in PAGE_COMMANDS:
            return page(400, "Unknown command", "The dashboard does not send this command.",
                        request)
        key = settings.signing_key
        if key is None:
            return page(409, "Commands are off", "The dashboard has no signing key "
                        "(kiosk ops dashboard --key).", request)
        snap = dash.monitor.snapshot()
        if not _known(snap, kiosk_id):
            return page(404, "No such kiosk", "No kiosk by this id has reported.", request)
        envelope = sign_command(key, kiosk_id, name, {}, settings.command_ttl_s)
        nonce = str(json.loads(envelope)["body"]["nonce"])
        try:
            dash.monitor.publish(topics.cmd(kiosk_id), envelope, retain=False)
        except OperatorError as exc:
            settings.audit.record("dashboard.command", "not_sent", operator=s.user,
                                  kiosk=kiosk_id, command=name, reason=exc.message[:120])
            return page(503, "Not sent", f"The broker did not take the command "
                        f"({exc.message}).", request)
        now = time.time()
        sent = SentCommand(nonce, kiosk_id, name, s.user, now, now + settings.command_ttl_s)
        dash.sent.append(sent)
        if settings.history is not None:
            settings.history.command(CommandRow(sent.nonce, sent.kiosk_id, sent.command,
                                                sent.operator, sent.sent_at, sent.expires_at))
        settings.audit.record("dashboard.command", "sent", operator=s.user, kiosk=kiosk_id,
                              command=name, nonce=nonce[:12])
        return RedirectResponse(f"/kiosk/{kiosk_id}", status_code=303)

    # -- live updates -------------------------------------------------------------------
    async def stream(request: Request, event: str,
                     render: Callable[[Session], str]) -> AsyncIterator[bytes]:
        changes = dash.monitor.changes
        wake = changes.subscribe()
        last = ""
        try:
            yield b"retry: 3000\n\n"
            while not changes.closed:
                s = dash.session(request, touch=False)
                if s is None:
                    yield _sse("expired", "")
                    return
                wake.clear()
                html = await anyio.to_thread.run_sync(render, s)  # off the event loop
                if html != last:
                    yield _sse(event, html)
                    last = html
                try:
                    await asyncio.wait_for(wake.wait(), settings.stream_tick_s)
                except TimeoutError:
                    yield b": tick\n\n"
                if changes.closed:
                    return
                await asyncio.sleep(settings.stream_interval_s)  # merge a burst into one
        finally:
            changes.unsubscribe(wake)

    def sse(request: Request, event: str, render: Callable[[Session], str]) -> Response:
        if dash.session(request) is None:
            return JSONResponse({"error": "log in first"}, status_code=401)
        return StreamingResponse(stream(request, event, render),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    @app.get("/events/fleet", response_model=None)
    async def fleet_events(request: Request, group: str | None = None) -> Response:
        def render(_s: Session) -> str:
            return dash.fragment(("fleet", group or ""), lambda snap: dash.render(
                "_fleet.html", **dash.fleet_context(snap, group or None)))
        return sse(request, "fleet", render)

    @app.get("/events/kiosk/{kiosk_id}", response_model=None)
    async def kiosk_events(request: Request, kiosk_id: str) -> Response:
        def render(s: Session) -> str:
            return dash.fragment(("kiosk", kiosk_id, s.role, str(len(dash.sent))),
                                 lambda snap: dash.render(
                                     "_kiosk.html", **dash.kiosk_context(snap, kiosk_id, s)))
        return sse(request, "kiosk", render)

    return app

