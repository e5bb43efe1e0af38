"""Shared by the dashboard tests: the dashboard served by uvicorn on a real port, over a
real mosquitto; accounts; an httpx operator; headless Chromium from Debian's packages;
a stand-in kiosk whose printer can run out of paper."""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kiosk.backend.platform.serving import serve_in_thread
from kiosk.fleet import keys
from kiosk.fleet.dashboard.app import DashboardSettings, create_app
from kiosk.fleet.dashboard.audit import OperatorAudit
from kiosk.fleet.dashboard.history import History
from kiosk.fleet.dashboard.monitor import FleetMonitor
from kiosk.fleet.dashboard.users import UserStore
from kiosk.fleet.mqtt import BrokerSettings
from tests.harness.peers import Mosquitto
from tests.kiosk.fleet.conftest import WAIT, StandIn

PASSWORD = "correct horse battery"
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "dashboard"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@dataclass
class PaperStandIn(StandIn):
    """A stand-in kiosk with the four devices; its printer's paper is ``ok``, ``low`` or
    ``out`` (out: the printer reports user_error and the problem ``printer.paper_out``)."""

    paper: str = "ok"

    def health(self) -> dict[str, Any]:
        health = super().health()
        printer = {"status": "user_error" if self.paper == "out" else "online",
                   "paper": self.paper}
        health["devices"] = {"printer": printer, "idcard": "online", "camera": "online",
                             "qr": "online"}
        if self.paper == "out":
            health["problems"] = [*health["problems"], "printer.paper_out"]
            health["verdict"] = "degraded"
        return health


@dataclass
class DashboardPeer:
    url: str
    monitor: FleetMonitor
    audit: OperatorAudit
    users: UserStore
    sent: Any = field(default=None)
    history: History | None = None


@contextmanager
def dashboard(tmp_path: Path, broker: Mosquitto, signer: keys.SigningKey | None,
              broker_up: bool = True, **settings: Any) -> Iterator[DashboardPeer]:
    """The dashboard with accounts ``olga`` (operator) and ``vic`` (viewer), its history in
    ``tmp_path/dashboard`` (a second one there starts from what the first kept);
    ``broker_up=False``: do not wait for the broker (it is down)."""
    folder = tmp_path / "dashboard"
    users = UserStore(folder / "users.json")
    for name, role in (("olga", "operator"), ("vic", "viewer")):
        if users.get(name) is None:
            users.add(name, role, PASSWORD)
    history = History(folder)
    audit = OperatorAudit(folder / "audit.jsonl", history=history)
    monitor = FleetMonitor(BrokerSettings.from_url(broker.url), history=history).start()
    assert not broker_up or monitor.link.subscribed.wait(WAIT)
    app = create_app(DashboardSettings(users, monitor, audit, signer,
                                       **{"stream_interval_s": 0.1, "stream_tick_s": 1.0,
                                          "history": history, **settings}))
    try:
        with serve_in_thread(app) as url:
            try:
                yield DashboardPeer(url, monitor, audit, users, app.state.dashboard.sent,
                                    history)
            finally:
                monitor.changes.close()  # the event streams end, so the server can stop
    finally:
        monitor.close()
        audit.close()
        history.close()


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, html[:500]
    return match.group(1)


def http_login(url: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    """An httpx client logged in as ``name`` and its session's CSRF token."""
    client = httpx.Client(base_url=url, timeout=WAIT)
    form = client.get("/login")
    answer = client.post("/login", data={"username": name, "password": password,
                                         "csrf": csrf_of(form.text)})
    assert answer.status_code == 303, answer.text[:300]
    return client, csrf_of(client.get("/").text)


def chromium(width: int = 1440, height: int = 900) -> Any:
    """Headless Chromium (Debian's) driven by Debian's chromedriver, in a fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="dashboard-chromium-")
    for flag in ("--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                 f"--window-size={width},{height}", "--lang=en-GB"):
        options.add_argument(flag)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
