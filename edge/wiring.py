"""Builds the daemon's stages from configuration. Each stage holds a pure core and its inputs.

Kept apart from ``app.py`` so that the daemon's event flow reads in one place and the choices made
from configuration (which adapter, which files) in another.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

import sqlite_utils

from edge.config import EdgeConfig, SensingSection
from edge.displays.publisher import DisplayPublisher, Recorder
from edge.events import BasketEvent, Offer, SampleBatch, ShelfId, WeightEvent
from edge.mqtt.client import MqttClient
from edge.mqtt.topics import Topics
from edge.sensing.detector import ShelfDetector
from edge.sensing.detector_params import DetectorParams
from edge.sensing.identify import IdentifyParams
from edge.sensing.planogram import Planogram

if TYPE_CHECKING:
    from edge.offers.decision import DecisionRecord
    from edge.offers.model import OfferModel
    from edge.offers.stock import StockChange, StockKeeper
    from edge.vision.service import VisionService

log = logging.getLogger("edge.wiring")


def detector_params(section: SensingSection) -> DetectorParams:
    """The detector's and identification's parameters from ``[sensing]``."""
    s = section
    return DetectorParams(
        active_floor_g=s.active_floor_g,
        active_k=s.active_k,
        settle_window_s=s.settle_window_s,
        settle_floor_g=s.settle_floor_g,
        plate_min_g=s.plate_min_g,
        min_event_g=s.min_event_g,
        confirm_unknown_s=s.confirm_unknown_s,
        max_episode_s=s.max_episode_s,
        identify=IdentifyParams(
            rel_sigma=s.rel_sigma,
            abs_sigma_g=s.abs_sigma_g,
            disturbance_g=s.disturbance_g,
            overhang_prior=s.overhang_prior,
        ),
    )


class SensingStage:
    """One weight detector per shelf, created when the shelf's first batch arrives."""

    def __init__(self, config: EdgeConfig) -> None:
        path = config.sensing.planogram
        self.planogram = Planogram.load_csv(path) if path else Planogram()
        self.detectors: dict[ShelfId, ShelfDetector] = {}
        self.params = detector_params(config.sensing)
        if path:
            log.info(
                "planogram %s: %d products on %d shelves",
                path,
                len(self.planogram.products),
                len(self.planogram.shelves()),
            )

    def feed(self, batch: SampleBatch) -> list[WeightEvent]:
        detector = self.detectors.get(batch.shelf)
        if detector is None:
            detector = self.detectors[batch.shelf] = ShelfDetector(batch.shelf, self.planogram, self.params)
            log.info("shelf %s: first samples (%d plates)", batch.shelf, len(batch.plates))
        steps = detector.stats["clock_steps"]
        events = detector.feed(batch)
        if detector.stats["clock_steps"] != steps:
            log.warning(
                "shelf %s: its sample clock stepped back (now %.3f); detection restarted on the new "
                "timeline (%d samples behind the old one dropped so far)",
                batch.shelf,
                batch.t[-1],
                detector.stats["out_of_order"],
            )
        return events


class OfferStage:
    """Offer model (held for atomic swaps) + the pure decision engine, for one display per shelf."""

    def __init__(self, config: EdgeConfig, model_dir: Path, catalogue: Path) -> None:
        from edge.offers.catalogue import Catalogue
        from edge.offers.decision import OfferEngine
        from edge.offers.holder import ModelHolder
        from edge.offers.model import OfferModel
        from edge.offers.profile import Profile
        from edge.offers.rules import OfferRules
        from edge.offers.sources import load_profiles, load_rules
        from edge.sync.releases import HealthMonitor
        from edge.updates import load_catalogue_document

        o = config.offers
        self.holder = ModelHolder(OfferModel.load(model_dir))
        #: Every decision's outcome and latency, watched by the release manager after a model switch.
        self.health = HealthMonitor()
        rules_path = offers_source(config, o.rules, "campaigns")
        profiles_path = offers_source(config, o.profiles, "profiles")
        rules = load_rules(rules_path) if rules_path else OfferRules()
        loaded = (
            load_catalogue_document(catalogue) if catalogue.suffix == ".json" else Catalogue.load(catalogue)
        )
        self.engine = OfferEngine(
            rules, loaded, offer_ttl_s=o.offer_ttl_s, conversion_window_s=config.backend.conversion_window_s
        )
        self.catalogue_path = Path(catalogue)
        self._proof_model: OfferModel | None = None  # the model engine.proof_support was read from
        self._stock: StockKeeper | None = None
        self.profiles: dict[str, Profile] = load_profiles(profiles_path) if profiles_path else {}
        self.display_for = {ShelfId(d.gondola, d.shelf): d.display_id for d in config.displays}
        model = self.holder.current
        log.info(
            "offer model %s (%d items), catalogue %d products, rules %s, %d profiles",
            model.version if model else "-",
            len(model.items) if model else 0,
            len(self.engine.catalogue),
            rules.version,
            len(self.profiles),
        )

    def restore(self, db: sqlite_utils.Database, since_t: float) -> int:
        """Re-apply decisions logged since ``since_t``, so caps and budgets hold across a restart."""
        from edge.store.offer_log import conversions_since, decisions_since

        return self.engine.restore(decisions_since(db, since_t), conversions_since(db, since_t))

    def restore_stock(self, db: sqlite_utils.Database, planogram: Planogram) -> int:
        """Re-apply the weight events stored since the catalogue file was written (its stock is a
        snapshot of that moment), so live stock holds across a restart. Returns how many."""
        from edge.store.offer_log import weight_events_since

        since = self.catalogue_path.stat().st_mtime
        events = weight_events_since(db, since)
        for event in events:
            self.on_weight(event, planogram)
        return len(events)

    def on_weight(self, event: WeightEvent, planogram: Planogram) -> StockChange | None:
        """Apply a weight event to the live stock (see edge/offers/stock.py)."""
        from edge.offers.stock import StockKeeper

        keeper = self._stock
        units = self.engine.rules.rules.restock_min_units
        if (
            keeper is None
            or keeper.catalogue is not self.engine.catalogue
            or keeper.planogram is not planogram
            or keeper.restock_min_units != units
        ):
            keeper = self._stock = StockKeeper(self.engine.catalogue, planogram, units)
        return keeper.on_weight(event)

    def decide(
        self, event: BasketEvent, basket: list[str], consent: bool = True
    ) -> tuple[Offer | None, DecisionRecord | None]:
        """The decision's exposure (the offer shown, or held back for a held-out shopper: see
        ``record.outcome``) and its record; (None, None) when no decision is made. ``consent``: the
        shopper consented to personalised offers."""
        from edge.offers.decision import DecisionContext

        model = self.holder.current  # one reference per decision: a model swap never splits one
        display = self.display_for.get(event.shelf)
        if model is None or display is None or event.shopper is None:
            return None, None
        if model is not self._proof_model:
            support = model.manifest.get("params", {}).get("min_support")
            self.engine.proof_support = support if isinstance(support, int) else None
            self._proof_model = model
        started = time.perf_counter()
        try:
            # without offers consent the shopper's profile and basket are not even looked at
            profile = self.profiles.get(event.shopper) if consent else None
            candidates = (
                model.candidates(
                    basket,
                    profile,
                    k=self.engine.rules.rules.candidates,
                    within=self.engine.offerable(event.shelf),
                )
                if consent
                else []
            )
            segments = profile.segments if profile is not None else frozenset()
            decision = self.engine.decide(
                event,
                basket,
                candidates,
                DecisionContext(display=display, shelf=event.shelf, consent=consent, segments=segments),
            )
        except Exception:
            self.health.record(False, time.perf_counter() - started)
            log.exception("offer decision failed for basket event %s", event.event_id)
            return None, None
        self.health.record(True, time.perf_counter() - started)
        return decision.exposure, decision.record


def build_offer_stage(config: EdgeConfig, released_model: Path | None = None) -> OfferStage | None:
    """The offer stage, serving the active signed release if there is one, else ``offers.model_dir``."""
    o = config.offers
    model_dir = released_model or o.model_dir
    catalogue = offers_source(config, o.catalogue, "catalogue")
    if model_dir is None or catalogue is None:
        log.info(
            "offers off: no model (offers.model_dir or a release) or no catalogue (configured or synced)"
        )
        return None
    if not Path(model_dir).exists():
        log.warning("offers off until a model is installed: %s does not exist", model_dir)
        return None
    from edge.offers.catalogue import CatalogueError
    from edge.offers.model import ModelLoadError
    from edge.offers.rules import RulesError
    from edge.offers.sources import ProfilesError

    try:
        return OfferStage(config, Path(model_dir), catalogue)
    except (ModelLoadError, CatalogueError, RulesError, ProfilesError) as exc:
        # Sensing, presence and the outbox keep working; a good release or model brings offers back.
        log.error("offers off: %s", exc)
        return None


def offers_source(config: EdgeConfig, configured: Path | None, resource: str) -> Path | None:
    """The configured file of an offer input, else the copy the backend sync pulled, if there is one."""
    if configured is not None:
        return configured
    from edge.sync.pull import synced_path

    path = synced_path(config.gateway.data_dir, resource)
    return path if path.exists() else None


def build_release_manager(
    config: EdgeConfig, stage: OfferStage | None, vision: VisionService | None = None
) -> object | None:
    """Signed model updates for the offer model, and for the cameras' lane model when there are
    cameras, when a release signing key is configured."""
    b = config.backend
    if b.url is None or b.release_public_key is None:
        return None
    from edge.offers.holder import ModelHolder
    from edge.offers.model import OfferModel
    from edge.store.db import open_database
    from edge.sync.release_meta import load_public_key
    from edge.sync.releases import HealthMonitor, HealthPolicy, ReleaseManager, ReleaseManagers

    db = open_database(config.gateway.data_dir / "edge.db")
    policy = HealthPolicy(b.health_window_s, b.health_max_error_rate, b.health_max_p99_ms)
    offers = ReleaseManager[OfferModel](
        db=db,
        data_dir=config.gateway.data_dir,
        model="offers",
        public_key=load_public_key(b.release_public_key),
        holder=stage.holder if stage is not None else ModelHolder(),
        loader=OfferModel.load,
        health=stage.health if stage is not None else HealthMonitor(),
        policy=policy,
    )
    if vision is None or not vision.stages:
        return offers
    from edge.vision.model import LaneModel
    from edge.vision.release import MODEL_FAMILY, LaneModelHolder, load_release

    health = HealthMonitor()
    for camera in vision.stages:
        camera.health = health
    lanes = ReleaseManager[LaneModel](
        db=db,
        data_dir=config.gateway.data_dir,
        model=MODEL_FAMILY,
        public_key=load_public_key(b.release_public_key),
        holder=LaneModelHolder(vision.stages),
        loader=load_release,
        health=health,
        policy=policy,
    )
    return ReleaseManagers([offers, lanes])


def active_release(config: EdgeConfig, model: str = "offers") -> Path | None:
    """The slot of the active signed release of ``model`` on disk, if any (before the manager exists)."""
    root = config.gateway.data_dir / "models" / model
    try:
        slot = json.loads((root / "active.json").read_text())["slot"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.error("ignoring unreadable %s: %s", root / "active.json", exc)
        return None
    return root / f"slot-{slot}"


def build_display_publisher(
    config: EdgeConfig, mqtt: MqttClient, topics: Topics, record: Recorder
) -> DisplayPublisher | None:
    if not config.displays:
        return None
    return DisplayPublisher(
        mqtt,
        topics,
        list(config.displays),
        record=record,
        conversion_window_s=config.backend.conversion_window_s,
    )
