"""What the demo checks and reports at the end of a run (``simulators/demo.py`` runs the store).

- :func:`summary_table`: picks made (ground truth) against picks detected and attributed, presence,
  offers, events received centrally, the non-enrolled phone, the withdrawal's delay;
- :func:`run_doctor`: ``shelf-edge doctor`` as a technician runs it while shoppers are in;
- :func:`dashboard_state`: what the technician's dashboard serves (``/api/state``, ``/metrics``);
- :func:`withdrawal_reached_gateway`: when the gateway's pulled keys no longer held the customer;
- :func:`uplift_report`: the run's offers against holdout, through ``shelf-models uplift``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from rich.console import Console
from rich.table import Table

from edge.sync.pull import keys_resource, synced_path
from simulators.backend.store import StoreView
from simulators.demo_narrator import PlannedPick
from simulators.demo_store import DASHBOARD_PASSWORD
from simulators.processes import ManagedProcess


def wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    """Polls ``predicate`` every 50 ms until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def run_doctor(config: Path, env: dict[str, str], console: Console) -> int:
    """What a technician would run on this gateway: ``shelf-edge doctor``, one line per check."""
    proc = subprocess.run(
        [ManagedProcess.console_script("shelf-edge"), "doctor", "--config", str(config), "--listen", "2"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )
    report = "\n".join(f"  {line}" for line in (proc.stdout + proc.stderr).splitlines())
    console.print(
        "[bold]shelf-edge doctor[/], run by a technician while shoppers are in the store:\n" + report,
    )
    return proc.returncode


def dashboard_state(port: int, console: Console) -> tuple[str, str]:
    """What the technician's dashboard served at the end: (``/api/state`` after logging in,
    ``/metrics``); ("", "") when it did not answer."""
    base = f"http://127.0.0.1:{port}"
    try:
        with requests.Session() as session:
            session.post(f"{base}/login", data={"password": DASHBOARD_PASSWORD}, timeout=5)
            answer = session.get(f"{base}/api/state", timeout=5)
            answer.raise_for_status()
            metrics = session.get(f"{base}/metrics", timeout=5).text
            return answer.text, metrics
    except requests.RequestException as exc:
        console.print(f"[red]dashboard did not answer: {exc}[/]")
        return "", ""


def withdrawal_reached_gateway(data_dir: Path, shopper: str, withdrawn_at: float) -> float | None:
    """Waits (until 15 s after the withdrawal) for the gateway's pulled keys to drop the customer;
    returns the seconds from the withdrawal to the pull that dropped it, or None."""

    def gone() -> bool:
        day = dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
        path = synced_path(data_dir, keys_resource(day))
        try:
            keys = json.loads(path.read_bytes())["keys"]
        except (OSError, ValueError, KeyError):
            return False
        return all(k["shopper"] != shopper for k in keys)

    if gone() or wait_for(gone, withdrawn_at + 15.0 - time.time()):  # long past: look once
        # the file's time: when the gateway wrote the pull, not when this check noticed it
        day = dt.datetime.fromtimestamp(time.time(), dt.UTC).date()
        written = synced_path(data_dir, keys_resource(day)).stat().st_mtime
        return max(0.0, written - withdrawn_at)
    return None


def uplift_report(store: StoreView, store_id: str, catalogue: Path, run_dir: Path, console: Console) -> None:
    """The run's offers against holdout: the backend's events through ``shelf-models uplift``."""
    from edge.errors import EdgeError
    from models.experiments.events_io import EventsError
    from simulators.uplift.demo_report import write_demo_report

    rules = Path(__file__).resolve().parents[1] / "edge" / "offers" / "example_rules.json"
    try:
        page, rebuilt = write_demo_report(store, store_id, catalogue, rules, run_dir / "uplift")
    except (
        EdgeError,
        EventsError,
        RuntimeError,
        OSError,
    ) as exc:  # the demo verdict does not depend on it
        console.print(f"[red]uplift report not written: {exc}[/]")
        return
    console.print(f"uplift report of this run (offers against holdout): {page}")
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(rebuilt.skipped.items())) or "none skipped"
    console.print(
        f"decision log for `shelf-models simulate-policy --decisions {page.parent.parent / 'events'}`: "
        f"{rebuilt.table.num_rows} of {rebuilt.decisions} decisions with their baskets ({skipped})"
    )


def match_picks(picks: list[PlannedPick], basket: list[dict[str, Any]]) -> tuple[int, int]:
    """(picks detected with the right product, ... of them attributed to the right shopper)."""
    matched = attributed = 0
    for pick in picks:
        hit = next(
            (
                b
                for b in basket
                if b["kind"] == "pick"
                and b["gondola"] == pick.shelf.gondola
                and b["shelf"] == pick.shelf.shelf
                and pick.at - 1.0 < float(b["t"]) < pick.at + 9.0
                and b["product_id"] == pick.product_id
            ),
            None,
        )
        if hit:
            matched += 1
            attributed += hit["shopper"] == pick.shopper
    return matched, attributed


def summary_table(rows: list[tuple[str, str]]) -> Table:
    table = Table(title="demo summary")
    table.add_column("what")
    table.add_column("count", justify="right")
    for what, count in rows:
        table.add_row(what, count)
    return table
