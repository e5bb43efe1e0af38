"""The dashboard over real HTTP (uvicorn) and a real mosquitto, without a browser: accounts
(`kiosk ops user add`), cookies, CSRF on every POST, roles, the login rate limit, the
audit file, the event stream, a broker that goes away; and the red/amber/green rules and
rollout progress on hand-made snapshots."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from kiosk.cli import main as kiosk_main
from kiosk.fleet import keys, topics
from kiosk.fleet.bundle import sign
from kiosk.fleet.dashboard import model
from kiosk.fleet.dashboard.monitor import DesiredDoc, Snapshot
from kiosk.fleet.dashboard.sessions import SessionStore
from kiosk.fleet.dashboard.users import UserStore, verify_password
from kiosk.fleet.ops import FleetView
from tests.harness.peers import Mosquitto, wait_until
from tests.kiosk.fleet.conftest import WAIT, Kiosk
from tests.kiosk.fleet.dashboard_harness import (
    PASSWORD,
    DashboardPeer,
    PaperStandIn,
    csrf_of,
    dashboard,
    http_login,
)

MakeKiosk = Callable[..., Kiosk]


@pytest.fixture
def dash(tmp_path: Path, broker: Mosquitto, signer: keys.SigningKey) -> Iterator[DashboardPeer]:
    with dashboard(tmp_path, broker, signer) as peer:
        yield peer


def audit_records(peer: DashboardPeer) -> list[dict[str, Any]]:
    assert peer.audit.flush(WAIT)
    return [json.loads(line) for line in peer.audit.path.read_text().splitlines()]


def outcomes(peer: DashboardPeer, event: str) -> list[str]:
    return [r["outcome"] for r in audit_records(peer) if r["event"] == event]


def ready(view: FleetView, kiosk_id: str) -> None:
    assert view.wait_for(lambda v: v.status.get(kiosk_id) == "online"
                         and kiosk_id in v.reported, WAIT)


# -- accounts ---------------------------------------------------------------------------
def test_user_add_reads_the_password_from_stdin_and_keeps_only_a_hash(tmp_path: Path) -> None:
    users = tmp_path / "users.json"
    runner = CliRunner()
    done = runner.invoke(kiosk_main, ["ops", "user", "add", "olga", "--role", "operator",
                                      "--users", str(users)], input=PASSWORD + "\n")
    assert done.exit_code == 0, done.output
    assert stat.S_IMODE(os.stat(users).st_mode) == 0o600
    text = users.read_text()
    assert PASSWORD not in text and "scrypt$" in text
    entry = json.loads(text)["users"]["olga"]
    assert entry["role"] == "operator" and verify_password(PASSWORD, entry["hash"])
    assert not verify_password(PASSWORD + "x", entry["hash"])

    again = runner.invoke(kiosk_main, ["ops", "user", "add", "olga", "--role", "viewer",
                                       "--users", str(users)], input=PASSWORD + "\n")
    assert again.exit_code == 2 and "olga exists" in again.output
    short = runner.invoke(kiosk_main, ["ops", "user", "add", "vic", "--role", "viewer",
                                       "--users", str(users)], input="short\n")
    assert short.exit_code == 2 and "password" in short.output and "short" not in \
        short.output.split(":", 1)[1]
    role = runner.invoke(kiosk_main, ["ops", "user", "add", "vic", "--role", "admin",
                                      "--users", str(users)], input=PASSWORD + "\n")
    assert role.exit_code == 2
    listed = runner.invoke(kiosk_main, ["ops", "user", "list", "--users", str(users)])
    assert listed.output.split() == ["olga", "operator"]
    gone = runner.invoke(kiosk_main, ["ops", "user", "remove", "olga", "--users", str(users)])
    assert gone.exit_code == 0 and UserStore(users).names() == []


def test_dashboard_refuses_to_start_on_an_operator_mistake(tmp_path: Path,
                                                           broker: Mosquitto) -> None:
    runner = CliRunner()
    users = tmp_path / "users.json"
    base = ["ops", "dashboard", "--broker", broker.url, "--audit", str(tmp_path / "a.jsonl")]
    none = runner.invoke(kiosk_main, [*base, "--users", str(users), "--port", "0"])
    assert none.exit_code == 2 and str(users) in none.output and "user add" in none.output
    UserStore(users).add("olga", "operator", PASSWORD)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = runner.invoke(kiosk_main, [*base, "--users", str(users), "--port", str(port)])
    assert busy.exit_code == 2 and "--port" in busy.output
    key = runner.invoke(kiosk_main, [*base, "--users", str(users), "--port", "0",
                                     "--key", str(tmp_path / "missing.key")])
    assert key.exit_code == 2 and "missing.key" in key.output
    stale = runner.invoke(kiosk_main, [*base, "--users", str(users), "--port", "0",
                                       "--stale-after", "soon"])
    assert stale.exit_code == 2 and "--stale-after" in stale.output
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        nobody = f"mqtt://127.0.0.1:{closed.getsockname()[1]}"
    down = runner.invoke(kiosk_main, ["ops", "dashboard", "--broker", nobody, "--users",
                                      str(users), "--port", "0", "--connect-timeout", "0.5",
                                      "--audit", str(tmp_path / "a.jsonl")])
    assert down.exit_code == 2 and "--broker" in down.output


# -- sessions, cookies, CSRF, roles -------------------------------------------------------
def test_session_cookie_is_httponly_strict_and_secure_over_https(dash: DashboardPeer) -> None:
    with httpx.Client(base_url=dash.url, timeout=WAIT) as client:
        form = client.get("/login")
        assert "default-src 'self'" in form.headers["content-security-policy"]
        answer = client.post("/login", data={"username": "olga", "password": PASSWORD,
                                             "csrf": csrf_of(form.text)})
        cookie = answer.headers["set-cookie"]
        assert answer.status_code == 303 and cookie.startswith("kd_session=")
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Secure" not in cookie
        assert client.get("/").headers["cache-control"] == "no-store"
    with httpx.Client(base_url=dash.url, timeout=WAIT,
                      headers={"X-Forwarded-Proto": "https"}) as tls:  # a TLS proxy in front
        form = tls.get("/login")
        assert "Secure" in form.headers["set-cookie"]
        answer = tls.post("/login", data={"username": "olga", "password": PASSWORD,
                                          "csrf": csrf_of(form.text)},
                          headers={"Cookie": f"kd_login={form.cookies['kd_login']}"})
        assert answer.status_code == 303 and "Secure" in answer.headers["set-cookie"]


def test_a_post_without_the_csrf_token_is_refused(dash: DashboardPeer, make_kiosk: MakeKiosk,
                                                  view: FleetView) -> None:
    k = make_kiosk("k1", "g1")
    ready(view, "k1")
    with httpx.Client(base_url=dash.url, timeout=WAIT) as anon:
        anon.get("/login")
        forged = anon.post("/login", data={"username": "olga", "password": PASSWORD})
        assert forged.status_code == 403 and "kd_session" not in forged.headers.get(
            "set-cookie", "")
        nobody = anon.post("/kiosk/k1/command", data={"name": "out_of_service"})
        assert nobody.status_code == 403
    client, token = http_login(dash.url, "olga")
    with closing(client):
        for form in ({"name": "out_of_service"},
                     {"name": "out_of_service", "csrf": token[:-2] + "xx"},
                     {"name": "out_of_service", "csrf": ""}):
            refused = client.post("/kiosk/k1/command", data=form)
            assert refused.status_code == 403 and "expired" in refused.text
        assert client.post("/logout", data={}).status_code == 403  # logout needs it too
        assert len(dash.sent) == 0
        sent = client.post("/kiosk/k1/command", data={"name": "back_in_service",
                                                      "csrf": token})
        assert sent.status_code == 303 and sent.headers["location"] == "/kiosk/k1"
    assert view.wait_for(lambda _v: ("back_in_service", {}) in k.standin.commands, WAIT)
    assert k.standin.commands == [("back_in_service", {})]  # nothing else arrived
    assert outcomes(dash, "dashboard.command") == ["no_session", "csrf_refused",
                                                   "csrf_refused", "csrf_refused", "sent"]
    assert outcomes(dash, "dashboard.login") == ["csrf_refused", "ok"]
    assert outcomes(dash, "dashboard.logout") == ["csrf_refused"]


def test_commands_need_the_operator_role_and_a_signing_key(
        tmp_path: Path, broker: Mosquitto, make_kiosk: MakeKiosk, view: FleetView,
        dash: DashboardPeer) -> None:
    k = make_kiosk("k1", "g1")
    ready(view, "k1")
    viewer, token = http_login(dash.url, "vic")
    with closing(viewer):
        page = viewer.get("/kiosk/k1")
        assert "read only" in page.text and 'class="cmd' not in page.text
        refused = viewer.post("/kiosk/k1/command", data={"name": "restart_when_idle",
                                                         "csrf": token})
        assert refused.status_code == 403
    operator, token = http_login(dash.url, "olga")
    with closing(operator):
        unknown = operator.post("/kiosk/k1/command", data={"name": "screenshot",
                                                           "csrf": token})
        assert unknown.status_code == 400
        stranger = operator.post("/kiosk/nope/command", data={"name": "run_diagnostics",
                                                              "csrf": token})
        assert stranger.status_code == 404
    assert k.agent.sync(WAIT) and k.standin.commands == []
    with dashboard(tmp_path / "keyless", broker, None) as keyless:
        operator, token = http_login(keyless.url, "olga")
        with closing(operator):
            assert "started without a signing key" in operator.get("/kiosk/k1").text
            off = operator.post("/kiosk/k1/command", data={"name": "run_diagnostics",
                                                           "csrf": token})
            assert off.status_code == 409


def test_logins_are_rate_limited_and_audited_without_passwords(dash: DashboardPeer) -> None:
    with httpx.Client(base_url=dash.url, timeout=WAIT) as client:
        def attempt(name: str, password: str) -> httpx.Response:
            form = client.get("/login")
            return client.post("/login", data={"username": name, "password": password,
                                               "csrf": csrf_of(form.text)})

        for n in range(5):
            assert attempt("olga", f"wrong-password-{n}").status_code == 401
        limited = attempt("olga", PASSWORD)  # right, but too late
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        assert "kd_session" not in limited.headers.get("set-cookie", "")
        assert attempt("Olga", PASSWORD).status_code == 429  # names compare case-blind
        assert attempt("ghost-typed-hunter2", "x" * 12).status_code == 401
        assert attempt("vic", PASSWORD).status_code == 303  # another account is not locked
    records = [r for r in audit_records(dash) if r["event"] == "dashboard.login"]
    assert [r["outcome"] for r in records] == ["refused"] * 5 + ["rate_limited"] * 2 + [
        "refused", "ok"]
    text = dash.audit.path.read_text()
    assert "wrong-password" not in text and PASSWORD not in text
    assert "ghost-typed-hunter2" not in text  # not an account: the name is not kept


def test_a_removed_account_or_a_changed_role_ends_its_sessions(dash: DashboardPeer) -> None:
    viewer, _ = http_login(dash.url, "vic")
    operator, _ = http_login(dash.url, "olga")
    with closing(viewer), closing(operator):
        assert viewer.get("/").status_code == 200
        dash.users.remove("vic")
        assert viewer.get("/").headers["location"] == "/login"
        dash.users.add("olga", "viewer", PASSWORD, replace=True)
        assert operator.get("/").headers["location"] == "/login"
        assert operator.get("/events/fleet").status_code == 401


# -- live updates and a broker that goes away -------------------------------------------
def next_event(lines: Iterator[str], name: str) -> str:
    """The data of the next server-sent event called ``name``."""
    event, data = None, []
    for line in lines:
        if line.startswith("event: "):
            event, data = line[7:], []
        elif line.startswith("data: "):
            data.append(line[6:])
        elif line == "" and event is not None:
            if event == name:
                return "\n".join(data)
            event = None
    raise AssertionError("the stream ended")


def test_the_event_stream_pushes_the_fleet_as_it_changes(
        dash: DashboardPeer, make_kiosk: MakeKiosk, view: FleetView) -> None:
    standin = PaperStandIn()
    make_kiosk("k1", "g1", standin)
    ready(view, "k1")
    client, _ = http_login(dash.url, "olga")
    with closing(client), client.stream("GET", "/events/fleet") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        first = next_event(lines, "fleet")
        assert 'data-kiosk="k1" data-rag="green"' in first
        standin.paper = "out"
        while 'data-kiosk="k1" data-rag="red"' not in (html := next_event(lines, "fleet")):
            pass
        assert "printer: paper out" in html


def test_pages_answer_while_the_broker_is_down(dash: DashboardPeer, broker: Mosquitto,
                                              make_kiosk: MakeKiosk, view: FleetView) -> None:
    make_kiosk("k1", "g1")
    ready(view, "k1")
    client, token = http_login(dash.url, "olga")
    with closing(client):
        broker.stop()
        # paho notices the closed socket on its own thread
        wait_until(lambda: not dash.monitor.connected, WAIT, "the dashboard sees the broker go")
        started = time.monotonic()
        page = client.get("/")
        assert page.status_code == 200 and "broker disconnected" in page.text
        assert 'data-kiosk="k1"' in page.text  # what was known is still shown
        failed = client.post("/kiosk/k1/command", data={"name": "run_diagnostics",
                                                        "csrf": token})
        assert failed.status_code == 503 and "did not take" in failed.text
        assert time.monotonic() - started < 2.0
    assert outcomes(dash, "dashboard.command") == ["not_sent"]


# -- red, amber, green; rollouts (pure) -------------------------------------------------
NOW = 1_800_000_000.0


def snapshot(reported: dict[str, dict[str, Any]], status: dict[str, str] | None = None,
             desired: list[DesiredDoc] | None = None) -> Snapshot:
    return Snapshot(NOW, True, reported,
                    status if status is not None else {k: "online" for k in reported},
                    {d.topic: d for d in desired or []}, {}, {}, 1)


def report(**extra: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"group": "g1", "heartbeat_at": NOW - 5,
                           "health": {"verdict": "ok", "devices": {"printer": "online"}}}
    doc.update(extra)
    return doc


def test_red_amber_green_rules() -> None:
    def rag(rep: dict[str, Any], status: str = "online") -> tuple[str, list[str]]:
        v = model.kiosk_view(snapshot({"k": rep}, {"k": status}), "k", 90)
        return v.rag, v.reasons

    assert rag(report()) == ("green", [])
    assert rag(report(), "offline") == ("red", ["offline"])
    assert rag(report(heartbeat_at=NOW - 200)) == ("red", ["no heartbeat for 3 min"])
    assert rag(report(health={"verdict": "down"})) == ("red", ["health down"])
    assert rag(report(health={"verdict": "ok", "devices": {
        "printer": {"status": "online", "paper": "out"}}})) == ("red", ["printer: paper out"])
    assert rag(report(health={"verdict": "ok", "devices": {"camera": "no_device"}})) == (
        "red", ["camera: no device"])
    assert rag(report(health={"verdict": "ok", "problems": ["printer.paper_out"],
                              "devices": {"printer": {"status": "user_error",
                                                      "paper": "out"}}})) == (
        "red", ["printer: paper out"])  # the same fault named once
    assert rag(report(health={"verdict": "ok", "devices": {
        "printer": {"status": "online", "paper": "low"}}})) == ("amber", ["printer: paper low"])
    assert rag(report(health={"verdict": "ok", "out_of_service": True})) == (
        "amber", ["out of service"])
    assert rag(report(health={"verdict": "degraded"})) == ("amber", ["health degraded"])
    assert rag(report(last_rejection={"version": 4, "reason": "bad_signature", "at": NOW},
                      last_outcome={"result": "applied", "at": NOW - 60})) == (
        "amber", ["refused v4: bad_signature"])
    assert rag(report(last_rejection={"version": 4, "reason": "expired", "at": NOW - 60},
                      last_outcome={"result": "applied", "at": NOW})) == ("green", [])
    assert rag(report(last_outcome={"result": "rolled_back", "reason": "health_window: x",
                                    "at": NOW})) == ("amber", ["rolled back: health_window: x"])
    behind = report(applied={"group": {"scope": "group:g1", "version": 2}})
    v = model.kiosk_view(snapshot({"k": behind}, desired=[
        DesiredDoc(topics.group_desired("g1"), "group:g1", 3, None, None)]), "k", 90)
    assert (v.rag, v.reasons) == ("amber", ["group config v2 of v3"])
    assert [(la.layer, la.applied, la.desired) for la in v.layers] == [("group", 2, 3)]

    snap = snapshot({"a": report(), "b": report(health={"verdict": "degraded"}),
                     "c": report(group="g2"), "d": report()}, {"a": "online", "b": "online",
                                                                 "c": "online", "d": "offline"})
    assert [v.kiosk_id for v in model.fleet_views(snap, 90)] == ["d", "b", "a", "c"]
    assert [v.kiosk_id for v in model.fleet_views(snap, 90, "g2")] == ["c"]
    assert model.summary(model.fleet_views(snap, 90)) == {
        "total": 4, "red": 1, "amber": 1, "green": 2, "offline": 1, "out_of_service": 0}


def test_rollout_progress_from_staged_and_desired_documents() -> None:
    def applied(version: int) -> dict[str, Any]:
        return {"group": "hosp", "applied": {"group": {"scope": "group:hosp",
                                                       "version": version}}}

    reported = {"h1": applied(5), "h2": applied(4), "h3": {**applied(4), "last_rejection": {
        "scope": "group:hosp", "version": 5, "reason": "invalid_config"}},
        "h4": applied(4), "o1": {"group": "other"}}
    staged = [DesiredDoc(topics.kiosk_staged(k), "group:hosp", 5, None, k)
              for k in ("h1", "h2", "h3")]
    old = DesiredDoc(topics.group_desired("hosp"), "group:hosp", 4, None, None)
    [r] = model.rollouts(snapshot(reported, desired=[*staged, old]))
    assert (r.scope, r.version, r.state, r.total) == ("group:hosp", 5, "rolling out", 4)
    assert (r.applied, r.failed, r.in_batch, r.waiting) == (
        ["h1"], {"h3": "invalid_config"}, ["h2"], ["h4"])
    assert r.percent == 25 and not r.complete
    done = {k: applied(5) for k in ("h1", "h2", "h3", "h4")}
    final = DesiredDoc(topics.group_desired("hosp"), "group:hosp", 5, None, None)
    [r] = model.rollouts(snapshot(done, desired=[final]))
    assert r.state == "published" and r.complete and r.percent == 100
    assert model.rollouts(snapshot(done, desired=[final]), group="other") == []


def test_a_group_bundle_shows_as_a_rollout_on_the_page(
        dash: DashboardPeer, make_kiosk: MakeKiosk, view: FleetView,
        signer: keys.SigningKey) -> None:
    make_kiosk("k1", "g1")
    ready(view, "k1")
    view.push(sign({}, signer, 7, 3600, "group:g1"))
    assert view.wait_for(lambda v: ((v.reported.get("k1") or {}).get("applied") or {})
                         .get("group", {}).get("version") == 7, WAIT)
    client, _ = http_login(dash.url, "olga")
    with closing(client):
        # the dashboard's own subscription follows the broker
        wait_until(lambda: "1 / 1 applied" in client.get("/").text, WAIT, "the rollout row")
        page = client.get("/").text
        assert 'data-rollout="group:g1"' in page and "complete" in page


def test_the_command_serves_and_stops_promptly_with_a_page_streaming(
        tmp_path: Path, broker: Mosquitto, keydir: Path) -> None:
    users = tmp_path / "users.json"
    UserStore(users).add("olga", "operator", PASSWORD)
    proc = subprocess.Popen(
        [sys.executable, "-m", "kiosk.cli", "ops", "dashboard", "--broker", broker.url,
         "--port", "0", "--users", str(users), "--key", str(keydir / "signing.key"),
         "--audit", str(tmp_path / "audit.jsonl")],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()  # printed once it listens
        assert "commands signed by" in banner, banner
        url = banner.split()[1].rstrip("/")
        client, _ = http_login(url, "olga")
        with closing(client), client.stream("GET", "/events/fleet") as stream:
            assert "broker connected" in next_event(stream.iter_lines(), "fleet")
            started = time.monotonic()
            proc.terminate()  # uvicorn stops, then re-raises the signal (as supervisors expect)
            assert proc.wait(WAIT) in (0, -signal.SIGTERM)
        assert time.monotonic() - started < 3.0
        assert "dashboard.login" in (tmp_path / "audit.jsonl").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
        if proc.stderr is not None:
            proc.stderr.close()


def test_sessions_end_after_the_idle_time_and_a_streaming_page_does_not_count() -> None:
    now = [1000.0]
    store = SessionStore(idle_s=60, absolute_s=600, clock=lambda: now[0])
    s = store.create("olga", "operator")
    now[0] += 50
    assert store.get(s.token) is s  # a click: active again
    now[0] += 50
    assert store.peek(s.token) is s  # a live page streaming: not activity
    now[0] += 20
    assert store.peek(s.token) is None and store.get(s.token) is None
    long = store.create("olga", "operator")
    for _ in range(12):
        now[0] += 55
        store.get(long.token)
    assert store.get(long.token) is None  # the absolute lifetime
