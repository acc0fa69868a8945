"""Applying what the backend sync pulled (``{data_dir}/sync/*.json``) to the running stages.

The documents, as the backend serves them (see edge/sync/README.md and backend/):

- ``planogram``: ``{"rows": [{"product_id", "name", "gondola", "shelf", "plate", "unit_weight_g", "price"}, ...]}``
- ``catalogue``: ``{"rows": [<one object per catalogue CSV row, same column names>, ...]}``
- ``campaigns``: the offer rules document (``edge.offers.rules.OfferRules``: rules, campaigns, experiment)
- ``customer-keys``: the keys file document of ``edge.presence.keys`` for this store and day

A document that does not validate is refused with a clear log line and the stage keeps what it had:
bad data from the backend never stops the store.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.errors import EdgeError

if TYPE_CHECKING:
    from edge.app import Gateway

log = logging.getLogger("edge.updates")


class UpdateError(EdgeError):
    def __init__(self, kind: str, path: Path, reason: str) -> None:
        self.kind = kind
        self.path = path
        self.reason = reason
        super().__init__(f"refused {kind} update from {path}: {reason}")


def _rows(kind: str, path: Path, doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, dict) or not isinstance(doc.get("rows"), list):
        raise UpdateError(kind, path, 'expected {"rows": [...]}')
    rows: list[dict[str, Any]] = doc["rows"]
    if not all(isinstance(r, dict) for r in rows):
        raise UpdateError(kind, path, "every row must be an object")
    return rows


def apply_update(gateway: Gateway, kind: str, path: Path) -> None:
    """Validate the pulled document and swap it into the stage it feeds (on the event loop)."""
    try:
        doc = json.loads(path.read_bytes())
        if kind == "customer-keys":
            _apply_keys(gateway, path)
        elif kind == "planogram":
            _apply_planogram(gateway, path, doc)
        elif kind == "catalogue":
            _apply_catalogue(gateway, path, doc)
        elif kind == "campaigns":
            _apply_campaigns(gateway, path, doc)
        else:
            raise UpdateError(kind, path, "unknown kind of update")
    except (OSError, ValueError, EdgeError) as exc:
        log.error("%s", exc if isinstance(exc, UpdateError) else UpdateError(kind, path, str(exc)))


def _apply_keys(gateway: Gateway, path: Path) -> None:
    from edge.presence.keys import load_keys_file, trim_heap
    from edge.presence.privacy import forget_shoppers

    keys = load_keys_file(path, gateway.config.gateway.store_id)
    gone = gateway.presence.set_keys(keys)
    count = len(keys)
    del keys
    trim_heap()
    # Consent revoked: everything about the customer goes now, not at departure, including
    # stored events not yet sent to the backend.
    for shopper in gone:
        gateway.baskets.forget(shopper)
        if gateway.displays is not None:
            gateway.displays.withdraw_for(shopper, gateway.clock())
    deleted = forget_shoppers(gateway.db, gone)
    log.info(
        "customer keys: %d enrolled rows; %d shoppers revoked, %d stored rows about them deleted",
        count,
        len(gone),
        sum(deleted.values()),
    )


def _apply_planogram(gateway: Gateway, path: Path, doc: Any) -> None:
    from edge.sensing.planogram import HEADER, Planogram

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for row in _rows("planogram", path, doc):
        writer.writerow([row.get(h, "") for h in HEADER])
    planogram = Planogram.parse_csv(out.getvalue(), str(path))
    gateway.sensing.planogram = planogram
    for detector in gateway.sensing.detectors.values():
        detector.planogram = planogram
    log.info("planogram: %d products", len(planogram.products))


def _apply_catalogue(gateway: Gateway, path: Path, doc: Any) -> None:
    from edge.offers.catalogue import Catalogue

    if gateway.offers is None:
        return
    catalogue = Catalogue.from_rows(
        [{k: str(v) for k, v in r.items()} for r in _rows("catalogue", path, doc)], str(path)
    )
    gateway.offers.engine.catalogue = catalogue
    log.info("catalogue: %d products", len(catalogue))


def _apply_campaigns(gateway: Gateway, path: Path, doc: Any) -> None:
    from edge.offers.rules import parse_rules

    if gateway.offers is None:
        return
    rules = parse_rules(doc, str(path))
    gateway.offers.engine.rules = rules
    log.info("offer rules %s: %d campaigns", rules.version, len(rules.campaigns))
