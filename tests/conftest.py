"""Fixtures shared by every test: a real Mosquitto broker on a free port, torn down after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulators.broker import MosquittoBroker


@pytest.fixture
def broker() -> Iterator[MosquittoBroker]:
    """A private Mosquitto for one test (restartable on the same port with stop()/start())."""
    with MosquittoBroker() as b:
        yield b


@pytest.fixture(scope="session")
def shared_broker() -> Iterator[MosquittoBroker]:
    """One Mosquitto for tests that only publish and subscribe (never stop it in a test)."""
    with MosquittoBroker() as b:
        yield b
