"""Fleet on both databases: what gateways report (health, releases, calls) is kept across a service
restart and shown on the fleet page, read in headless Chromium."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import requests

from backend.app import create_app
from backend.db.models import HealthReport
from backend.fleet.services import fleet
from backend.provisioning.schemas import HealthReportIn
from backend.provisioning.services import store_health
from edge.config import parse_config
from edge.ops.health_report import HealthReporter
from edge.sync.client import BackendClient
from edge.web.gateway_info import gateway_facts
from simulators.backend.server import ServiceThread
from simulators.broker import free_port
from tests.backend.conftest import ADMIN, GATEWAY, STORE, Service
from tests.support import webdriver
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration


def report_like_a_gateway(service: Service, tmp_path: Path) -> None:
    service.thread.app.state.contacts.flush_s = 0.0  # every contact written at once (10 s in service)
    config = parse_config(
        {
            "gateway": {"store_id": STORE, "gateway_id": "gw-7", "data_dir": str(tmp_path / "gw")},
            "backend": {"url": service.url, "token": GATEWAY},
            "web": {"health_report_interval_s": 60},
        }
    )
    facts = {**gateway_facts(config), "mqtt_connected": True, "sync_backlog": 1234}
    state = {"gateway": facts, "shelves": [], "counters": {}, "availability": {}}
    assert HealthReporter(config, lambda: state, time.time).send_once()
    client = BackendClient(service.url, STORE, GATEWAY)
    client.report_release("offers", 6, "activated", "", time.time() - 60)
    client.report_release("offers", 7, "reverted", "decision p99 62 ms > 50 ms", time.time())
    events = [{"idempotency_key": "k1", "stream": "basket", "kind": "pick", "t": time.time(), "payload": {}}]
    assert service.gateway.post(
        f"{service.url}/v1/stores/{STORE}/events", json={"events": events}, timeout=5
    ).ok


def test_fleet_is_kept_across_a_restart(service: Service, tmp_path: Path) -> None:
    report_like_a_gateway(service, tmp_path)
    service.thread.stop()  # the service restarts: nothing of the fleet lived only in its memory
    app = create_app(service.settings)
    thread = ServiceThread(app, "127.0.0.1", free_port())
    thread.start()
    try:
        base = f"http://127.0.0.1:{thread.port}"
        fleet = service.admin.get(f"{base}/v1/fleet", timeout=5).json()["gateways"]
        assert service.gateway.get(f"{base}/v1/fleet", timeout=5).status_code == 403
    finally:
        thread.stop()
        app.state.engine.dispose()
    assert len(fleet) == 1
    gw = fleet[0]
    assert (gw["store_id"], gw["gateway_id"], gw["sync_backlog"]) == (STORE, "gw-7", 1234)
    assert gw["software_version"] and gw["last_contact"] > time.time() - 60
    assert gw["last_call"] == f"POST /v1/stores/{STORE}/events"
    assert [(r["model"], r["version"], r["outcome"]) for r in gw["releases"]] == [("offers", 7, "reverted")]
    assert gw["outcomes"] == {"activated": 1, "reverted": 1}
    assert "1234 events waiting to be sent to the backend" in gw["problems"]


@pytest.mark.skipif(not webdriver.available(), reason="chromium/chromedriver not installed")
@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)  # the rows' database part: test above
def test_fleet_page_in_chromium(service: Service, tmp_path: Path) -> None:
    report_like_a_gateway(service, tmp_path)
    assert requests.get(f"{service.url}/fleet", allow_redirects=False, timeout=5).status_code == 303
    with webdriver.Chromium() as browser:
        browser.get(f"{service.url}/fleet")  # not signed in: the sign-in form
        assert browser.js("return document.title") == "Fleet - sign in"
        browser.js("document.getElementById('token').value = arguments[0]", "adm_wrong")
        browser.click("#sign-in")
        wait_until(
            lambda: "not an admin token" in browser.js("return document.body.innerText"), what="refusal"
        )
        browser.js("document.getElementById('token').value = arguments[0]", ADMIN)
        browser.click("#sign-in")
        wait_until(
            lambda: browser.js("return document.title") == "Fleet - smart-shelf gateways", what="fleet page"
        )
        cells = browser.js(
            "return [...document.querySelectorAll('#fleet tbody tr')].map("
            "r => [...r.cells].map(c => c.innerText))"
        )
        shot = browser.screenshot()
    (tmp_path / "fleet.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(cells) == 1
    store, gateway, software, _model, contact, backlog, releases, outcomes, problems = cells[0]
    assert (store, gateway, backlog) == (STORE, "gw-7", "1,234")
    assert software != "-" and "ago" in contact and "silent" not in contact
    assert "offers v7: reverted - decision p99 62 ms > 50 ms" in releases
    assert outcomes == "activated 1, reverted 1"
    assert "events waiting to be sent" in problems


def test_a_silent_gateway_is_silent_while_another_of_its_store_calls(
    service: Service, tmp_path: Path
) -> None:
    report_like_a_gateway(service, tmp_path)  # gw-7 reports and calls now
    with service.view.sessions() as session:
        store_health(
            session=session,
            store_id=STORE,
            gateway_id="gw-8",
            report=HealthReportIn(
                sent_at=time.time() - 20 * 60, gateway={}, shelves=[], counters={}, problems=[]
            ),
        )
        session.get_one(HealthReport, (STORE, "gw-8")).received_at = time.time() - 20 * 60
        session.commit()
        rows = {row.gateway_id: row for row in fleet(session=session, now=time.time())}
    assert set(rows) == {"gw-7", "gw-8"}
    assert not rows["gw-7"].silent(time.time())
    assert rows["gw-8"].silent(time.time())  # the store's recent calls were gw-7's
