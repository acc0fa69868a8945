"""The real daemon (``shelf-edge run``) loses nothing when its database file is deleted or its disk fills.

A small real store feeds it over real Mosquitto (shelf samples, BLE sightings of an enrolled shopper);
it detects picks, fuses them with presence and offers. Faults are made for real: the file and its
directory removed under the running process, a tmpfs filled to the last byte. Every basket event,
decision and offer the daemon published must end up stored (and, with a backend, delivered), /healthz
and ``shelf-edge doctor`` must be red while it cannot write and green after.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulators.backend.server import BackendServer
from simulators.broker import MosquittoBroker
from simulators.processes import ManagedProcess
from tests.support.small_store import STORE, SmallStore
from tests.support.waiting import wait_until

pytestmark = pytest.mark.integration
SHELF_EDGE = ManagedProcess.console_script("shelf-edge")


def stored(db_path: Path) -> tuple[dict[str, int], set[str], set[str]]:
    """(events per stream, event ids, outbox keys) of the database file, read after the daemon stopped."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        streams = dict(conn.execute("SELECT stream, COUNT(*) FROM events GROUP BY stream").fetchall())
        ids = {r[0] for r in conn.execute("SELECT event_id FROM events")}
        keys = {r[0] for r in conn.execute("SELECT idempotency_key FROM outbox")}
    finally:
        conn.close()
    return streams, ids, keys


def delivered(backend: BackendServer) -> set[str]:
    """Idempotency keys of every event the backend stored for the store."""
    return {e["idempotency_key"] for e in backend.store.events(STORE, limit=100_000)}


def replace_directory_with_a_file(directory: Path) -> None:
    """What a careless clean-up does: the data directory removed and a file left at its name."""
    for _ in range(5):
        shutil.rmtree(directory, ignore_errors=True)
        try:
            with directory.open("x") as fh:
                fh.write("not a directory\n")
            return
        except (FileExistsError, IsADirectoryError):
            continue  # the daemon recreated it in between (it checks every 0.5 s): remove it again
    raise AssertionError(f"could not replace {directory} with a file")


def test_database_deleted_while_running_loses_no_event(broker: MosquittoBroker, tmp_path: Path) -> None:
    data = tmp_path / "data"
    with BackendServer(tmp_path / "backend.db") as backend:
        store = SmallStore.create(tmp_path, broker, data, backend_url=backend.url)
        with store.running():
            daemon = store.start_daemon()
            try:
                for plate in (1, 2):
                    assert store.pick(plate)["shopper"] == store.customer.shopper
                # 1. `rm edge.db*`: the daemon notices and recreates the file from the copy it has open.
                for name in ("edge.db", "edge.db-wal", "edge.db-shm"):
                    (data / name).unlink(missing_ok=True)
                for plate in (3, 4):
                    assert store.pick(plate)["shopper"] == store.customer.shopper
                wait_until(lambda: (data / "edge.db").exists(), 5, what="database recreated")

                # 2. The whole directory gone and a file at its name: nothing can be written for now.
                replace_directory_with_a_file(data)
                wait_until(lambda: store.healthz()[0] == 503, 5, what="/healthz red")
                for plate in (1, 2):  # detection, fusion and offers go on
                    assert store.pick(plate)["shopper"] == store.customer.shopper
                # 2 picks x (weight, basket, decision, offer); pick() returns on the basket event, the
                # pick's other events are held moments later
                wait_until(
                    lambda: store.healthz()[1]["store"]["held"] >= 8, 10, what="2 picks' 8 events held"
                )
                status, body = store.healthz()
                assert status == 503 and body["store"]["reason"] == "deleted", body
                held = body["store"]["held"]
                assert held >= 8 and body["store"]["dropped"] == 0, body
                assert "deleted" in body["problems"][0]

                data.unlink()  # the directory may come back: the daemon recreates it with the database
                wait_until(lambda: store.healthz()[0] == 200, 10, what="/healthz green again")
                assert store.pick(3)["shopper"] == store.customer.shopper
                wait_until(lambda: len(store.observed.offers) == store.picks, 5, what="an offer per pick")
            finally:
                daemon.stop()
            log = store.root.joinpath("daemon.log").read_text()
            # One line when a fault starts and one when it ends, not one per event (a third pair only if
            # the daemon recreated the directory while the test was replacing it, see above).
            starts, ends = log.count("cannot take writes (deleted"), log.count("takes writes again")
            assert starts == ends and 2 <= starts <= 3, log
            expected = store.observed.ids()
            streams, ids, keys = stored(data / "edge.db")
            assert expected <= ids and expected <= keys, expected - ids
            assert streams["weight"] == streams["basket"] == store.picks == 7
            assert streams["offer"] == streams["offer_decision"] == 7

            # After a restart the relay delivers every event, those of the deleted files included.
            daemon = store.start_daemon("daemon-2")
            try:
                wait_until(lambda: ids <= delivered(backend), 20, what="every stored event at the backend")
            finally:
                daemon.stop()
        print(f"FIGURES deleted: picks={store.picks} events={len(ids)} held_while_unwritable={held} lost=0")


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs (mounting needs root: CI and the development container run the tests as root)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root; this test fills a real small file system")
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "--lazy", str(mount)], check=False)


def fill(directory: Path) -> Path:
    """Write a file until the file system has no byte left; returns it (delete it to free the space)."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        block = b"\0" * 65536
        while True:
            try:
                os.write(fd, block)
            except OSError:
                if len(block) == 1:
                    break
                block = block[: len(block) // 2]
    finally:
        os.close(fd)
    return filler


def doctor(store: SmallStore) -> tuple[int, dict[str, dict[str, str]]]:
    """``shelf-edge doctor --json`` on the store's config: exit code and results by check name."""
    done = subprocess.run(
        [SHELF_EDGE, "doctor", "--config", str(store.config_path), "--json", "--listen", "0.5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout, done.stderr
    return done.returncode, {r["name"]: r for r in json.loads(done.stdout)["results"]}


def test_disk_full_keeps_picks_and_offers_and_writes_them_later(
    broker: MosquittoBroker, tmp_path: Path, small_tmpfs: Path
) -> None:
    data = small_tmpfs / "data"
    backend = BackendServer(tmp_path / "backend.db")
    backend.start()
    store = SmallStore.create(tmp_path, broker, data, backend_url=backend.url)
    with store.running():
        daemon = store.start_daemon()
        try:
            assert store.pick(1)["shopper"] == store.customer.shopper
            filler = fill(small_tmpfs)
            for plate in (2, 3, 4):  # the weight event cannot be stored: fusion and offers run all the same
                assert store.pick(plate)["shopper"] == store.customer.shopper
            wait_until(lambda: len(store.observed.offers) == 4, 5, what="an offer for every pick")
            wait_until(lambda: store.healthz()[1]["store"]["held"] >= 12, 10, what="3 picks' 12 events held")
            status, body = store.healthz()
            assert status == 503 and body["store"]["reason"] == "disk_full", body
            held = body["store"]["held"]
            assert held >= 12 and body["store"]["dropped"] == 0, body  # 3 picks x 4 events, and presence

            code, checks = doctor(store)
            assert code == 1, checks
            assert checks["daemon"]["status"] == "fail", checks["daemon"]
            assert (
                "disk_full" in checks["daemon"]["detail"]
                and f"{held} events held" in checks["daemon"]["detail"]
            )
            assert "free space" in checks["daemon"]["fix"]

            filler.unlink()
            wait_until(lambda: store.healthz()[0] == 200, 10, what="/healthz green once there is room")
            _, checks = doctor(store)
            assert checks["daemon"]["status"] == "ok", checks["daemon"]
            log = store.root.joinpath("daemon.log").read_text()
            assert log.count("cannot take writes (disk_full") == 1, log  # one line, not one per event
            assert f"{held} held events written, 0 dropped" in log, log

            # Full again, and the daemon restarted before there is room (an upgrade, the watchdog):
            # what it holds waits in its runtime directory and is written by the next run.
            filler = fill(small_tmpfs)
            assert store.pick(1)["shopper"] == store.customer.shopper
            # pick() returns on the basket event; the pick's other events are held moments later
            wait_until(lambda: store.healthz()[1]["store"]["held"] >= 4, 10, what="the pick's 4 events held")
            held_at_stop = store.healthz()[1]["store"]["held"]
        finally:
            daemon.stop()
        assert f"{held_at_stop} held events could not be written before stopping" in daemon.tail(5)
        filler.unlink()
        daemon = store.start_daemon("daemon-2")
        try:
            # The relay could not mark what it sent while the disk was full: sent again, stored once.
            expected = store.observed.ids()
            wait_until(lambda: expected <= delivered(backend), 20, what="every event at the backend")
        finally:
            daemon.stop()
            backend.stop()
    streams, ids, keys = stored(data / "edge.db")
    assert expected <= ids and expected <= keys, expected - ids  # held events reached events and the outbox
    assert streams["weight"] == streams["basket"] == streams["offer"] == 5
    assert not (tmp_path / "run" / "held-events.jsonl").exists()
    print(
        f"FIGURES disk full: picks=5 events={len(ids)} held_while_full={held} written_later={held} "
        f"held_across_restart={held_at_stop} lost=0"
    )
