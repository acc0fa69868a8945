"""``shelf-bridge run --config FILE``: serial shelf controllers -> MQTT sample batches.

For every ``[[bridge.shelves]]`` entry a :class:`~shelf_firmware_bridge.link.ShelfLink` reads the
port; calibrated samples are published as :class:`edge.mqtt.payloads.SampleBatchMessage` on
``smartshelf/{store}/{gondola}/{shelf}/samples`` (QoS 0, ``bridge.batch_samples`` samples each), the
link state as a retained :class:`edge.mqtt.payloads.ShelfStatusMessage` on ``.../status``, and
commands arriving on ``.../set`` are executed with the answer on ``.../reply``.

In a program (the demo, tests)::

    bridge = Bridge(load_config(path)); bridge.start(); ...; bridge.stop()
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from pydantic import ValidationError

from edge.config import EdgeConfig
from edge.errors import ConfigError, ConfigIssue
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import (
    AckMessage,
    SampleBatchMessage,
    ShelfDisplayClearMessage,
    ShelfDisplayTextMessage,
    ShelfStatusMessage,
    encode,
)
from edge.mqtt.topics import Topics
from edge.ops.sdnotify import Notifier
from edge.service_cli import load_service_config, wait_for_stop_signal
from shelf_firmware_bridge import protocol as P
from shelf_firmware_bridge.calibration import CalibrationError, CalibrationStore
from shelf_firmware_bridge.link import Rows, ShelfLink
from shelf_firmware_bridge.messages import (
    SHELF_COMMAND,
    IdentifyCommand,
    InfoCommand,
    RateCommand,
    ShelfReplyMessage,
    SpanCommand,
    TareCommand,
)

log = logging.getLogger("shelf_bridge")

_STATUS_TEXT = {
    P.Status.OK: "ok",
    P.Status.BAD_ARGUMENT: "bad-argument",
    P.Status.BUSY: "busy",
    P.Status.UNKNOWN_COMMAND: "unknown-command",
    P.Status.FAILED: "failed",
}


class _Batcher:
    """Collects rows of one shelf and cuts them into batches of ``size`` samples."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.plates: tuple[int, ...] = ()
        self.seq = 0
        self.t = np.zeros(0)
        self.grams = np.zeros((0, 0))

    def add(self, rows: Rows) -> list[tuple[int, tuple[int, ...], np.ndarray, np.ndarray]]:
        out = []
        if rows.plates != self.plates:
            out.extend(self.flush())
            self.plates = rows.plates
            self.grams = np.zeros((0, len(rows.plates)))
        if len(self.t) == 0:
            self.seq = rows.seq
        self.t = np.concatenate([self.t, rows.t])
        self.grams = np.concatenate([self.grams, rows.grams])
        while len(self.t) >= self.size:
            out.append((self.seq, self.plates, self.t[: self.size], self.grams[: self.size]))
            self.t, self.grams = self.t[self.size :], self.grams[self.size :]
            self.seq = rows.seq
        return out

    def flush(self) -> list[tuple[int, tuple[int, ...], np.ndarray, np.ndarray]]:
        if len(self.t) == 0:
            return []
        out = [(self.seq, self.plates, self.t, self.grams)]
        self.t = np.zeros(0)
        self.grams = np.zeros((0, len(self.plates)))
        return out


class Bridge:
    """The running bridge: one MQTT connection, one link per shelf port, the calibration store."""

    def __init__(self, config: EdgeConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        b = config.bridge
        self.bridge_id = b.bridge_id
        self.topics = Topics(config.gateway.store_id)
        self.mqtt = MqttClient(
            config.mqtt,
            client_id=f"bridge-{b.bridge_id}",
            availability_topic=self.topics.availability("bridge", b.bridge_id),
        )
        db_path = b.calibration_db or config.gateway.data_dir / "bridge.db"
        self.calibration = CalibrationStore(db_path)
        self.links: dict[tuple[int, int], ShelfLink] = {}
        self._batchers: dict[tuple[int, int], _Batcher] = {}
        for shelf in b.shelves:
            key = (shelf.gondola, shelf.shelf)
            if key in self.links:
                raise ConfigError(
                    "bridge.shelves",
                    [ConfigIssue("bridge.shelves", shelf.port, f"second port for shelf {key}")],
                )
            self.links[key] = ShelfLink(
                shelf.port,
                shelf.gondola,
                shelf.shelf,
                self.calibration,
                on_rows=self._on_rows,
                on_state=self._on_state,
                baudrate=shelf.baudrate,
                reopen_s=b.reopen_s,
                clock=clock,
            )
            self._batchers[key] = _Batcher(b.batch_samples)
        self.published = 0
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="shelf-cmd")
        self._stop = threading.Event()
        self._status_thread = threading.Thread(target=self._status_loop, name="shelf-status", daemon=True)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        for (gondola, shelf), _link in self.links.items():
            self.mqtt.subscribe(
                self.topics.shelf_set(gondola, shelf), self._command_handler(gondola, shelf), qos=1
            )
        self.mqtt.start()
        for link in self.links.values():
            link.start()
        self._status_thread.start()

    def alive(self) -> bool:
        """Whether every worker thread (shelf links, status) is still running."""
        return self._status_thread.is_alive() and all(link.alive() for link in self.links.values())

    def stop(self) -> None:
        self._stop.set()
        for link in self.links.values():
            link.stop()
        for key, batcher in self._batchers.items():
            for batch in batcher.flush():
                self._publish_batch(key, *batch)
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._status_thread.join(timeout=5)
        for link in self.links.values():
            self._publish_status(link)
        self.mqtt.stop()
        self.calibration.close()

    # ------------------------------------------------------------------ samples and status
    def _on_rows(self, link: ShelfLink, rows: Rows) -> None:
        key = (link.gondola, link.shelf)
        for batch in self._batchers[key].add(rows):
            self._publish_batch(key, *batch)

    def _publish_batch(
        self, key: tuple[int, int], seq: int, plates: tuple[int, ...], t: np.ndarray, grams: np.ndarray
    ) -> None:
        message = SampleBatchMessage.model_construct(
            v=1,
            bridge=self.bridge_id,
            gondola=key[0],
            shelf=key[1],
            seq=seq,
            plates=list(plates),
            t=[round(float(x), 6) for x in t],
            readings=np.round(grams, 3).tolist(),
        )
        self.mqtt.publish(self.topics.samples(*key), encode(message), qos=0)
        self.published += 1

    def _on_state(self, link: ShelfLink) -> None:
        if not link.connected:
            key = (link.gondola, link.shelf)
            for batch in self._batchers[key].flush():
                self._publish_batch(key, *batch)
        self._publish_status(link)

    def status_of(self, link: ShelfLink) -> ShelfStatusMessage:
        hello = link.hello
        return ShelfStatusMessage(
            bridge=self.bridge_id,
            port=link.port,
            connected=link.connected,
            firmware=hello.firmware if hello else None,
            protocol_version=hello.protocol_version if hello else None,
            sample_rate_hz=hello.rate_hz if hello else None,
            frames=link.stats.frames,
            crc_errors=link.crc_errors,
            gaps=link.stats.gaps,
            reconnects=link.stats.reconnects,
            updated_at=self.clock(),
        )

    def _publish_status(self, link: ShelfLink) -> None:
        topic = self.topics.shelf_status(link.gondola, link.shelf)
        self.mqtt.publish(topic, encode(self.status_of(link)), qos=1, retain=True)

    def _status_loop(self) -> None:
        while not self._stop.wait(self.config.bridge.status_interval_s):
            for link in self.links.values():
                self._publish_status(link)

    # ------------------------------------------------------------------ commands
    def _command_handler(self, gondola: int, shelf: int) -> Callable[[MqttMessage], None]:
        return lambda msg: self._on_command(gondola, shelf, msg)

    def _on_command(self, gondola: int, shelf: int, msg: MqttMessage) -> None:
        try:
            command = SHELF_COMMAND.validate_json(msg.payload)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "<payload>"
            log.warning("g%d/s%d: command refused: %s: %s", gondola, shelf, where, first["msg"])
            self._reply(gondola, shelf, "", "?", "invalid", f"{where}: {first['msg']}")
            return
        self._executor.submit(self._execute, gondola, shelf, command)

    def _reply(
        self,
        gondola: int,
        shelf: int,
        request_id: str,
        kind: str,
        status: str,
        detail: str = "",
        **extra: object,
    ) -> None:
        reply = ShelfReplyMessage(
            request_id=request_id,
            type=kind,
            status=status,
            detail=detail,
            at=self.clock(),
            **extra,
        )
        self.mqtt.publish(self.topics.shelf_reply(gondola, shelf), encode(reply), qos=1)

    def _execute(self, gondola: int, shelf: int, command: object) -> None:
        try:
            self._execute_unsafe(gondola, shelf, command)
        except Exception:
            log.exception("command on g%d/s%d failed", gondola, shelf)

    def _execute_unsafe(self, gondola: int, shelf: int, command: object) -> None:
        link = self.links[(gondola, shelf)]
        timeout = self.config.bridge.command_timeout_s
        if isinstance(command, ShelfDisplayTextMessage | ShelfDisplayClearMessage):
            self._display(link, command)
            return
        assert isinstance(command, TareCommand | SpanCommand | RateCommand | IdentifyCommand | InfoCommand)
        rid, kind = command.request_id, command.type
        wire: P.Command
        if isinstance(command, TareCommand):
            wire = P.Tare(command.plate, command.samples)
        elif isinstance(command, SpanCommand):
            wire = P.Span(command.plate, round(command.known_g * 1000), command.samples)
        elif isinstance(command, RateCommand):
            wire = P.SetRate(command.rate_hz)
        elif isinstance(command, IdentifyCommand):
            wire = P.Identify(min(65535, round(command.duration_s * 1000)))
        else:
            wire = P.GetInfo()
        if not link.connected:
            self._reply(gondola, shelf, rid, kind, "not-connected", f"{link.port} is not open")
            return
        answer = link.request(wire, timeout)
        if answer is None:
            self._reply(gondola, shelf, rid, kind, "timeout", f"no answer within {timeout} s")
            return
        if isinstance(answer, P.Hello):
            self._reply(
                gondola,
                shelf,
                rid,
                kind,
                "ok",
                firmware=answer.firmware,
                serial=answer.serial,
                plates=answer.plates,
                rate_hz=answer.rate_hz,
            )
            return
        if answer.status != P.Status.OK:
            self._reply(gondola, shelf, rid, kind, _STATUS_TEXT[answer.status], "refused by the controller")
            return
        if isinstance(command, TareCommand):
            cal = self.calibration.set_zero(gondola, shelf, command.plate, answer.value)
            log.info("g%d/s%d plate %d tared at %.1f counts", gondola, shelf, command.plate, answer.value)
            self._reply(
                gondola,
                shelf,
                rid,
                kind,
                "ok",
                plate=command.plate,
                zero_raw=cal.zero_raw,
                g_per_count=cal.g_per_count,
            )
        elif isinstance(command, SpanCommand):
            try:
                cal = self.calibration.set_span(gondola, shelf, command.plate, answer.value, command.known_g)
            except CalibrationError as exc:
                self._reply(gondola, shelf, rid, kind, "failed", exc.reason, plate=command.plate)
                return
            log.info("g%d/s%d plate %d span: %.6f g/count", gondola, shelf, command.plate, cal.g_per_count)
            self._reply(
                gondola,
                shelf,
                rid,
                kind,
                "ok",
                plate=command.plate,
                zero_raw=cal.zero_raw,
                g_per_count=cal.g_per_count,
            )
        elif isinstance(command, RateCommand):
            self._reply(gondola, shelf, rid, kind, "ok", rate_hz=command.rate_hz)
            link.request(P.GetInfo(), timeout)  # refresh the rate shown in the status
        else:
            self._reply(gondola, shelf, rid, kind, "ok")

    def _display(self, link: ShelfLink, command: ShelfDisplayTextMessage | ShelfDisplayClearMessage) -> None:
        g, s = link.gondola, link.shelf
        timeout = self.config.bridge.command_timeout_s
        if isinstance(command, ShelfDisplayTextMessage):
            if command.expires_at <= self.clock():
                self._reply(
                    g, s, command.offer_id, command.type, "failed", "offer expired before it could be shown"
                )
                return
            answer = link.request(P.DisplayText(0, tuple(command.lines)), timeout)
        else:
            answer = link.request(P.DisplayClear(0), timeout)
        if not isinstance(answer, P.Reply) or answer.status != P.Status.OK:
            status = "timeout" if answer is None else "failed"
            self._reply(g, s, command.offer_id, command.type, status, "display did not confirm")
            return
        if isinstance(command, ShelfDisplayTextMessage):
            ack = AckMessage(
                offer_id=command.offer_id, display=command.display, status="shown", at=self.clock()
            )
            self.mqtt.publish(self.topics.display(g, s, command.display, "ack"), encode(ack), qos=1)
        self._reply(g, s, command.offer_id, command.type, "ok")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="Gateway configuration file (TOML).")


def run(args: argparse.Namespace) -> int:
    config = load_service_config(args.config, "bridge")
    if config is None:
        return 2
    if not config.bridge.shelves:
        log.error("no [[bridge.shelves]] in %s: nothing to read", args.config)
        return 2
    try:
        bridge = Bridge(config)
    except OSError as exc:  # the calibration database cannot be made (a check passed as root)
        log.error("cannot start: %s (gateway.data_dir = %s)", exc, config.gateway.data_dir)
        return 1
    bridge.start()
    log.info("bridge %s serving %d shelves", bridge.bridge_id, len(bridge.links))
    notifier = Notifier.from_environment()
    notifier.ready(f"serving {len(bridge.links)} shelves")

    def watchdog() -> None:
        if bridge.alive():  # a dead reader or status thread stops the pings: systemd restarts us
            notifier.watchdog()

    wait_for_stop_signal(watchdog, every_s=min(1.0, notifier.watchdog_interval_s or 1.0))
    notifier.stopping()
    bridge.stop()
    notifier.close()
    return 0
