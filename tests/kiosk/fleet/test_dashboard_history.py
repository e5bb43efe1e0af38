"""The dashboard keeps what it shows in its database (``history.sqlite``, 0600): a dashboard
restarted against the same state folder shows the fleet, the rollout, the commands with
their answers, the readiness report and the operator actions it showed before, also with the
broker down."""

from __future__ import annotations

import re
import stat
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from kiosk.fleet import keys
from kiosk.fleet.bundle import sign
from kiosk.fleet.dashboard.history import History
from kiosk.fleet.ops import FleetView
from tests.harness.peers import Mosquitto, wait_until
from tests.kiosk.fleet.conftest import WAIT, Kiosk
from tests.kiosk.fleet.dashboard_harness import PaperStandIn, dashboard, http_login

MakeKiosk = Callable[..., Kiosk]


def _kiosk_row(page: str, kiosk_id: str) -> str:
    match = re.search(rf'<tr [^>]*data-kiosk="{kiosk_id}".*?</tr>', page, re.S)
    assert match, page[:2000]
    return match.group(0)


def _shown(page: str) -> str:
    """The page without what moves by itself (the clock, ages)."""
    page = re.sub(r"as of [^<]*", "", page)
    page = re.sub(r"\d+ (s|min|h|d) ago", "AGO", page)
    page = re.sub(r'name="csrf" value="[^"]*"', "", page)
    return re.sub(r"<span>\d+ (s|min|h|d)</span>|Uptime</dt><dd>[^<]*", "", page)


def test_a_restarted_dashboard_shows_what_it_showed_before(
        tmp_path: Path, broker: Mosquitto, make_kiosk: MakeKiosk, view: FleetView,
        signer: keys.SigningKey) -> None:
    k1 = make_kiosk("k1", "g1", standin=PaperStandIn())
    k2 = make_kiosk("k2", "g1", standin=PaperStandIn(paper="out"))
    view.push(sign({}, signer, 3, 3600, "group:g1"))
    for k in ("k1", "k2"):
        assert view.wait_for(lambda v, k=k: ((v.reported.get(k) or {}).get("applied") or {})
                             .get("group", {}).get("version") == 3, WAIT)
    with dashboard(tmp_path, broker, signer) as first:
        client, token = http_login(first.url, "olga")
        with closing(client):
            wait_until(lambda: "2 / 2 applied" in client.get("/").text, WAIT, "the rollout")
            for name in ("out_of_service", "run_diagnostics"):
                sent = client.post("/kiosk/k1/command", data={"name": name, "csrf": token})
                assert sent.status_code == 303
            wait_until(lambda: client.get("/kiosk/k1").text.count('data-state="done"') == 2
                       and "Whole report" in client.get("/kiosk/k1").text
                       and 'id="oos"' in client.get("/kiosk/k1").text, WAIT,
                       "both answers, the report and the kiosk out of service")
            k1.agent.stop()  # no heartbeat after this: the pages stand still
            k2.agent.stop()
            wait_until(lambda: client.get("/").text.count('<span class="tag off">offline') == 2,
                       WAIT, "both kiosks offline")
            before_kiosk = _shown(client.get("/kiosk/k1").text)
            before_fleet = client.get("/").text
        assert first.history is not None and first.history.flush(WAIT)
    assert k1.standin.out_of_service
    db = tmp_path / "dashboard" / "history.sqlite"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600

    broker.stop()  # nothing comes from the broker now: what shows is from the database
    with dashboard(tmp_path, broker, signer, broker_up=False) as second:
        assert not second.monitor.connected
        client, _ = http_login(second.url, "olga")
        with closing(client):
            fleet = client.get("/").text
            assert "broker disconnected" in fleet
            for kiosk_id in ("k1", "k2"):  # rows as before, up to the heartbeat's age
                assert _shown(_kiosk_row(fleet, kiosk_id)).replace("AGO", "") == \
                    _shown(_kiosk_row(before_fleet, kiosk_id)).replace("AGO", "")
            assert 'data-kiosk="k2" data-rag="red"' in fleet and "printer: paper out" in fleet
            assert 'data-rollout="group:g1"' in fleet and "2 / 2 applied" in fleet
            actions = re.search(r'<section class="card" id="actions">.*?</section>', fleet,
                                re.S)
            assert actions, fleet[-3000:]
            assert actions.group(0).count('data-event="dashboard.command" '
                                          'data-outcome="sent"') == 2
            assert 'data-event="dashboard.login" data-outcome="ok"' in actions.group(0)
            after_kiosk = _shown(client.get("/kiosk/k1").text)
    for part in ('id="history"', 'id="readiness"'):  # commands, answers, report: the same
        assert after_kiosk.split(part, 1)[1].split("</section>", 1)[0] == \
            before_kiosk.split(part, 1)[1].split("</section>", 1)[0]
    assert 'id="oos"' in after_kiosk and "broker disconnected" in after_kiosk


def test_the_history_keeps_the_last_state_per_kiosk_and_bounds_its_logs(
        tmp_path: Path) -> None:
    history = History(tmp_path / "state")
    for beat in range(5):
        history.reported("k1", {"kiosk_id": "k1", "heartbeat_at": beat})
    history.status("k1", "online")
    history.reported("gone", {"kiosk_id": "gone"})
    history.reported("gone", None)  # a cleared retained document
    history.desired("fleet/g1/config/desired", {"scope": "group:g1", "version": 4,
                                                "expires_at": None, "staged_for": None})
    history.answer("n1", {"nonce": "n1", "ok": True, "status": "done", "command": "screenshot",
                          "result": {"png": "x" * 1000}})
    history.action("dashboard.login", "ok", {"operator": "olga", "role": "operator"})
    history.close()
    again = History(tmp_path / "state")
    try:
        saved = again.load()
        assert saved.reported == {"k1": {"kiosk_id": "k1", "heartbeat_at": 4}}
        assert saved.status == {"k1": "online"}
        assert saved.desired["fleet/g1/config/desired"]["version"] == 4
        [login] = again.actions()
        assert (login.event, login.outcome, login.operator, login.detail) == (
            "dashboard.login", "ok", "olga", {"role": "operator"})
        with again.engine.connect() as conn:  # an answer is kept without its result
            doc = conn.exec_driver_sql("SELECT doc FROM answer").scalar_one()
        assert "png" not in doc and '"status":"done"' in doc
    finally:
        again.close()
