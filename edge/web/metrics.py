"""Prometheus metrics, computed from the dashboard state at each scrape (no shopper data)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

PREFIX = "smartshelf"


class LiveCollector(Collector):
    def __init__(self, state: Callable[[], dict[str, Any]]) -> None:
        self.state = state

    def collect(self) -> Iterator[Any]:
        s = self.state()
        gw = s["gateway"]
        info = InfoMetricFamily(f"{PREFIX}_gateway", "Gateway identity and versions.")
        info.add_metric(
            [],
            {
                "store_id": gw["store_id"],
                "gateway_id": gw["gateway_id"],
                "software_version": str(gw["software_version"]),
                "model_version": str(gw.get("model_version") or "none"),
            },
        )
        yield info
        yield GaugeMetricFamily(
            f"{PREFIX}_mqtt_connected",
            "1 while the gateway is connected to the broker.",
            value=1.0 if gw.get("mqtt_connected") else 0.0,
        )
        yield GaugeMetricFamily(
            f"{PREFIX}_uptime_seconds", "Seconds since the dashboard started.", value=gw["uptime_s"]
        )
        if gw.get("sync_backlog") is not None:
            yield GaugeMetricFamily(
                f"{PREFIX}_sync_backlog_events",
                "Outbox events not yet accepted by the backend.",
                value=float(gw["sync_backlog"]),
            )
        yield GaugeMetricFamily(
            f"{PREFIX}_disk_free_bytes",
            "Free bytes on the data directory's disk.",
            value=float(gw["disk_free_bytes"]),
        )
        plates = GaugeMetricFamily(
            f"{PREFIX}_plate_grams",
            "Latest calibrated weight of a plate.",
            labels=["gondola", "shelf", "plate"],
        )
        for p in s["plates"]:
            if p["grams"] is not None:
                plates.add_metric([str(p["gondola"]), str(p["shelf"]), str(p["plate"])], float(p["grams"]))
        yield plates
        connected = GaugeMetricFamily(
            f"{PREFIX}_shelf_connected", "1 while the shelf's serial link is up.", labels=["shelf"]
        )
        shoppers = GaugeMetricFamily(
            f"{PREFIX}_shelf_shoppers",
            "Enrolled shoppers present at the shelf (count only).",
            labels=["shelf"],
        )
        crc = CounterMetricFamily(
            f"{PREFIX}_shelf_crc_errors", "Serial frames dropped for a bad CRC.", labels=["shelf"]
        )
        for shelf in s["shelves"]:
            connected.add_metric([shelf["shelf"]], 1.0 if shelf["connected"] else 0.0)
            shoppers.add_metric([shelf["shelf"]], float(shelf["shoppers"]))
            crc.add_metric([shelf["shelf"]], float(shelf["crc_errors"] or 0))
        yield connected
        yield shoppers
        yield crc
        counters = s["counters"]
        events = CounterMetricFamily(
            f"{PREFIX}_basket_events", "Basket events seen, by kind.", labels=["kind"]
        )
        events.add_metric(["pick"], counters["picks"])
        events.add_metric(["return"], counters["returns"])
        yield events
        yield CounterMetricFamily(
            f"{PREFIX}_unattributed_events",
            "Basket events no shopper could be attributed to.",
            value=counters["unattributed"],
        )
        yield CounterMetricFamily(
            f"{PREFIX}_offers", "Offers published to displays.", value=counters["offers"]
        )
        acks = CounterMetricFamily(
            f"{PREFIX}_display_acks", "Display acknowledgements, by status.", labels=["status"]
        )
        for status in ("shown", "impression", "expired", "withdrawn"):
            acks.add_metric([status], counters[f"acks_{status}"])
        yield acks
        yield CounterMetricFamily(
            f"{PREFIX}_sample_batches",
            "Sample batches received from the bridge.",
            value=counters["sample_batches"],
        )
        yield CounterMetricFamily(
            f"{PREFIX}_malformed_messages",
            "MQTT messages the dashboard could not decode.",
            value=counters["malformed"],
        )
