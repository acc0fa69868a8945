"""Loyalty app against the real service on both databases, down to the gateway's own code:
enrolment with consent per purpose, the day-keys job, consent withdrawal (central erasure and the
keys feed), check-ins relayed to the gateway, profiles and campaigns validated before publishing."""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from backend.jobs.day_keys import run_day_keys
from edge.app import Gateway
from edge.config import parse_config
from edge.presence.keys import load_key_set
from edge.presence.tokens import AppTokenGenerator, day_of, derive_day_key
from edge.store.db import open_database
from edge.sync.checkins import CheckInRelay
from edge.sync.client import BackendClient
from edge.sync.pull import SyncPuller
from edge.updates import apply_update
from tests.backend.conftest import GATEWAY, STORE, Service

pytestmark = pytest.mark.integration

EVERYTHING = {"recognition": True, "offers": True, "analytics": True}


def enrol(service: Service, **consent: bool) -> dict[str, Any]:
    answer = requests.post(
        f"{service.url}/v1/loyalty/customers", json={"consent": {**EVERYTHING, **consent}}, timeout=5
    )
    assert answer.status_code == 201, answer.text
    body: dict[str, Any] = answer.json()
    return body


def app(service: Service, customer: dict[str, Any]) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {customer['app_token']}"
    return s


def day_keys(service: Service, days_ahead: int = 0) -> None:
    with service.view.sessions() as session:
        run_day_keys(
            session=session, secret_key=service.settings.secret_key, now=time.time(), days_ahead=days_ahead
        )


def gateway(tmp_path: Path, service: Service) -> Gateway:
    config = {
        "gateway": {"store_id": STORE, "gateway_id": "gw-1", "data_dir": str(tmp_path / "gw")},
        "presence": {"source": "none"},
        "web": {"enabled": False},
        "backend": {"url": service.url, "token": GATEWAY},
    }
    return Gateway(parse_config(config))


def sync(gw: Gateway, service: Service) -> list[str]:
    """One pull round of the gateway's own puller, applied as the daemon applies it."""
    puller = SyncPuller(
        gw.db,
        BackendClient(service.url, STORE, GATEWAY),
        gw.config.gateway.data_dir,
        lambda k, p: apply_update(gw, k, p),
    )
    return puller.pull_all()


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def test_enrolment_day_keys_and_withdrawal_reach_the_gateway(service: Service, tmp_path: Path) -> None:
    a = enrol(service)
    b = enrol(service, analytics=False)
    c = enrol(service, recognition=False)
    assert len(bytes.fromhex(a["secret"])) == 16 and a["app_token"].startswith("app_")
    assert app(service, a).get(f"{service.url}/v1/loyalty/me", timeout=5).json()["consent"] == EVERYTHING

    day_keys(service, days_ahead=1)
    url = f"{service.url}/v1/stores/{STORE}/customer-keys/{today()}"
    first = service.gateway.get(url, timeout=5)
    assert first.status_code == 200
    path = tmp_path / "keys.json"
    path.write_bytes(first.content)
    key_set = load_key_set(path, STORE)
    day = day_of(time.time())
    # the job derives exactly what the app derives from its secret (edge/presence/tokens.py)
    assert {(k.shopper, k.day, k.key) for k in key_set.keys} == {
        (x["shopper_id"], d, derive_day_key(bytes.fromhex(x["secret"]), STORE, d))
        for x in (a, b)
        for d in (day, day + 1)
    }
    assert key_set.purposes == {a["shopper_id"]: set(EVERYTHING), b["shopper_id"]: {"recognition", "offers"}}
    assert c["shopper_id"] not in key_set.purposes
    day_keys(service, days_ahead=1)  # nothing changed: same document, same ETag, the gateway gets 304
    assert (
        service.gateway.get(url, headers={"If-None-Match": first.headers["ETag"]}, timeout=5).status_code
        == 304
    )

    gw = gateway(tmp_path, service)
    assert f"customer-keys/{today()}" in sync(gw, service)
    assert gw.presence.resolver.enrolled_shoppers() == {a["shopper_id"], b["shopper_id"]}
    assert not gw.presence.consents(b["shopper_id"], "analytics")

    # a withdraws recognition in the app: at the gateway's next sync a is gone
    answer = app(service, a).put(
        f"{service.url}/v1/loyalty/me/consent", json={**EVERYTHING, "recognition": False}, timeout=5
    )
    assert answer.status_code == 200 and answer.json()["consent"]["recognition"] is False
    assert sync(gw, service) == [f"customer-keys/{today()}"]
    assert gw.presence.resolver.enrolled_shoppers() == {b["shopper_id"]}
    # tomorrow's document, published ahead, was rebuilt too
    tomorrow = (dt.date.fromisoformat(today()) + dt.timedelta(days=1)).isoformat()
    doc = service.gateway.get(f"{service.url}/v1/stores/{STORE}/customer-keys/{tomorrow}", timeout=5).json()
    assert {k["shopper"] for k in doc["keys"]} == {b["shopper_id"]}

    # b erases everything: the app token dies with the customer
    me = app(service, b)
    assert me.delete(f"{service.url}/v1/loyalty/me", timeout=5).status_code == 204
    assert me.get(f"{service.url}/v1/loyalty/me", timeout=5).status_code == 401
    sync(gw, service)
    assert gw.presence.resolver.enrolled_shoppers() == set()


def test_withdrawing_analytics_erases_the_customers_events_centrally(service: Service) -> None:
    a, b = enrol(service), enrol(service)
    events = [
        {"idempotency_key": f"e-{i}", "stream": "basket", "kind": "pick", "t": 1000.0 + i,
         "payload": {"shopper": who["shopper_id"], "product_id": "p1"}}
        for i, who in enumerate((a, b, a))
    ]  # fmt: skip
    assert service.gateway.post(
        f"{service.url}/v1/stores/{STORE}/events", json={"events": events}, timeout=5
    ).ok
    assert service.view.event_count(STORE) == 3
    consent = {**EVERYTHING, "analytics": False}
    assert app(service, a).put(f"{service.url}/v1/loyalty/me/consent", json=consent, timeout=5).ok
    left = service.admin.get(f"{service.url}/v1/stores/{STORE}/events", timeout=5).json()["events"]
    assert [e["payload"]["shopper"] for e in left] == [b["shopper_id"]]


def test_enrolment_needs_tls_in_production(service: Service) -> None:
    from backend.app import create_app
    from simulators.backend.server import ServiceThread
    from simulators.broker import free_port

    production = service.settings.model_copy(update={"environment": "production", "behind_proxy": True})
    thread = ServiceThread(create_app(production), "127.0.0.1", free_port())
    thread.start()
    try:
        url = f"http://127.0.0.1:{thread.port}/v1/loyalty/customers"
        plain = requests.post(url, json={"consent": EVERYTHING}, timeout=5)
        assert plain.status_code == 403 and "TLS" in plain.json()["detail"]
        proxied = requests.post(
            url, json={"consent": EVERYTHING}, headers={"X-Forwarded-Proto": "https"}, timeout=5
        )
        assert proxied.status_code == 201
    finally:
        thread.stop()


def test_check_in_is_relayed_to_the_gateway_and_becomes_presence(service: Service, tmp_path: Path) -> None:
    a = enrol(service)
    stranger = enrol(service, recognition=False)
    day_keys(service)
    gw = gateway(tmp_path, service)
    sync(gw, service)
    phone = AppTokenGenerator(bytes.fromhex(a["secret"]), STORE)
    url = f"{service.url}/v1/loyalty/check-ins"

    def body(t: float, generator: AppTokenGenerator = phone) -> dict[str, Any]:
        c = generator.check_in(t, secrets.token_bytes(8))
        return {
            "store": c.store,
            "token": c.token.hex(),
            "t_ms": c.t_ms,
            "nonce": c.nonce.hex(),
            "tag": c.tag.hex(),
        }

    relay = CheckInRelay(
        open_database(tmp_path / "relay.db"),
        BackendClient(service.url, STORE, GATEWAY, 5),
        gw.on_check_in,
        wait_s=0,
    )
    accepted = app(service, a).post(url, json=body(time.time()), timeout=5)
    assert accepted.status_code == 202, accepted.text
    assert relay.poll_once() == 1
    assert gw.presence.in_store(time.time()) == [a["shopper_id"]]
    assert relay.poll_once() == 0  # the cursor moved on: nothing is relayed twice

    # the long poll returns as soon as a check-in arrives
    relay.wait_s = 20
    got: list[int] = []
    poll = threading.Thread(target=lambda: got.append(relay.poll_once()))
    poll.start()
    assert app(service, a).post(url, json=body(time.time()), timeout=5).status_code == 202
    poll.join(timeout=15)
    assert got == [1] and gw.presence.check_ins_accepted == 2

    # refused at the service: a forged tag, a stale time, a customer without recognition consent
    forged = {**body(time.time()), "tag": "00" * 8}
    assert app(service, a).post(url, json=forged, timeout=5).status_code == 400
    assert app(service, a).post(url, json=body(time.time() - 600), timeout=5).status_code == 400
    other = AppTokenGenerator(bytes.fromhex(stranger["secret"]), STORE)
    assert app(service, stranger).post(url, json=body(time.time(), other), timeout=5).status_code == 403
    assert requests.post(url, json=body(time.time()), timeout=5).status_code == 401


def test_profiles_only_with_offers_consent_and_withdrawal_drops_them(
    service: Service, tmp_path: Path
) -> None:
    a, b = enrol(service), enrol(service, offers=False)
    profile = {"items": ["p1", "p2"], "weights": [0.5, 0.25], "n_baskets": 4, "segments": ["champions"]}
    url = f"{service.url}/v1/stores/{STORE}/profiles"
    doc = {a["shopper_id"]: profile, b["shopper_id"]: profile, "sh-unknown": profile}
    answer = service.admin.put(url, data=json.dumps(doc), timeout=5)
    assert answer.status_code == 200, answer.text
    assert answer.json()["profiles"] == 1 and answer.json()["dropped"] == 2
    bad = service.admin.put(
        url, data=json.dumps({a["shopper_id"]: {**profile, "weights": [3, 1]}}), timeout=5
    )
    assert bad.status_code == 400 and "weights" in bad.json()["detail"]
    bad = service.admin.put(
        url, data=json.dumps({a["shopper_id"]: {**profile, "segments": ["Top 10%"]}}), timeout=5
    )
    assert bad.status_code == 400 and "segments" in bad.json()["detail"]
    assert service.gateway.put(url, data=json.dumps(doc), timeout=5).status_code == 403

    got = service.gateway.get(url, timeout=5)
    assert got.json() == {a["shopper_id"]: profile}
    assert (
        service.gateway.get(url, headers={"If-None-Match": got.headers["ETag"]}, timeout=5).status_code == 304
    )
    gw = gateway(tmp_path, service)
    assert "profiles" in sync(gw, service)
    assert json.loads((tmp_path / "gw" / "sync" / "profiles.json").read_text()) == {a["shopper_id"]: profile}

    assert (
        app(service, a)
        .put(f"{service.url}/v1/loyalty/me/consent", json={**EVERYTHING, "offers": False}, timeout=5)
        .ok
    )
    assert service.gateway.get(url, timeout=5).json() == {}


def test_campaigns_are_validated_with_the_gateways_models(service: Service) -> None:
    url = f"{service.url}/v1/stores/{STORE}/campaigns"
    bad = {"version": "r-1", "campaigns": [{"campaign_id": "c1", "name": "Tea", "discount": 2.0}]}
    answer = service.admin.put(url, data=json.dumps(bad), timeout=5)
    assert answer.status_code == 400 and "campaigns refused" in answer.json()["detail"]
    assert service.gateway.get(url, timeout=5).status_code == 404  # nothing was published
    targeted = {"campaign_id": "c1", "name": "Tea", "products": ["p1"], "segments": ["champions", "Lapsed!"]}
    answer = service.admin.put(url, data=json.dumps({"campaigns": [targeted]}), timeout=5)
    assert answer.status_code == 400 and "campaigns.0.segments.1" in answer.json()["detail"]
    good = json.loads(
        (Path(__file__).resolve().parents[2] / "edge" / "offers" / "example_rules.json").read_text()
    )
    assert service.admin.put(url, data=json.dumps(good), timeout=5).status_code == 200
    assert service.gateway.get(url, timeout=5).json() == good
    chain = service.admin.put(f"{service.url}/v1/campaigns", data=json.dumps(good), timeout=5)
    assert chain.status_code == 200 and list(chain.json()["stores"]) == [STORE]


def test_day_keys_command(
    service: Service, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from backend.cli import main

    enrol(service)
    monkeypatch.setenv("SHELF_BACKEND_DATABASE_URL", service.settings.database_url)
    monkeypatch.setenv("SHELF_BACKEND_DATA_DIR", str(service.settings.data_dir))
    assert os.environ["SHELF_BACKEND_DATABASE_URL"]
    assert main(["jobs", "day-keys", "--days-ahead", "2"]) == 0
    assert "1 store(s), 3 document(s) written" in capsys.readouterr().out
    assert main(["jobs", "day-keys", "--days-ahead", "2"]) == 0
    assert "0 document(s) written" in capsys.readouterr().out


def test_the_daemons_relay_task_delivers_and_stops(service: Service, tmp_path: Path) -> None:
    import asyncio

    from edge.sync.checkins import run_check_ins
    from tests.support.waiting import wait_until

    a = enrol(service)
    day_keys(service)
    gw = gateway(tmp_path, service)
    sync(gw, service)
    phone = AppTokenGenerator(bytes.fromhex(a["secret"]), STORE)

    async def scenario() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(
            run_check_ins(gw.config, stop, lambda c: loop.call_soon_threadsafe(gw.on_check_in, c))
        )
        c = phone.check_in(time.time(), secrets.token_bytes(8))
        body = {
            "store": c.store,
            "token": c.token.hex(),
            "t_ms": c.t_ms,
            "nonce": c.nonce.hex(),
            "tag": c.tag.hex(),
        }
        posted = await asyncio.to_thread(
            app(service, a).post, f"{service.url}/v1/loyalty/check-ins", json=body, timeout=5
        )
        assert posted.status_code == 202
        await asyncio.to_thread(
            wait_until, lambda: gw.presence.in_store(time.time()) == [a["shopper_id"]], 15.0, 0.05, "check-in"
        )
        stop.set()  # the held poll is abandoned: the task ends without waiting for its answer
        await asyncio.wait_for(task, timeout=35)

    asyncio.run(scenario())
    stored = gw.db.execute("SELECT count(*) FROM events WHERE stream = 'check-in'").fetchone()[0]
    assert stored == 1


def test_secrets_are_sealed_at_rest(service: Service) -> None:
    from backend.db.loyalty_models import Customer
    from backend.loyalty.sealing import SealError, unseal

    a = enrol(service)
    with service.view.sessions() as session:
        stored = bytes(session.get(Customer, a["shopper_id"]).secret)  # type: ignore[union-attr]
    plain = bytes.fromhex(a["secret"])
    assert plain not in stored
    assert unseal(service.settings.secret_key, a["shopper_id"], stored) == plain
    with pytest.raises(SealError, match=r"was settings\.secret_key changed"):
        unseal("another-secret-key-of-32-chars!!", a["shopper_id"], stored)
    with pytest.raises(SealError):
        unseal(service.settings.secret_key, "sh-someone-else", stored)  # bound to its row
