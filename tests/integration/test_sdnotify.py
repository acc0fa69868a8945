"""Both daemons speak systemd's notify protocol (``Type=notify``, ``WatchdogSec``) to a real unix datagram
socket passed as ``NOTIFY_SOCKET``, as systemd does: READY=1 once serving, WATCHDOG=1 from the main loop
at half of ``WATCHDOG_USEC``, STOPPING=1 on SIGTERM."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.ops.sdnotify import Notifier
from simulators.broker import MosquittoBroker
from simulators.processes import ManagedProcess
from simulators.shelves import SimulatedShelfFirmware
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
WATCHDOG_USEC = 400_000  # pings every 0.2 s


class NotifySocket:
    """The receiving end systemd would hold."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.messages: list[dict[str, str]] = []

    def poll(self) -> list[dict[str, str]]:
        with contextlib.suppress(TimeoutError):  # the socket's timeout: nothing more queued
            while True:
                data = self.sock.recv(4096).decode()
                self.messages.append(dict(line.split("=", 1) for line in data.splitlines()))
        return self.messages

    def count(self, key: str) -> int:
        return sum(1 for m in self.poll() if key in m)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def notify(tmp_path: Path) -> Iterator[NotifySocket]:
    sock = NotifySocket(tmp_path / "notify.sock")
    yield sock
    sock.close()


def run_and_stop(argv: list[str], log: Path, notify: NotifySocket) -> None:
    env = {"NOTIFY_SOCKET": str(notify.path), "WATCHDOG_USEC": str(WATCHDOG_USEC)}
    daemon = ManagedProcess("daemon", argv, log, env=env).start()
    try:
        wait_until(lambda: notify.count("READY") or not daemon.running, 30, what="READY=1")
        assert daemon.running, daemon.tail()
        ready = next(m for m in notify.messages if "READY" in m)
        assert ready["READY"] == "1" and ready["MAINPID"] == str(daemon.proc.pid if daemon.proc else 0)
        assert ready.get("STATUS")
        pings = notify.count("WATCHDOG")
        wait_until(lambda: notify.count("WATCHDOG") >= pings + 3, 5, what="three watchdog pings")
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGTERM)
        assert daemon.proc.wait(15) == 0, daemon.tail()
        assert notify.count("STOPPING") == 1
    finally:
        daemon.stop()


def test_gateway_daemon_notifies_ready_watchdog_and_stopping(
    broker: MosquittoBroker, tmp_path: Path, notify: NotifySocket
) -> None:
    config = tmp_path / "edge.toml"
    config.write_text(
        f'[gateway]\nstore_id = "s1"\ngateway_id = "gw-n"\ndata_dir = "{tmp_path / "data"}"\n'
        f'[mqtt]\nport = {broker.port}\n[presence]\nsource = "none"\n[web]\nenabled = false\n'
    )
    argv = [ManagedProcess.console_script("shelf-edge"), "run", "--config", str(config)]
    run_and_stop(argv, tmp_path / "edge.log", notify)
    assert any(m.get("STATUS", "").startswith("running: MQTT connected") for m in notify.messages)


def test_bridge_notifies_ready_watchdog_and_stopping(
    broker: MosquittoBroker, tmp_path: Path, notify: NotifySocket
) -> None:
    sim = SimulatedShelfFirmware(gondola=1, shelf=1, plates=4, rate_hz=30, seed=2)
    port = sim.start()
    try:
        config = tmp_path / "bridge.toml"
        config.write_text(
            f'[gateway]\nstore_id = "s1"\ngateway_id = "gw-n"\ndata_dir = "{tmp_path / "data"}"\n[mqtt]\nport = {broker.port}\n'
            f'[[bridge.shelves]]\nport = "{port}"\ngondola = 1\nshelf = 1\n'
        )
        argv = [ManagedProcess.console_script("shelf-bridge"), "run", "--config", str(config)]
        run_and_stop(argv, tmp_path / "bridge.log", notify)
        assert notify.messages[0]["STATUS"] == "serving 1 shelves"
    finally:
        sim.stop()


def test_notifier_outside_systemd_does_nothing_and_rate_limits_pings(tmp_path: Path) -> None:
    assert not Notifier.from_environment({}).ready("x")
    # WATCHDOG_PID names another process: the watchdog is not ours
    other = Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000", "WATCHDOG_PID": "1"})
    assert other.watchdog_interval_s is None
    sock = NotifySocket(tmp_path / "n.sock")
    now = [100.0]
    notifier = Notifier(str(sock.path), watchdog_usec=2_000_000, clock=lambda: now[0])
    assert notifier.ready("starting")
    assert not notifier.watchdog()  # READY counts as the first sign of life
    now[0] += 1.0
    assert notifier.watchdog()
    now[0] += 0.5
    assert not notifier.watchdog()
    assert notifier.status("holding 3 events") and not notifier.status("holding 3 events")
    assert [list(m) for m in sock.poll()] == [["READY", "MAINPID", "STATUS"], ["WATCHDOG"], ["STATUS"]]
    assert sock.messages[0]["MAINPID"] == str(os.getpid())
    sock.close()


def test_abstract_notify_socket(tmp_path: Path) -> None:
    name = f"smartshelf-test-{os.getpid()}-{time.monotonic_ns()}"
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind("\0" + name)
    receiver.settimeout(5)
    try:
        assert Notifier.from_environment({"NOTIFY_SOCKET": "@" + name}).stopping()
        assert receiver.recv(100) == b"STOPPING=1"
    finally:
        receiver.close()
