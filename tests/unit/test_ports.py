"""Free ports: each pytest-xdist worker hands out only its own share of the port space."""

from __future__ import annotations

import socket

import pytest

from edge.ports import free_port, port_share


def test_port_share_reads_the_xdist_worker_and_falls_back_outside_it() -> None:
    assert port_share({}) == (0, 1)
    assert port_share({"PYTEST_XDIST_WORKER": "gw3", "PYTEST_XDIST_WORKER_COUNT": "2"}) == (1, 2)
    assert port_share({"PYTEST_XDIST_WORKER": "gw0", "PYTEST_XDIST_WORKER_COUNT": "4"}) == (0, 4)
    assert port_share({"PYTEST_XDIST_WORKER": "gwx", "PYTEST_XDIST_WORKER_COUNT": "2"}) == (0, 1)


@pytest.mark.parametrize("worker", ["gw0", "gw1", "gw2"])
def test_free_ports_of_a_worker_are_its_own_and_bindable(
    monkeypatch: pytest.MonkeyPatch, worker: str
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    for _ in range(20):
        port = free_port()
        assert port % 3 == int(worker[2:])
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # free indeed


def test_outside_xdist_the_kernel_picks_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
