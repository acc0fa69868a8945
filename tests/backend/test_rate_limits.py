"""Enrolment and provisioning limits: per client address, shared by every worker process, and the
client address taken from X-Forwarded-For only when a trusted proxy sent it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from backend.app import create_app
from backend.db.engine import make_engine, make_sessionmaker
from backend.db.models import RateCount
from backend.ratelimit import RateLimiter, sliding_count
from backend.settings import BackendSettings
from simulators.backend.server import ServiceThread
from simulators.broker import free_port
from tests.backend.conftest import clear_of_a_minute_boundary
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration

EVERYTHING = {"consent": {"recognition": True, "offers": True, "analytics": True}}


@contextmanager
def _served(settings: BackendSettings) -> Iterator[str]:
    app = create_app(settings)
    thread = ServiceThread(app, "127.0.0.1", free_port())
    thread.start()
    try:
        yield f"http://127.0.0.1:{thread.port}/v1/loyalty/customers"
    finally:
        thread.stop()
        app.state.engine.dispose()


def _enrol(url: str, forwarded_for: str | None = None) -> int:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.post(url, json=EVERYTHING, headers=headers, timeout=10).status_code


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_a_client_cannot_choose_its_address_unless_through_a_trusted_proxy(settings: BackendSettings) -> None:
    limited = {"behind_proxy": True, "enrolments_per_minute": 3}
    clear_of_a_minute_boundary()
    # The proxy is elsewhere: a client connecting directly is taken at its own address, whatever it claims.
    with _served(settings.model_copy(update={**limited, "trusted_proxies": ("10.9.9.9",)})) as url:
        assert [_enrol(url, f"198.51.100.{i}") for i in range(4)] == [201, 201, 201, 429]
    # The proxy is this host (127.0.0.0/8): the address it appended, the last of X-Forwarded-For, is the
    # client's; what the client itself put in front of it changes nothing.
    with _served(settings.model_copy(update={**limited, "trusted_proxies": ("127.0.0.0/8",)})) as url:
        spoofing = [_enrol(url, f"198.51.100.{i}, 203.0.113.7") for i in range(4)]
        assert spoofing == [201, 201, 201, 429]
        assert _enrol(url, "203.0.113.8") == 201  # another client behind the proxy has its own count


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_only_a_trusted_proxy_vouches_for_tls(settings: BackendSettings) -> None:
    production = {"environment": "production", "behind_proxy": True}
    with _served(settings.model_copy(update={**production, "trusted_proxies": ("10.9.9.9",)})) as url:
        claimed = requests.post(url, json=EVERYTHING, headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert claimed.status_code == 403 and "TLS" in claimed.json()["detail"]


def test_the_trusted_proxies_setting_names_addresses(tmp_path: Path) -> None:
    from backend.settings import SettingsError

    for bad in ('["*"]', '["proxy.example"]'):
        cfg = tmp_path / "backend.toml"
        cfg.write_text(f"behind_proxy = true\ntrusted_proxies = {bad}\n")
        with pytest.raises(SettingsError, match=r"trusted_proxies.*not an IP address or network"):
            BackendSettings.load(cfg)
    cfg.write_text('trusted_proxies = ["10.0.0.5", "10.1.0.0/16", "::1"]\n')
    assert BackendSettings.load(cfg).trusted_proxies == ("10.0.0.5", "10.1.0.0/16", "::1")


@pytest.fixture
def two_workers(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    """``shelf-backend serve`` with 2 uvicorn worker processes on the private PostgreSQL."""
    port = free_port()
    env = dict(
        os.environ,
        SHELF_BACKEND_DATABASE_URL=postgres_url,
        SHELF_BACKEND_DATA_DIR=str(tmp_path / "files"),
        SHELF_BACKEND_PORT=str(port),
        SHELF_BACKEND_WORKERS="2",
        SHELF_BACKEND_ENROLMENTS_PER_MINUTE="5",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "serve"], env=env, stdout=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return requests.get(f"{url}/v1/health", timeout=1).ok
        except requests.RequestException:
            return proc.poll() is not None  # ended: the assertion below says so

    try:
        wait_until(up, 30, what="shelf-backend serve answering /v1/health")
        assert proc.poll() is None, "shelf-backend serve ended"
        yield url
    finally:
        proc.terminate()
        proc.wait(15)


def test_the_enrolment_limit_is_shared_by_the_workers(two_workers: str) -> None:
    url = f"{two_workers}/v1/loyalty/customers"
    clear_of_a_minute_boundary()
    # 20 enrolments at once, each on its own connection: both workers take some; 5 pass in all.
    with ThreadPoolExecutor(8) as pool:
        answers = sorted(pool.map(lambda _: _enrol(url), range(20)))
    assert answers == [201] * 5 + [429] * 15


def test_the_sliding_count_weighs_the_previous_window_by_what_is_left_of_it() -> None:
    assert sliding_count(previous=10, current=2, now=90.0, window_s=60) == 7.0  # half of it left
    assert sliding_count(previous=10, current=0, now=120.0, window_s=60) == 10.0  # at the turn: all
    assert sliding_count(previous=0, current=3, now=179.0, window_s=60) == 3.0


def test_a_burst_across_the_turn_of_a_minute_is_limited_as_one_burst(settings: BackendSettings) -> None:
    """Time is data here: the attempts are dated around a minute's turn, no clock is read."""
    engine = make_engine(settings)
    try:
        limiter = RateLimiter(make_sessionmaker(engine), "enrol", limit=5)
        turn = 1_800_000_000.0  # a multiple of 60 s: a minute begins
        client, other = "198.51.100.1", "203.0.113.9"
        before = [limiter.hit(client, turn - 1.0 + i / 10) for i in range(5)]
        assert before == [1, 2, 3, 4, 5]  # within the limit
        # one second into the new minute: 59/60 of the last minute's five still count
        after = [limiter.hit(client, turn + 1.0 + i / 10) for i in range(3)]
        assert after == pytest.approx([k + 5 * (59 - i) / 60 for k, i in ((1, 0), (2, 0.1), (3, 0.2))])
        assert all(n > limiter.limit for n in after)  # fixed minutes let all of these through
        # another client's first attempt of the minute does not forget this client's last minute
        assert limiter.hit(other, turn + 2.0) == pytest.approx(1.0)
        assert limiter.blocked(client, turn + 3.0)
        assert limiter.attempts(client, turn + 3.0) == pytest.approx(3 + 5 * 57 / 60)
        # half a minute after the next turn, half of the 3 attempts of the minute before count
        assert limiter.attempts(client, turn + 90.0) == pytest.approx(1.5)
        assert not limiter.blocked(client, turn + 90.0)
        # two minutes on: nothing counts, and the rows nobody looks at any more are gone
        assert limiter.hit(client, turn + 121.0) == pytest.approx(1.0)
        with engine.connect() as conn:
            windows = conn.execute(select(RateCount.window_no)).scalars().all()
        assert sorted(windows) == [limiter.window_of(turn + 121.0)]
    finally:
        engine.dispose()
