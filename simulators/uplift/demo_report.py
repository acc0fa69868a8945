"""The demo's uplift report: the run's events in the central service through the uplift job, and
the decision log of the same export replayed by ``simulate-policy`` with the running rules."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from edge.fusion.core import BASKET_END
from edge.offers.catalogue import Catalogue
from edge.offers.sources import load_rules
from edge.store.offer_log import STREAM as DECISIONS
from models.experiments.gateway_decisions import DecisionExport
from models.experiments.gateway_export import write_gateway_export
from models.experiments.uplift_cli import main_args
from simulators.backend.store import StoreView


def _stream(store: StoreView, store_id: str, stream: str) -> Iterator[dict[str, Any]]:
    return (row["payload"] for row in store.iter_events(store_id, stream))


def write_demo_report(
    store: StoreView, store_id: str, catalogue: Path, rules: Path, out: Path
) -> tuple[Path, DecisionExport]:
    """Export the run's decisions and picks to ``out/events`` (the directory both ``shelf-models
    uplift`` and ``simulate-policy`` read), build the uplift report; returns its index.html and
    what the decision log holds."""
    events = out / "events"
    rebuilt = write_gateway_export(
        events,
        store_id,
        list(_stream(store, store_id, DECISIONS)),
        list(_stream(store, store_id, "basket")),
        Catalogue.load(catalogue),
        load_rules(rules),
        list(_stream(store, store_id, BASKET_END)),
    )
    with contextlib.redirect_stdout(io.StringIO()):  # the demo's narrator says where the report is
        code = main_args(["--events", str(events), "--out", str(out / "report")])
    if code != 0:
        raise RuntimeError(f"uplift report of the demo failed (exit {code})")
    return out / "report" / "index.html", rebuilt
