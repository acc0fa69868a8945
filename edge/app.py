"""``shelf-edge run``: the gateway daemon. Wiring only: build adapters from config, connect the stages, run.

Flow (see ../README.md and ARCHITECTURE.md):
  samples (MQTT from shelf-bridge) -> sensing.ShelfDetector -> WeightEvent
  sightings (BLE source) -> presence.PresenceService (TokenResolver, PresenceTracker) -> PresenceEvent
  frames (cameras) -> vision.VisionService (motion gating, ONNX lane model) -> LaneInteraction
  WeightEvent (+ lane interactions, + presence at that shelf) -> fusion -> BasketEvent
  BasketEvent -> offers (OfferModel.rank + OfferEngine.decide) -> Offer -> displays.DisplayPublisher
Every event is written to SQLite with its outbox row in one transaction, and published for observers
on ``smartshelf/{store}/gateway/{id}/events/{kind}``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import sqlite_utils

from edge import telemetry
from edge.config import EdgeConfig
from edge.errors import EdgeError
from edge.events import BasketEvent, LaneInteraction, Offer, PresenceEvent, WeightEvent
from edge.fusion.core import BASKET_END, BasketFusion, Baskets, weight_event_id
from edge.mqtt.client import MqttClient, MqttMessage
from edge.mqtt.payloads import (
    BasketEventMessage,
    DecisionEventMessage,
    OfferMessage,
    PresenceEventMessage,
    WeightEventMessage,
    encode,
)
from edge.mqtt.sample_intake import SampleIntake
from edge.mqtt.topics import Topics
from edge.ops.sdnotify import Notifier
from edge.presence.consent import analytics_view
from edge.presence.service import PresenceService
from edge.presence.tokens import CheckIn
from edge.service_cli import load_service_config
from edge.store.db import open_database
from edge.store.events_repo import EventStore
from edge.store.offer_log import record_decision
from edge.store.retention import RetentionPolicy
from edge.sync.checkins import run_check_ins
from edge.sync.service import run_sync
from edge.updates import apply_update
from edge.vision.service import VisionService
from edge.wiring import (
    OfferStage,
    SensingStage,
    active_release,
    build_display_publisher,
    build_offer_stage,
    build_release_manager,
)

log = logging.getLogger("edge.app")


class Gateway:
    """The running daemon: one MQTT connection, one database, the stages between them."""

    def __init__(self, config: EdgeConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        gw = config.gateway
        self.topics = Topics(gw.store_id)
        self.mqtt = MqttClient(
            config.mqtt,
            client_id=f"gateway-{gw.gateway_id}",
            availability_topic=self.topics.availability("gateway", gw.gateway_id),
        )
        gw.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = gw.data_dir / "edge.db"
        d = config.database
        self.store = EventStore(
            open_database(self.db_path),
            hold_max=d.hold_max_events,
            retention=RetentionPolicy(
                d.sent_retention_days, d.event_retention_days, d.dead_letter_retention_days
            ),
            retention_interval_s=d.retention_interval_s,
            clock=clock,
            spill=held_spill_file(d.held_spill_dir),
        )
        self.notifier = Notifier.from_environment()
        self.sensing = SensingStage(config)
        self.intake = SampleIntake(
            ahead_s=config.sensing.max_samples_ahead_s,
            behind_s=config.sensing.max_samples_behind_s,
            clock=clock,
        )
        self.presence = PresenceService(config, self.mqtt, on_event=self.on_presence)
        self.presence.load_keys()
        released = active_release(config, "picks") if config.cameras else None
        self.vision = VisionService(config.cameras, model=released / "picks.onnx" if released else None)
        self.fusion = BasketFusion()
        self.baskets = Baskets()
        self.offers: OfferStage | None = build_offer_stage(config, active_release(config))
        self.releases = build_release_manager(config, self.offers, self.vision)
        if self.offers is not None:
            restored = self.offers.restore(self.db, self.clock() - 24 * 3600)
            log.info("offer caps and budgets restored from %d logged decisions", restored)
            replayed = self.offers.restore_stock(self.db, self.sensing.planogram)
            log.info("live stock: %d weight events since the catalogue was written re-applied", replayed)
        self.displays = build_display_publisher(config, self.mqtt, self.topics, self._record)
        self.stats: dict[str, int] = {
            "batches": 0,
            "malformed": 0,
            "weight_events": 0,
            "basket_events": 0,
            "presence_events": 0,
            "offers": 0,
        }

    # ------------------------------------------------------------------ stage handlers (event loop)
    def on_samples(self, msg: MqttMessage) -> None:
        refused = self.intake.refused
        batch = self.intake.admit(msg.topic, msg.payload)
        if batch is None:
            self.stats["malformed"] += self.intake.refused - refused
            return
        self.stats["batches"] += 1
        for event in self.sensing.feed(batch):
            self.on_weight(event)

    def on_weight(self, event: WeightEvent) -> None:
        self.stats["weight_events"] += 1
        telemetry.SAMPLE_TO_EVENT.observe(max(0.0, self.clock() - event.t_end))
        message = WeightEventMessage.from_event(event).model_dump()
        self._record("weight", event.kind, weight_event_id(event), event.t_end, message)
        log.info(
            "%s at %s plates %s: %+.1f g -> %s x%d (confidence %.2f)",
            event.kind,
            event.shelf,
            list(event.plates),
            event.delta_g,
            event.product_id,
            event.quantity,
            event.confidence,
        )
        event, also = self.vision.refine(event, self.sensing.planogram)
        if self.offers is not None:  # live stock; a restock is staff filling the shelf, no return
            change = self.offers.on_weight(event, self.sensing.planogram)
            if change is not None and change.kind == "restock":
                event_id = "rs-" + weight_event_id(event)[3:]
                self._record("stock", "restock", event_id, event.t_end, change.to_dict())
                log.info(
                    "restock of %s at %s: +%d (now %d)",
                    change.product_id,
                    event.shelf,
                    change.units,
                    change.level,
                )
                return
        shoppers = self.presence.shoppers_at(event.shelf, event.t_end)
        arrived = {s: self.presence.tracker.zone_since(s) for s, _ in shoppers}
        basket_event = self.fusion.on_weight(event, shoppers, also=also, arrived=arrived)
        self.on_basket(basket_event)

    def on_basket(self, event: BasketEvent) -> None:
        message = BasketEventMessage.from_event(event)
        if not self._record("basket", event.kind, event.event_id, event.t, message.model_dump()):
            return  # replayed batch: this event was handled before
        self.baskets.apply(event)
        self.stats["basket_events"] += 1
        self.mqtt.publish(
            self.topics.gateway_events(self.config.gateway.gateway_id, "basket"), encode(message), qos=1
        )
        if self.displays is not None:
            for conversion in self.displays.on_basket(event):
                log.info(
                    "conversion: shopper %s picked offered %s", conversion.shopper, conversion.product_id
                )
                if self.offers is not None:  # its campaign discount is redeemed (money budgets)
                    self.offers.engine.redeem(conversion.offer_id, conversion.t)
        if self.offers is not None and event.shopper is not None and event.kind == "pick":
            with telemetry.DECISION.time():
                offer, record = self.offers.decide(
                    event, self.baskets.of(event.shopper), self.presence.consents(event.shopper, "offers")
                )
            if record is not None:
                if self.presence.consents(event.shopper, "analytics"):
                    record_decision(self.store, record)
                summary = DecisionEventMessage(
                    decision_id=record.decision_id,
                    shopper=record.shopper,
                    outcome=record.outcome,
                    variant=record.variant,
                    chosen=record.chosen,
                )
                topic = self.topics.gateway_events(self.config.gateway.gateway_id, "decision")
                self.mqtt.publish(topic, encode(summary))
            if offer is not None and record is not None and record.outcome == "held-out":
                self.on_held_out(offer)
            elif offer is not None:
                self.on_offer(offer)

    def on_held_out(self, offer: Offer) -> None:
        """A held-out shopper's decision: an exposure the publisher records and follows to
        conversions exactly like a shown offer, but never shows."""
        if self.displays is not None:
            self.displays.publish(offer)
        log.info("offer %s held out (%s) for shopper %s", offer.offer_id, offer.variant, offer.shopper)

    def on_offer(self, offer: Offer) -> None:
        self.stats["offers"] += 1
        message = OfferMessage.from_offer(offer)
        self._record("offer", "offer", offer.offer_id, offer.t, message.model_dump())
        if self.displays is not None:
            self.displays.publish(offer)
        self.mqtt.publish(
            self.topics.gateway_events(self.config.gateway.gateway_id, "offer"), encode(message), qos=1
        )
        log.info(
            "offer %s -> display %s: %s for shopper %s",
            offer.offer_id,
            offer.display,
            offer.name,
            offer.shopper,
        )

    def on_interaction(self, interaction: LaneInteraction) -> None:
        """A camera saw a hand in a lane; kept for the weight join and stored (no frame, no person)."""
        payload = {**asdict(interaction), "shelf": str(interaction.shelf)}
        event_id = f"li-{interaction.camera}-{interaction.plate}-{interaction.t_start:.3f}"
        self._record("vision", interaction.kind, event_id, interaction.t_end, payload)

    def on_presence(self, event: PresenceEvent) -> None:
        self.stats["presence_events"] += 1
        message = PresenceEventMessage.from_event(event)
        event_id = f"pe-{event.shopper}-{event.shelf.gondola}-{event.shelf.shelf}-{event.kind}-{event.t:.3f}"
        self._record("presence", event.kind, event_id, event.t, message.model_dump())
        self.mqtt.publish(
            self.topics.gateway_events(self.config.gateway.gateway_id, "presence"), encode(message)
        )
        log.info("shopper %s %s at %s", event.shopper, event.kind, event.shelf)
        if event.kind == "departure":
            if self.displays is not None:
                self.displays.withdraw_for(event.shopper, event.t)
            if event.shopper not in self.presence.tracker.shoppers():
                self.forget_basket(event.shopper, event.t)

    def forget_basket(self, shopper: str, t: float) -> None:
        """The shopper left the store: their basket is dropped, and that is logged (stream
        ``basket-end``), so a basket can be rebuilt from the basket stream as the daemon held it."""
        self.baskets.forget(shopper)
        self._record(BASKET_END, "departure", f"bx-{shopper}-{t:.3f}", t, {"shopper": shopper, "t": t})

    def log_start(self) -> None:
        """Log that this daemon starts with no basket (stream ``basket-end``, kind ``start``, no
        shopper): baskets are held in memory, so whatever an earlier run held is gone, and a basket
        rebuilt from the streams must drop it here too."""
        t = self.clock()
        self._record(BASKET_END, "start", f"bx-start-{t:.6f}", t, {"shopper": None, "t": t})

    def product_name(self, product_id: str) -> str | None:
        """The name the dashboard shows for a product: the offer catalogue's, else the planogram's."""
        product = self.offers.engine.catalogue.get(product_id) if self.offers is not None else None
        placed = self.sensing.planogram.products.get(product_id)
        return product.name if product is not None else placed.name if placed is not None else None

    @property
    def db(self) -> sqlite_utils.Database:
        """The gateway database (a new connection after the store brought a deleted file back)."""
        return self.store.db

    def on_check_in(self, check_in: CheckIn) -> str | None:
        """A check-in the backend relayed: verified, it makes the shopper present in the store."""
        shopper = self.presence.check_in(check_in, self.clock())
        if shopper is None:
            log.info("relayed check-in refused (token, tag, time or nonce)")
            return None
        t = check_in.t_ms / 1000.0
        self._record("check-in", "check-in", f"ci-{check_in.nonce.hex()}", t, {"shopper": shopper, "t": t})
        log.info("shopper %s checked in (iOS app in the background)", shopper)
        return shopper

    def tick(self) -> None:
        now = self.clock()
        if self.displays is not None:
            self.displays.expire(now)
        self.store.maintain(now)
        self.notifier.status(self._status_line())

    def _status_line(self) -> str:
        """The one line ``systemctl status`` shows."""
        store = self.store.health()
        if not store["ok"]:
            return f"database {store['reason']}: {store['held']} events held in memory, {store['dropped']} dropped"
        mqtt = "connected" if self.mqtt.connected.is_set() else "broker lost"
        return f"running: MQTT {mqtt}, {self.stats['basket_events']} basket events, {self.stats['offers']} offers"

    def _record(self, stream: str, kind: str, event_id: str, t: float, payload: dict[str, Any]) -> bool:
        """Store an event with its outbox row; False when this id was stored before (a replay).

        Without the shopper's analytics consent the event is stored without the shopper, or not at
        all (edge/presence/consent.py)."""
        allowed = analytics_view(stream, payload, lambda s: self.presence.consents(s, "analytics"))
        if allowed is None:
            return True
        return self.store.append(stream, kind, event_id, t, allowed)

    # ------------------------------------------------------------------ lifecycle
    async def run(self, stop: asyncio.Event) -> None:
        self.log_start()
        loop = asyncio.get_running_loop()
        self.mqtt.attach_loop(loop)
        self.mqtt.subscribe(self.topics.all_samples(), self.on_samples, qos=0)
        if self.displays is not None:
            self.displays.start()
        self.mqtt.start()
        tasks = [
            asyncio.create_task(self._ticker(stop), name="tick"),
            asyncio.create_task(
                run_sync(
                    self.config,
                    stop,
                    db_path=self.db_path,
                    on_update=self._update_from_sync(loop),
                    releases=self.releases,  # type: ignore[arg-type]
                ),
                name="sync",
            ),
        ]
        tasks.append(
            asyncio.create_task(
                run_check_ins(
                    self.config,
                    stop,
                    lambda c: loop.call_soon_threadsafe(self.on_check_in, c),
                    db_path=self.db_path,
                ),
                name="check-ins",
            )
        )
        dashboard = None
        if self.config.web.enabled:
            from edge.web.server import start_dashboard

            dashboard = start_dashboard(
                self.config,
                mqtt=self.mqtt,
                extra_state=lambda: {"daemon": dict(self.stats), "store": self.store.health()},
                product_name=self.product_name,
                health=lambda: {"store": self.store.health()},
            )
        tasks.append(asyncio.create_task(self.presence.run(), name="presence"))
        if self.vision.stages:
            tasks.append(asyncio.create_task(self.vision.run(self.on_interaction), name="vision"))
        log.info(
            "gateway %s of store %s running (%d displays, offers %s)",
            self.config.gateway.gateway_id,
            self.config.gateway.store_id,
            len(self.config.displays),
            "on" if self.offers else "off",
        )
        self.notifier.ready(self._status_line())
        try:
            await stop.wait()
        finally:
            self.notifier.stopping()
            self.vision.stop()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if dashboard is not None:
                dashboard.stop()
            self.mqtt.stop()
            self.store.close()
            self.notifier.close()
            log.info("gateway stopped: %s", ", ".join(f"{k}={v}" for k, v in self.stats.items()))

    def _update_from_sync(self, loop: asyncio.AbstractEventLoop) -> Callable[[str, Path], None]:
        """Sync pulls in a worker thread; what it pulled is applied on the event loop, between events."""

        def on_update(kind: str, path: Path) -> None:
            loop.call_soon_threadsafe(apply_update, self, kind, path)

        return on_update

    async def _ticker(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.tick()
            except Exception:  # a bug in one tick must not stop offer expiry for the rest of the run
                log.exception("tick failed")
            self.notifier.watchdog()  # from the event loop: a hung loop stops the pings
            await asyncio.sleep(0.5)


def held_spill_file(configured: Path | None) -> Path | None:
    """Where held events survive a restart: ``database.held_spill_dir``, else systemd's RuntimeDirectory."""
    runtime = os.environ.get("RUNTIME_DIRECTORY", "").split(":")[0]
    directory = configured or (Path(runtime) if runtime else None)
    return directory / "held-events.jsonl" if directory else None


# ---------------------------------------------------------------------- command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="gateway TOML configuration")


def run(args: argparse.Namespace) -> int:
    config = load_service_config(args.config, "edge")
    if config is None:
        return 2
    try:
        gateway = Gateway(config)
    except EdgeError as exc:
        log.error("cannot start: %s", exc)
        return 1
    except OSError as exc:  # the data directory or database cannot be made (a check passed as root)
        log.error("cannot start: %s (gateway.data_dir = %s)", exc, config.gateway.data_dir)
        return 1

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await gateway.run(stop)

    asyncio.run(main())
    return 0


__all__ = ["Gateway", "add_arguments", "run"]
