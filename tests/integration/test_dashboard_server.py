"""The dashboard's HTTP server under a flood of idle and half-open connections (issue 12: 400 of them
used to pin 400 threads, and the listen backlog was 5), and its hashed password. Real sockets, the
real server; the limits are shortened (1 s request deadline) so the test stays short, and bounds are
asserted on counts (threads, connections), never on how fast anything was."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from edge.config import ConfigError, parse_config
from edge.web.http import HttpLimits
from edge.web.passwords import hash_password, verify
from edge.web.server import DashboardHandle, start_dashboard
from simulators.broker import MosquittoBroker
from tests.support.configs import IDENTITY
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
FLOOD = 400
LIMITS = HttpLimits(max_connections=256, request_timeout_s=2.0, keep_alive_s=1, workers=4)
PASSWORD = "shelf-tech-2026"


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setblocking(False)  # closed_by_server peeks without waiting
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except BlockingIOError:
        return False
    except ConnectionError:  # reset: closed too
        return True


def open_count(socks: list[socket.socket]) -> int:
    return sum(not closed_by_server(s) for s in socks)


@pytest.fixture
def dashboard(shared_broker: MosquittoBroker, tmp_path: Path) -> Iterator[DashboardHandle]:
    config = parse_config(
        {
            "gateway": {"store_id": "store-009", "gateway_id": "gw-9", "data_dir": str(tmp_path)},
            "mqtt": {"host": shared_broker.host, "port": shared_broker.port},
            "web": {"host": "127.0.0.1", "port": 0, "password": hash_password(PASSWORD)},
        }
    )
    handle = start_dashboard(config, limits=LIMITS)
    try:
        yield handle
    finally:
        handle.stop()


def test_a_flood_of_idle_connections_holds_no_threads_and_is_timed_out(dashboard: DashboardHandle) -> None:
    wait_until(lambda: requests.get(f"{dashboard.url}/healthz", timeout=5).status_code == 200, 10)
    baseline = threads()
    port = int(dashboard.url.rsplit(":", 1)[1])
    flood: list[socket.socket] = []
    try:
        for i in range(FLOOD):
            sock = connect(port)
            if i % 2:  # half of them send half a request and then nothing (slowloris)
                sock.send(b"GET /api/state HTTP/1.1\r\nHost: gateway\r\n")
            flood.append(sock)
        # Once accepted (some wait in the listen backlog), at most max_connections are held: the
        # oldest waiting ones were closed to make room. Those held are still open for what follows.
        held = wait_until(
            lambda: (
                [s for s in flood if not closed_by_server(s)]
                if open_count(flood) <= LIMITS.max_connections
                else []
            ),
            10,
            what="the server capping the flood",
        )
        assert 0 < len(held) <= LIMITS.max_connections
        # A technician's request gets through while the flood is open, and is answered in full.
        answer = requests.get(f"{dashboard.url}/healthz", timeout=LIMITS.request_timeout_s * 5)
        assert answer.status_code == 200 and answer.json()["status"] == "ok"
        login = requests.post(
            f"{dashboard.url}/login", data={"password": PASSWORD}, allow_redirects=False, timeout=5
        )
        assert login.status_code == 303 and login.headers["Location"] == "/"
        # No thread per connection: the event loop and at most `workers` threads.
        assert threads() <= baseline + LIMITS.workers, (threads(), baseline)
        assert open_count(flood) <= LIMITS.max_connections
        # None of them delivered a request: every one is closed within two request deadlines.
        wait_until(
            lambda: all(map(closed_by_server, flood)),
            LIMITS.request_timeout_s * 2 + 5,
            what="idle and half-open connections timed out",
        )
        assert threads() <= baseline + LIMITS.workers
        assert requests.get(f"{dashboard.url}/healthz", timeout=5).status_code == 200
    finally:
        for sock in flood:
            sock.close()


def test_a_slow_request_body_is_cut_off(dashboard: DashboardHandle) -> None:
    port = int(dashboard.url.rsplit(":", 1)[1])
    with connect(port) as sock:
        sock.send(b"POST /login HTTP/1.1\r\nHost: gateway\r\nContent-Length: 100\r\n\r\npass")
        wait_until(lambda: closed_by_server(sock), LIMITS.request_timeout_s * 2 + 5, what="slow body cut")


def test_off_the_store_lan_unless_configured() -> None:
    assert parse_config({"gateway": IDENTITY}).web.host == "127.0.0.1"  # decision: see edge/web/README.md


def test_hashed_password(dashboard: DashboardHandle) -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("scrypt$") and "correct horse" not in stored
    assert verify(stored, "correct horse") and not verify(stored, "correct horsE")
    refused = requests.post(
        f"{dashboard.url}/login", data={"password": "wrong"}, allow_redirects=False, timeout=5
    )
    assert refused.headers["Location"] == "/login?failed=1"
    with pytest.raises(ConfigError, match=r"web\.password"):
        parse_config({"gateway": IDENTITY, "web": {"password": "scrypt$16384$8$1$not-base64!$x"}})


def test_hash_password_command(tmp_path: Path) -> None:
    """``shelf-edge dashboard --hash-password`` reads the password from stdin and prints its hash."""
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "dashboard", "--hash-password"],
        input="a long passphrase\n",
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    assert verify(line.split('"')[1], "a long passphrase")


def test_state_with_a_non_finite_weight_is_still_json(dashboard: DashboardHandle) -> None:
    """Should a NaN reach the live state, /api/state answers JSON with null (not a 500 page)."""
    dashboard.live.on_samples(1, 2, [1, 2], [10.0], [[float("nan"), 250.0]])
    session = requests.Session()
    session.post(f"{dashboard.url}/login", data={"password": PASSWORD}, timeout=5)
    state = session.get(f"{dashboard.url}/api/state", timeout=5)
    assert state.status_code == 200
    assert [p["grams"] for p in state.json()["plates"]] == [None, 250.0]
