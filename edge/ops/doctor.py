"""``shelf-edge doctor``: every check the gateway depends on, one line each, with the fix.

    sudo shelf-edge doctor [--config /etc/smartshelf/edge.toml] [--json]

Exit code 0 when nothing failed (warnings allowed), 1 when a check failed, 2 when the config
itself is unreadable. The clock is compared with the backend's HTTP ``Date`` header (1 s
resolution), not NTP: the backend is the party that checks our tokens and timestamps.
``--clock-offset`` shifts the local clock reading (a testing and what-if hook).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import shutil
import sqlite3
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import requests
from rich.console import Console
from rich.markup import escape

from edge.config import EdgeConfig, load_config
from edge.errors import ConfigError
from edge.ops.doctor_core import (
    CheckResult,
    Status,
    exit_code,
    judge_certificate,
    judge_clock,
    judge_daemon,
    judge_disk,
    judge_shelf,
)
from edge.ops.probe import ProbeError, StoreView, probe

DEFAULT_CONFIG = Path("/etc/smartshelf/edge.toml")
DB_FILE = "edge.db"
Clock = Callable[[], float]


def check_certificates(config: EdgeConfig, now: float) -> list[CheckResult]:
    from edge.ops.pki import certificate_summary

    tls = config.mqtt.tls
    if tls is None:
        return [CheckResult("certificates", Status.WARN, "MQTT without TLS", "run `sudo shelf-edge install`")]
    found: list[CheckResult] = []
    for what, path in (("store CA", tls.ca_file), ("gateway certificate", tls.cert_file)):
        if path is None:
            continue
        try:
            cn, not_after = certificate_summary(Path(path))
        except (OSError, ValueError) as exc:
            found.append(
                CheckResult(
                    "certificates", Status.FAIL, f"{what} {path}: {exc}", "run `sudo shelf-edge install`"
                )
            )
            continue
        result = judge_certificate(what, cn, (not_after.timestamp() - now) / 86400)
        if result:
            found.append(result)
    return found or [CheckResult("certificates", Status.OK, "store CA and gateway certificate valid")]


def check_backend(config: EdgeConfig, clock: Clock) -> list[CheckResult]:
    url = config.backend.url
    if not url:
        return [
            CheckResult(
                "backend",
                Status.WARN,
                "no backend configured (no sync, no health reports)",
                "`sudo shelf-edge provision --backend URL --enrollment-code CODE`",
            ),
            CheckResult("clock", Status.SKIP, "no backend to compare with"),
        ]
    health = url.rstrip("/") + "/v1/health"
    try:
        sent = clock()
        response = requests.get(health, timeout=config.backend.timeout_s)
        received = clock()
    except requests.RequestException as exc:
        reason = type(exc).__name__
        return [
            CheckResult(
                "backend",
                Status.FAIL,
                f"{health} unreachable ({reason})",
                "check the network/proxy; `curl -v " + health + "`",
            ),
            CheckResult("clock", Status.SKIP, "backend unreachable, clock not compared"),
        ]
    if response.status_code != 200:
        backend = CheckResult(
            "backend",
            Status.FAIL,
            f"{health} answered HTTP {response.status_code}",
            "the backend is up but unhealthy: tell central IT",
        )
    else:
        backend = CheckResult("backend", Status.OK, f"{url} answers ({(received - sent) * 1000:.0f} ms)")
    date = response.headers.get("Date")
    if not date:
        return [backend, CheckResult("clock", Status.WARN, "backend sent no Date header", "")]
    reference = parsedate_to_datetime(date).timestamp() + 0.5  # Date is truncated to the second
    skew = (sent + received) / 2 - reference
    return [backend, judge_clock(skew, "the backend's Date header")]


def check_broker_and_store(config: EdgeConfig, listen_s: float) -> list[CheckResult]:
    try:
        view = probe(config, listen_s=listen_s)
    except ProbeError as exc:
        results = [CheckResult("broker", Status.FAIL, exc.detail, exc.fix)]
        for shelf in config.bridge.shelves:
            results.append(
                CheckResult(f"shelf {shelf.gondola}/{shelf.shelf}", Status.SKIP, "broker unavailable")
            )
        return results
    where = f"{config.mqtt.host}:{config.mqtt.port}"
    results = [
        CheckResult(
            "broker",
            Status.OK,
            f"{where} " + ("TLS verified, " if config.mqtt.tls else "plain, ") + "gateway accepted",
        )
    ]
    results += shelf_results(config, view, listen_s)
    if "mqtt-receivers" in config.presence.source:
        results += receiver_results(config, view, listen_s)
    return results


def shelf_results(config: EdgeConfig, view: StoreView, listen_s: float) -> list[CheckResult]:
    availability = view.availability.get(f"bridge/{config.bridge.bridge_id}")
    bridge_online = None if availability is None else availability == "online"
    results = []
    for shelf in config.bridge.shelves:
        key = (shelf.gondola, shelf.shelf)
        results.append(
            judge_shelf(
                f"shelf {shelf.gondola}/{shelf.shelf}",
                shelf.port,
                view.statuses.get(key),
                view.info.get(key),
                view.samples.get(key, 0) > 0,
                bridge_online,
                listen_s,
            )
        )
    if not config.bridge.shelves:
        results.append(
            CheckResult(
                "shelves", Status.WARN, "no shelves configured", "add [[bridge.shelves]] to the config"
            )
        )
    return results


def receiver_results(config: EdgeConfig, view: StoreView, listen_s: float) -> list[CheckResult]:
    results = []
    for receiver, zone in config.presence.receivers.items():
        if receiver.startswith("local-"):
            continue  # a local adapter ("local-hci0"), checked through bleak, not over MQTT
        heard = view.receivers.get(receiver, 0)
        state = view.availability.get(f"ble/{receiver}")
        if heard:
            results.append(
                CheckResult(
                    f"ble {receiver}",
                    Status.OK,
                    f"scanning at shelf {zone} ({heard} reports in {listen_s:g} s)",
                )
            )
        elif state == "online":
            results.append(
                CheckResult(
                    f"ble {receiver}",
                    Status.WARN,
                    f"online but silent for {listen_s:g} s",
                    "no phones near, or its radio is stuck: power-cycle it",
                )
            )
        else:
            results.append(
                CheckResult(
                    f"ble {receiver}",
                    Status.FAIL,
                    f"no reports from receiver at shelf {zone}",
                    "check its power and Wi-Fi; it needs its own client certificate",
                )
            )
    return results


def check_ble_adapter(config: EdgeConfig, listen_s: float) -> CheckResult:
    adapter = config.presence.adapter
    fix = f"`bluetoothctl list`; `sudo rfkill unblock bluetooth`; `sudo systemctl restart bluetooth` (adapter {adapter})"

    async def scan() -> int:
        from bleak import BleakScanner

        count = 0

        def seen(device: object, adv: object) -> None:
            nonlocal count
            count += 1  # counted only; nothing about the device is kept

        scanner = BleakScanner(detection_callback=seen, bluez={"adapter": adapter})
        await asyncio.wait_for(scanner.start(), timeout=10)
        try:
            await asyncio.sleep(listen_s)
        finally:
            await scanner.stop()
        return count

    try:
        adverts = asyncio.run(scan())
    except Exception as exc:  # bleak raises BleakError, D-Bus errors, timeouts: all mean "not scanning"
        return CheckResult(
            "ble adapter", Status.FAIL, f"{adapter} cannot scan: {type(exc).__name__}: {exc}", fix
        )
    return CheckResult(
        "ble adapter", Status.OK, f"{adapter} present and scanning ({adverts} adverts in {listen_s:g} s)"
    )


def check_disk(config: EdgeConfig) -> CheckResult:
    path = Path(config.gateway.data_dir).resolve()
    while not path.exists():
        path = path.parent
    usage = shutil.disk_usage(path)
    return judge_disk(str(path), usage.free, usage.total)


def check_database(config: EdgeConfig) -> CheckResult:
    path = Path(config.gateway.data_dir) / DB_FILE
    if not path.exists():
        return CheckResult(
            "database",
            Status.WARN,
            f"{path} does not exist yet",
            "start the daemon: `sudo systemctl start smartshelf-edge`",
        )
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            verdict = conn.execute("PRAGMA quick_check").fetchone()[0]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            applied = (
                {int(r[0]) for r in conn.execute("SELECT version FROM schema_migrations")}
                if "schema_migrations" in tables
                else set()
            )
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return CheckResult(
            "database",
            Status.FAIL,
            f"{path}: {exc}",
            "stop the daemon, move the file aside, restart (events not yet synced are in it)",
        )
    if verdict != "ok":
        return CheckResult(
            "database",
            Status.FAIL,
            f"{path}: integrity check: {verdict}",
            "stop the daemon and restore/move the file; tell central IT",
        )
    from edge.store.migrations import MIGRATIONS

    missing = sorted({m.version for m in MIGRATIONS} - applied)
    if missing:
        return CheckResult(
            "database",
            Status.WARN,
            f"{path} intact, migrations {missing} not applied yet",
            "restart the daemon (it migrates at start): `sudo systemctl restart smartshelf-edge`",
        )
    return CheckResult(
        "database", Status.OK, f"{path} intact (schema {max(applied, default=0)}, {len(applied)} migrations)"
    )


def check_daemon(config: EdgeConfig) -> CheckResult:
    """The running daemon's /healthz (on this machine): red while its database cannot take writes."""
    web = config.web
    if not web.enabled:
        return CheckResult("daemon", Status.SKIP, "web.enabled = false: the daemon's /healthz is off")
    host = "127.0.0.1" if web.host in ("0.0.0.0", "", "::") else web.host
    where = f"http://{host}:{web.port}/healthz"
    try:
        response = requests.get(where, timeout=5)
    except requests.RequestException as exc:
        return judge_daemon(where, None, None, type(exc).__name__)
    try:
        body = response.json()
    except ValueError:
        body = None
    return judge_daemon(where, response.status_code, body)


def check_model(config: EdgeConfig) -> CheckResult:
    from edge.web.gateway_info import active_model_dir

    directory = active_model_dir(config)
    if directory is None:
        return CheckResult(
            "offer model",
            Status.WARN,
            "no model configured: no offers are shown",
            "set offers.model_dir or let sync install a release",
        )
    from edge.offers.model import ModelLoadError, OfferModel

    try:
        model = OfferModel.load(directory)
    except ModelLoadError as exc:
        return CheckResult(
            "offer model",
            Status.FAIL,
            str(exc),
            "let sync re-install the release, or restore the previous model directory",
        )
    except OSError as exc:
        return CheckResult("offer model", Status.FAIL, f"{directory}: {exc}", "check offers.model_dir")
    return CheckResult("offer model", Status.OK, f"version {model.version} loaded ({len(model.items)} items)")


def check_cameras(cameras: list[tuple[str, str]], timeout_s: float) -> list[CheckResult]:
    if not cameras:
        return [CheckResult("cameras", Status.SKIP, "no cameras configured")]
    import cv2

    results = []
    for name, url in cameras:
        cap = cv2.VideoCapture(
            int(url) if url.isdigit() else url,
            cv2.CAP_ANY,
            [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(timeout_s * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(timeout_s * 1000),
            ],
        )
        try:
            ok, frame = cap.read() if cap.isOpened() else (False, None)
        finally:
            cap.release()
        if ok and frame is not None:
            h, w = frame.shape[:2]
            results.append(CheckResult(f"camera {name}", Status.OK, f"delivering frames ({w}x{h})"))
        else:
            results.append(
                CheckResult(
                    f"camera {name}",
                    Status.FAIL,
                    f"no frame from {url}",
                    "check the camera's power, network and stream URL",
                )
            )
    return results


def camera_sources(config: EdgeConfig) -> list[tuple[str, str]]:
    """(camera id, source) of each configured camera."""
    return [(camera.camera_id, camera.source) for camera in config.cameras]


def check_dashboard(config: EdgeConfig) -> CheckResult:
    web = config.web
    if not web.enabled:
        return CheckResult("dashboard", Status.SKIP, "disabled (web.enabled = false)")
    where = f"port {web.port}"
    fix = "set a password of 10+ characters: [web] password in the config, then restart smartshelf-edge"
    if web.password is None:
        return CheckResult("dashboard", Status.WARN, f"{where}: no password set, nobody can log in", fix)
    if len(web.password) < 10:
        return CheckResult("dashboard", Status.WARN, f"{where}: password shorter than 10 characters", fix)
    return CheckResult("dashboard", Status.OK, f"{where}, login required")


def check_files(config: EdgeConfig) -> list[CheckResult]:
    """Every path in the config (edge.config_paths): a missing planogram or rules file stops the
    daemon or turns offers off, so each one is a failed check here."""
    from edge.config_paths import check_paths

    problems = check_paths(config)
    if not problems:
        return [CheckResult("files", Status.OK, "every configured path exists and can be used")]
    return [
        CheckResult(
            "files", Status.FAIL, f"{p.key} = {p.path}: {p.problem} ({p.role.role.value})", p.role.fix
        )
        for p in problems
    ]


def run_checks(config: EdgeConfig, clock: Clock, listen_s: float = 2.0) -> list[CheckResult]:
    results = [
        CheckResult(
            "config",
            Status.OK,
            f"valid (store {config.gateway.store_id}, gateway {config.gateway.gateway_id})",
        )
    ]
    results += check_files(config)
    results += check_certificates(config, clock())
    results += check_broker_and_store(config, listen_s)
    results += check_backend(config, clock)
    if "bleak" in config.presence.source:
        results.append(check_ble_adapter(config, listen_s))
    results += check_cameras(camera_sources(config), timeout_s=5.0)
    results += [check_disk(config), check_database(config), check_model(config), check_dashboard(config)]
    results.append(check_daemon(config))
    return results


ICONS = {
    Status.OK: "[green]✔[/green]",
    Status.WARN: "[yellow]![/yellow]",
    Status.FAIL: "[red]✘[/red]",
    Status.SKIP: "[dim]-[/dim]",
}


def render(results: list[CheckResult], console: Console) -> None:
    for r in results:
        # Details and fixes are plain text: "[[bridge.shelves]]" must not be read as markup.
        line = f"{ICONS[r.status]} {escape(f'{r.name:<16}')} {escape(r.detail)}"
        if r.fix and r.status in (Status.FAIL, Status.WARN):
            line += f"\n  [dim]fix:[/dim] {escape(r.fix)}"
        console.print(line, highlight=False, soft_wrap=True)
    failed = sum(r.status is Status.FAIL for r in results)
    warned = sum(r.status is Status.WARN for r in results)
    console.print(
        "[green]all checks passed[/green]" if not failed else f"[red]{failed} check(s) failed[/red]", end=""
    )
    console.print(f", {warned} warning(s)" if warned else "")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="Gateway configuration file.")
    parser.add_argument(
        "--json", action="store_true", help="Print the results as JSON (for scripts and central IT)."
    )
    parser.add_argument(
        "--listen", type=float, default=2.0, help="Seconds to listen for shelves and receivers."
    )
    parser.add_argument(
        "--clock-offset",
        type=float,
        default=0.0,
        help="Seconds added to the local clock reading (testing / what-if hook).",
    )


def run(args: argparse.Namespace) -> int:
    console = Console(highlight=False)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        result = CheckResult(
            "config",
            Status.FAIL,
            str(exc),
            f"fix the keys named above in {args.config}; `shelf-edge validate-config {args.config}`",
        )
        if args.json:
            print(json.dumps([result.as_dict()]))
        else:
            render([result], console)
        return 2
    offset = float(args.clock_offset)
    results = run_checks(config, lambda: time.time() + offset, args.listen)
    if args.json:
        print(
            json.dumps(
                {"checked_at": dt.datetime.now(dt.UTC).isoformat(), "results": [r.as_dict() for r in results]}
            )
        )
    else:
        render(results, console)
    return exit_code(results)
