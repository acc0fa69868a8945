"""Applying what the backend sync pulled (``{data_dir}/sync/*.json``) to the running stages.

The documents, as the backend serves them (see edge/sync/README.md and backend/):

- ``planogram``: ``{"rows": [{"product_id", "name", "gondola", "shelf", "plate", "unit_weight_g", "price"}, ...]}``
- ``catalogue``: ``{"rows": [<one object per catalogue CSV row, same column names>, ...]}``
- ``campaigns``: the offer rules document (``edge.offers.rules.OfferRules``: rules, campaigns, experiment)
- ``profiles``: ``{"<shopper>": {"items": [...], "weights": [...], "n_baskets": n, "segments": [...]}, ...}`` of this store
- ``customer-keys``: the keys file document of ``edge.presence.keys`` for this store and day

A document that does not validate is refused with a clear log line and the stage keeps what it had:
bad data from the backend never stops the store. When ``offers.catalogue``, ``offers.rules`` or
``offers.profiles`` is not set, the synced copy (``{data_dir}/sync/<resource>.json``) is what the
offer stage loads at start; a gateway that started without a catalogue builds its offer stage as
soon as the first catalogue arrives.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from edge.errors import EdgeError

if TYPE_CHECKING:
    import sqlite_utils

    from edge.config import EdgeConfig
    from edge.displays.publisher import DisplayPublisher
    from edge.fusion.core import Baskets
    from edge.offers.catalogue import Catalogue
    from edge.presence.service import PresenceService
    from edge.wiring import OfferStage, SensingStage

log = logging.getLogger("edge.updates")


class UpdateTarget(Protocol):
    """The stages an update is applied to (``edge.app.Gateway`` is one). A protocol, so this module
    does not import the daemon that imports it."""

    @property
    def config(self) -> EdgeConfig: ...
    @property
    def db(self) -> sqlite_utils.Database: ...
    @property
    def clock(self) -> Callable[[], float]: ...
    @property
    def sensing(self) -> SensingStage: ...
    @property
    def presence(self) -> PresenceService: ...
    @property
    def baskets(self) -> Baskets: ...
    @property
    def displays(self) -> DisplayPublisher | None: ...

    #: set by an update when the first synced catalogue lets the offer stage start
    offers: OfferStage | None
    #: the model release manager (``edge.sync.releases.ReleaseManager``), or a stand-in without one
    releases: object


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


def apply_update(gateway: UpdateTarget, kind: str, path: Path) -> None:
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
        elif kind == "profiles":
            _apply_profiles(gateway, path)
        else:
            raise UpdateError(kind, path, "unknown kind of update")
    except (OSError, ValueError, EdgeError) as exc:
        log.error("%s", exc if isinstance(exc, UpdateError) else UpdateError(kind, path, str(exc)))


def _apply_keys(gateway: UpdateTarget, path: Path) -> None:
    from edge.presence.keys import load_key_set, trim_heap
    from edge.presence.privacy import forget_shoppers

    key_set = load_key_set(path, gateway.config.gateway.store_id)
    presence = gateway.presence
    had_offers = {s for s in presence.purposes if presence.consents(s, "offers")}
    had_analytics = {s for s in presence.purposes if presence.consents(s, "analytics")}
    gone = presence.set_keys(key_set.keys, key_set.purposes)
    count = len(key_set.keys)
    del key_set
    trim_heap()
    # Consent revoked: everything about the customer goes now, not at departure, including
    # stored events not yet sent to the backend.
    no_offers = sorted(s for s in had_offers if not presence.consents(s, "offers"))
    no_analytics = sorted(s for s in had_analytics if not presence.consents(s, "analytics"))
    for shopper in gone:
        gateway.baskets.forget(shopper)
    if gateway.displays is not None:
        for shopper in sorted(set(gone) | set(no_offers)):
            gateway.displays.withdraw_for(shopper, gateway.clock())
    # Analytics withdrawn (alone or with everything): stored events about them are deleted too.
    deleted = forget_shoppers(gateway.db, sorted(set(gone) | set(no_analytics)))
    log.info(
        "customer keys: %d enrolled rows; %d shoppers revoked, %d withdrew offers, %d withdrew "
        "analytics, %d stored rows about them deleted",
        count,
        len(gone),
        len(no_offers),
        len(no_analytics),
        sum(deleted.values()),
    )


def _apply_planogram(gateway: UpdateTarget, path: Path, doc: Any) -> None:
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


def load_catalogue_document(path: Path) -> Catalogue:
    """A synced catalogue document (``{"rows": [...]}``) as the offer engine's catalogue."""
    from edge.offers.catalogue import Catalogue

    doc = json.loads(path.read_bytes())
    rows = _rows("catalogue", path, doc)
    return Catalogue.from_rows([{k: str(v) for k, v in r.items()} for r in rows], str(path))


def _offers_started(gateway: UpdateTarget) -> bool:
    """True when the offer stage exists; builds it from the synced inputs when it can (first sync)."""
    if gateway.offers is not None:
        return True
    from edge.sync.releases import ReleaseManager
    from edge.wiring import active_release, build_offer_stage

    stage = build_offer_stage(gateway.config, active_release(gateway.config))
    if stage is None:
        return False
    if isinstance(gateway.releases, ReleaseManager):
        # the stage serves the active release (active_release above); later releases swap into it
        gateway.releases.holder = stage.holder
        gateway.releases.health = stage.health
    gateway.offers = stage
    log.info("offers on: the offer stage was built from synced data")
    return True


def _apply_catalogue(gateway: UpdateTarget, path: Path, doc: Any) -> None:
    if gateway.offers is None:
        _offers_started(gateway)  # loads this catalogue when it builds the stage
        return
    catalogue = load_catalogue_document(path)
    gateway.offers.engine.catalogue = catalogue
    log.info("catalogue: %d products", len(catalogue))


def _apply_campaigns(gateway: UpdateTarget, path: Path, doc: Any) -> None:
    from edge.offers.rules import parse_rules

    rules = parse_rules(doc, str(path))  # refused here even while offers are off
    if not _offers_started(gateway) or gateway.offers is None:
        return
    gateway.offers.engine.rules = rules
    log.info("offer rules %s: %d campaigns", rules.version, len(rules.campaigns))


def _apply_profiles(gateway: UpdateTarget, path: Path) -> None:
    from edge.offers.sources import load_profiles

    profiles = load_profiles(path)
    if not _offers_started(gateway) or gateway.offers is None:
        return
    gateway.offers.profiles = profiles
    log.info("profiles: %d shoppers", len(profiles))
