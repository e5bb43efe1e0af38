"""The dashboard in a real headless Chromium (Debian's, through Debian's chromedriver),
against a real mosquitto and real fleet agents with stand-in kiosks: log in, see a kiosk go
red when its printer runs out of paper (red first), filter by group, put it out of service
from its page and see it report so, run diagnostics, see it come back; a viewer gets no
commands. Screenshots: test-artifacts/dashboard/."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from kiosk.fleet import keys
from kiosk.fleet.bundle import sign
from kiosk.fleet.ops import FleetView
from tests.harness.peers import Mosquitto
from tests.kiosk.fleet.conftest import WAIT, Kiosk, wait_applied
from tests.kiosk.fleet.dashboard_harness import (
    ARTIFACTS,
    PASSWORD,
    PaperStandIn,
    chromium,
    dashboard,
    http_login,
)

MakeKiosk = Callable[..., Kiosk]


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = chromium()
    yield driver
    driver.quit()


def rag_of(driver: Any, kiosk_id: str) -> str | None:
    return driver.execute_script(  # type: ignore[no-any-return]
        "const r = document.querySelector(`tr[data-kiosk='${arguments[0]}']`);"
        "return r ? r.dataset.rag : null;", kiosk_id)


def row_order(driver: Any) -> list[str]:
    return driver.execute_script(  # type: ignore[no-any-return]
        "return [...document.querySelectorAll('tr[data-kiosk]')].map(r => r.dataset.kiosk);")


def text_of(driver: Any, selector: str) -> str:
    return driver.execute_script(  # type: ignore[no-any-return]
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';",
        selector)


def until(driver: Any, condition: Callable[[Any], Any], what: str) -> Any:
    """Poll ``condition`` in the page until it holds (a screenshot when it never does)."""
    try:
        return WebDriverWait(driver, WAIT, poll_frequency=0.1).until(condition, what)
    except TimeoutException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"timeout-{what.replace(' ', '-')}.png"))
        raise


def shoot(driver: Any, name: str) -> Path:
    """The whole page (beyond the window) as a PNG in test-artifacts/dashboard/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"],
                 "scale": 1}})
    path = ARTIFACTS / name
    path.write_bytes(base64.b64decode(shot["data"]))
    return path


def log_in(driver: Any, url: str, name: str) -> None:
    driver.get(f"{url}/login")
    driver.find_element(By.ID, "username").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    until(driver, lambda d: d.execute_script("return document.body.dataset.updated"),
          "the first live update")


def test_operator_sees_paper_out_and_puts_the_kiosk_out_of_service(
        tmp_path: Path, broker: Mosquitto, signer: keys.SigningKey, view: FleetView,
        make_kiosk: MakeKiosk, browser: Any) -> None:
    hero = PaperStandIn()
    kiosks = {"hosp-01": make_kiosk("hosp-01", "hospitals", hero),
              "hosp-02": make_kiosk("hosp-02", "hospitals", PaperStandIn()),
              "hosp-03": make_kiosk("hosp-03", "hospitals", PaperStandIn(paper="low")),
              "gc-mall-01": make_kiosk("gc-mall-01", "guicheng", PaperStandIn()),
              "gc-comm-02": make_kiosk("gc-comm-02", "guicheng", PaperStandIn())}
    view.push(sign({"session": {"inactivity_timeout_s": 150}}, signer, 2, 3600,
                   "group:hospitals"))
    for kiosk_id in ("hosp-01", "hosp-02", "hosp-03"):
        wait_applied(view, 2, kiosk_id, "group")
    kiosks["gc-comm-02"].agent.stop()
    assert view.wait_for(lambda v: v.status.get("gc-comm-02") == "offline", WAIT)

    with dashboard(tmp_path, broker, signer) as dash:
        log_in(browser, dash.url, "olga")
        until(browser, lambda d: len(row_order(d)) == 5, "five kiosks listed")
        until(browser, lambda d: rag_of(d, "hosp-01") == "green", "hosp-01 green")
        assert rag_of(browser, "hosp-03") == "amber"  # paper low
        assert rag_of(browser, "gc-comm-02") == "red"  # offline
        assert "complete" in text_of(browser, "tr[data-rollout='group:hospitals']")

        hero.paper = "out"  # the printer runs out of paper: the next heartbeat says so
        until(browser, lambda d: rag_of(d, "hosp-01") == "red", "hosp-01 red")
        order = row_order(browser)
        assert order[:2] == ["gc-comm-02", "hosp-01"] and order[2] == "hosp-03", order
        assert "paper out" in text_of(browser, "tr[data-kiosk='hosp-01'] td.why")
        shoot(browser, "fleet-paper-out.png")

        Select(browser.find_element(By.ID, "group")).select_by_value("guicheng")
        until(browser, lambda d: sorted(row_order(d)) == ["gc-comm-02", "gc-mall-01"],
              "only guicheng")
        browser.get(f"{dash.url}/")

        until(browser, lambda d: rag_of(d, "hosp-01") == "red", "fleet page again")
        # the table is re-rendered live: find and click in one step inside the page
        browser.execute_script("document.querySelector(\"td.id a[href='/kiosk/hosp-01']\")"
                               ".click()")
        until(browser, lambda d: "paper: out" in text_of(d, "tr[data-device='printer']"),
              "the printer's paper on the kiosk page")
        assert text_of(browser, "#kiosk-head .pill") == "red"
        browser.find_element(By.ID, "cmd-out_of_service").click()
        until(browser, expected_conditions.alert_is_present(), "the confirmation").accept()
        until(browser, lambda d: text_of(d, "#oos") == "out of service",
              "hosp-01 reports out of service")
        until(browser, lambda d: d.execute_script(
            "return document.querySelector('#history tr[data-command=out_of_service]')"
            "?.dataset.state") == "done", "the kiosk's answer")
        assert hero.commands[-1][0] == "out_of_service" and hero.out_of_service

        browser.find_element(By.ID, "cmd-run_diagnostics").click()
        until(browser, lambda d: text_of(d, "#readiness .pill") == "ok", "the readiness report")
        shoot(browser, "kiosk-out-of-service.png")

        hero.paper = "ok"  # refilled; back in service
        browser.find_element(By.ID, "cmd-back_in_service").click()
        until(browser, lambda d: text_of(d, "#in-service") == "in service", "back in service")
        until(browser, lambda d: text_of(d, "#kiosk-head .pill") == "green", "green again")
        browser.get(f"{dash.url}/")
        until(browser, lambda d: rag_of(d, "hosp-01") == "green", "green on the fleet page")
        shoot(browser, "fleet-back.png")

        browser.find_element(By.CSS_SELECTOR, "form.logout button").click()
        until(browser, lambda d: d.find_elements(By.ID, "username"), "logged out")
        log_in(browser, dash.url, "vic")
        browser.get(f"{dash.url}/kiosk/hosp-01")
        until(browser, lambda d: d.find_elements(By.ID, "read-only"), "read only for a viewer")
        assert browser.find_elements(By.CSS_SELECTOR, "button.cmd") == []
        shoot(browser, "kiosk-viewer.png")

        viewer, token = http_login(dash.url, "vic")
        before = len(hero.commands)
        refused = viewer.post("/kiosk/hosp-01/command",
                              data={"name": "out_of_service", "csrf": token})
        assert refused.status_code == 403 and "Viewers cannot" in refused.text
        assert kiosks["hosp-01"].agent.sync(WAIT) and len(hero.commands) == before

        assert dash.audit.flush(WAIT)
        records = [json.loads(line) for line in dash.audit.path.read_text().splitlines()]
        seen = [(r["event"], r["outcome"], r["detail"].get("operator"),
                 r["detail"].get("command")) for r in records]
        assert ("dashboard.login", "ok", "olga", None) in seen
        assert ("dashboard.command", "sent", "olga", "out_of_service") in seen
        assert ("dashboard.command_answer", "done", "olga", "out_of_service") in seen
        assert ("dashboard.command", "denied", "vic", "out_of_service") in seen
        assert PASSWORD not in dash.audit.path.read_text()
