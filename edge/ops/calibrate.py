"""``shelf-edge calibrate``: guided tare and span calibration of each plate with a known weight.

    sudo shelf-edge calibrate --shelf 1/2 --known-g 500 [--plates 1,2,3] [--config FILE]

For each plate: clear it -> the live reading settles -> TARE; place the known weight -> it settles
-> SPAN; the tool then checks that the plate now reads the known weight. Commands go to the bridge
on ``.../{gondola}/{shelf}/set`` and its answers come back on ``.../reply``; the bridge stores the
calibration per plate in its own SQLite file (it survives restarts). Live readings and progress
are shown with rich.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError, PayloadError
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import SampleBatchMessage, decode
from edge.mqtt.topics import Topics
from edge.mqtt.versioning import DEVICE_MESSAGE_VERSION

STABLE_WINDOW_S = 1.0
STABLE_STD_G = 8.0
VERIFY_TOLERANCE = 0.02
#: ask(step, plate, text) blocks until the technician has done ``text`` (default: press Enter).
Ask = Callable[[str, int, str], None]


class CalibrationFailed(Exception):
    def __init__(self, plate: int, step: str, reason: str) -> None:
        self.plate, self.step, self.reason = plate, step, reason
        super().__init__(f"plate {plate}, {step}: {reason}")


@dataclass(frozen=True, slots=True)
class PlateResult:
    plate: int
    zero_raw: float
    g_per_count: float
    verified_g: float
    error: float


class ShelfSession:
    """The MQTT side of a calibration: live readings of one shelf and commands to its bridge."""

    def __init__(self, config: EdgeConfig, gondola: int, shelf: int) -> None:
        self.gondola, self.shelf = gondola, shelf
        self.topics = Topics(config.gateway.store_id)
        self.mqtt = MqttClient(
            config.mqtt, client_id=f"calibrate-{os.getpid()}-{time.monotonic_ns() % 10**6}"
        )
        self._lock = threading.Lock()
        self._readings: dict[int, deque[tuple[float, float]]] = {}
        self._replies: dict[str, dict[str, Any]] = {}
        self._cond = threading.Condition(self._lock)
        self.mqtt.subscribe(self.topics.samples(gondola, shelf), self._on_samples)
        self.mqtt.subscribe(self.topics.shelf_reply(gondola, shelf), self._on_reply, qos=1)

    def start(self, timeout: float = 10.0) -> None:
        self.mqtt.start()
        if not self.mqtt.wait_connected(timeout):
            raise CalibrationFailed(
                0, "connect", f"broker not reachable within {timeout:g} s: run `shelf-edge doctor`"
            )

    def stop(self) -> None:
        self.mqtt.stop()

    def _on_samples(self, msg: MqttMessage) -> None:
        try:
            batch = decode(SampleBatchMessage, msg.topic, msg.payload)
        except PayloadError:
            return
        with self._lock:
            for i, plate in enumerate(batch.plates):
                series = self._readings.setdefault(plate, deque(maxlen=600))
                for t, row in zip(batch.t, batch.readings, strict=True):
                    series.append((t, row[i]))

    def _on_reply(self, msg: MqttMessage) -> None:
        try:
            reply = json.loads(msg.payload)
        except ValueError:
            return
        if isinstance(reply, dict) and reply.get("request_id"):
            with self._cond:
                self._replies[str(reply["request_id"])] = reply
                self._cond.notify_all()

    def window(self, plate: int, seconds: float = STABLE_WINDOW_S, after: float = 0.0) -> list[float]:
        with self._lock:
            series = list(self._readings.get(plate, ()))
        if not series:
            return []
        newest = series[-1][0]
        return [g for t, g in series if t >= newest - seconds and t >= after]

    def newest_t(self, plate: int) -> float:
        with self._lock:
            series = self._readings.get(plate)
            return series[-1][0] if series else 0.0

    def command(self, body: dict[str, Any], timeout: float = 15.0) -> dict[str, Any]:
        request_id = f"cal-{os.getpid()}-{time.monotonic_ns()}"
        self.mqtt.publish(
            self.topics.shelf_set(self.gondola, self.shelf),
            json.dumps({"v": DEVICE_MESSAGE_VERSION, **body, "request_id": request_id}),
            qos=1,
        )
        deadline = time.monotonic() + timeout
        with self._cond:
            while request_id not in self._replies:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CalibrationFailed(
                        int(body.get("plate", 0)),
                        str(body["type"]),
                        f"the bridge did not answer within {timeout:g} s",
                    )
                self._cond.wait(left)
            return self._replies.pop(request_id)


def _panel(session: ShelfSession, plate: int, step: str) -> Table:
    values = session.window(plate)
    table = Table(show_header=False, box=None)
    table.add_row("plate", str(plate))
    table.add_row("step", step)
    if values:
        table.add_row("reading", f"{values[-1]:9.1f} g")
        table.add_row("spread (1 s)", f"{statistics.pstdev(values):6.2f} g")
    else:
        table.add_row("reading", "waiting for samples…")
    return table


def wait_stable(
    session: ShelfSession,
    plate: int,
    step: str,
    live: Live | None,
    timeout: float,
    condition: Callable[[float], bool] = lambda g: True,
    after: float = 0.0,
    window_s: float = STABLE_WINDOW_S,
) -> float:
    """Wait until the plate's last ``window_s`` of readings is steady (and meets ``condition``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        values = session.window(plate, window_s, after=after)
        newest = session.newest_t(plate)
        if values and newest - after < window_s:
            values = []  # not a full window since ``after`` yet
        if live is not None:
            live.update(_panel(session, plate, step))
        if (
            len(values) >= 5
            and statistics.pstdev(values) < STABLE_STD_G
            and condition(statistics.fmean(values))
        ):
            return statistics.fmean(values)
        time.sleep(0.1)
    raise CalibrationFailed(
        plate, step, f"the reading did not settle within {timeout:g} s (is something touching the plate?)"
    )


def calibrate_plate(
    session: ShelfSession,
    plate: int,
    known_g: float,
    ask: Ask,
    live: Live | None,
    console: Console,
    samples: int = 60,
    timeout: float = 60.0,
    rate_hz: float = 60.0,
) -> PlateResult:
    # The controller averages its last ``samples`` readings: they must all be steady.
    window = max(STABLE_WINDOW_S, samples / rate_hz + 0.3)
    ask("clear", plate, f"Clear plate {plate} (take everything off it except its tray)")
    wait_stable(session, plate, "tare: waiting for a steady reading", live, timeout, window_s=window)
    reply = session.command({"type": "tare", "plate": plate, "samples": samples}, timeout)
    if reply.get("status") != "ok":
        raise CalibrationFailed(plate, "tare", f"{reply.get('status')}: {reply.get('detail', '')}")
    tared_at = session.newest_t(plate)
    console.print(f"plate {plate}: tared (zero {reply['zero_raw']:.1f} counts)")
    ask("weight", plate, f"Place the known weight of {known_g:g} g on plate {plate}")
    wait_stable(
        session,
        plate,
        "span: waiting for the known weight",
        live,
        timeout,
        condition=lambda g: g > known_g * 0.5,
        after=tared_at,
        window_s=window,
    )
    reply = session.command({"type": "span", "plate": plate, "known_g": known_g, "samples": samples}, timeout)
    if reply.get("status") != "ok":
        raise CalibrationFailed(plate, "span", f"{reply.get('status')}: {reply.get('detail', '')}")
    spanned_at = session.newest_t(plate)
    verified = wait_stable(
        session, plate, "checking the new calibration", live, timeout, after=spanned_at + 0.2
    )
    error = (verified - known_g) / known_g
    if abs(error) > VERIFY_TOLERANCE:
        raise CalibrationFailed(
            plate, "verify", f"reads {verified:.1f} g for {known_g:g} g ({error:+.1%}); repeat the plate"
        )
    console.print(
        f"plate {plate}: span {reply['g_per_count']:.6f} g/count, now reads {verified:.1f} g ({error:+.2%})"
    )
    ask("remove", plate, f"Take the weight off plate {plate}")
    return PlateResult(plate, float(reply["zero_raw"]), float(reply["g_per_count"]), verified, error)


def run_calibration(
    config: EdgeConfig,
    gondola: int,
    shelf: int,
    plates: list[int] | None,
    known_g: float,
    ask: Ask,
    console: Console,
    timeout: float = 60.0,
) -> list[PlateResult]:
    session = ShelfSession(config, gondola, shelf)
    try:
        session.start(timeout)  # --timeout bounds every wait: the broker, each answer, a steady reading
        info = session.command({"type": "info"}, timeout)
        if info.get("status") != "ok":
            raise CalibrationFailed(
                0,
                "info",
                f"shelf {gondola}/{shelf} does not answer: {info.get('status')} {info.get('detail', '')}",
            )
        console.print(
            f"shelf {gondola}/{shelf}: firmware {info.get('firmware')}, serial {info.get('serial')}, {info.get('plates')} plates"
        )
        todo = plates or list(range(1, int(info.get("plates") or 0) + 1))
        results = []
        progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        )
        task = progress.add_task(f"shelf {gondola}/{shelf}", total=len(todo))
        with Live(console=console, refresh_per_second=8, transient=True) as live:
            for plate in todo:
                rate = float(info.get("rate_hz") or 60.0)
                results.append(
                    calibrate_plate(
                        session, plate, known_g, ask, live, console, timeout=timeout, rate_hz=rate
                    )
                )
                progress.advance(task)
                console.print(progress)
        return results
    finally:
        session.stop()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path("/etc/smartshelf/edge.toml"), help="Gateway configuration file."
    )
    parser.add_argument("--shelf", required=True, help="Shelf to calibrate, as GONDOLA/SHELF (e.g. 1/2).")
    parser.add_argument(
        "--known-g", type=float, required=True, help="Mass of your calibration weight, grams."
    )
    parser.add_argument("--plates", help="Comma-separated plates (default: every plate of the shelf).")
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        help="Seconds to wait at each step: the broker, each answer of the bridge, a steady reading.",
    )


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    try:
        gondola, shelf = (int(x) for x in args.shelf.split("/"))
        plates = [int(p) for p in args.plates.split(",")] if args.plates else None
    except ValueError:
        console.print(
            f"[red]--shelf must look like 1/2 and --plates like 1,2,3 (got {args.shelf!r}, {args.plates!r})[/red]"
        )
        return 2
    if args.known_g <= 0:
        console.print("[red]--known-g must be positive[/red]")
        return 2
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        console.print(str(exc))
        return 2

    def ask(step: str, plate: int, text: str) -> None:
        console.input(f"[bold]{text}, then press Enter[/bold] ")

    try:
        results = run_calibration(config, gondola, shelf, plates, args.known_g, ask, console, args.timeout)
    except CalibrationFailed as exc:
        console.print(f"[red]calibration stopped: {exc}[/red]")
        return 1
    table = Table(title=f"shelf {gondola}/{shelf} calibrated (stored by the bridge)")
    for column in ("plate", "zero (counts)", "g per count", "reads", "error"):
        table.add_column(column)
    for r in results:
        table.add_row(
            str(r.plate),
            f"{r.zero_raw:.1f}",
            f"{r.g_per_count:.6f}",
            f"{r.verified_g:.1f} g",
            f"{r.error:+.2%}",
        )
    console.print(table)
    return 0
