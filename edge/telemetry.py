"""The daemon's own counters and latency histograms for ``/metrics`` (Prometheus).

Adapters (MQTT ingest, the store writer, the display publisher, the sync relay) count what they
refuse, drop or hold here; the dashboard's ``/metrics`` exposes :data:`REGISTRY` next to the live
state (plates, shelves, presence) and the process collector. Cores never import this module: they
return what happened and the adapter that called them counts it.

Counters are process-wide, as Prometheus expects; a test reads a delta (value after minus before)
with :func:`value`. Nothing here carries a shopper id or a device address: labels are shelf ids,
topic kinds and fixed reason words.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

PREFIX = "smartshelf"
REGISTRY = CollectorRegistry(auto_describe=True)

# Latency buckets in seconds: 0.5 ms .. 10 s covers a decision (sub-ms), an ack (ms) and a pick (s).
_LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

SAMPLES_REFUSED = Counter(
    f"{PREFIX}_samples_refused",
    "Shelf sample batches refused at the MQTT door, by reason (malformed, far_from_clock, ...).",
    ["shelf", "reason"],
    registry=REGISTRY,
)
PAYLOADS_REFUSED = Counter(
    f"{PREFIX}_mqtt_payloads_refused",
    "MQTT messages refused by payload validation, by topic kind and reason.",
    ["kind", "reason"],
    registry=REGISTRY,
)
HANDLER_ERRORS = Counter(
    f"{PREFIX}_handler_errors",
    "Exceptions raised by a message or tick handler (logged; the daemon keeps running).",
    ["handler"],
    registry=REGISTRY,
)
MALFORMED_SIGHTINGS = Counter(
    f"{PREFIX}_malformed_sightings",
    "Remote BLE receiver messages dropped as malformed.",
    registry=REGISTRY,
)
DEAD_LETTERS = Counter(
    f"{PREFIX}_dead_letters",
    "Outbox events the backend rejected for good (kept locally as dead letters).",
    registry=REGISTRY,
)
ACKS_REFUSED = Counter(
    f"{PREFIX}_display_acks_refused",
    "Display acknowledgements refused (too large, unknown offer, display not the topic's, malformed).",
    ["reason"],
    registry=REGISTRY,
)
STORE_WRITE_FAILURES = Counter(
    f"{PREFIX}_store_write_failures",
    "Event writes the database could not take (disk full, file deleted, I/O error), by reason.",
    ["reason"],
    registry=REGISTRY,
)
STORE_HELD_EVENTS = Gauge(
    f"{PREFIX}_store_held_events",
    "Events held in memory because the database cannot take them now; written when it can.",
    registry=REGISTRY,
)
STORE_HELD_DROPPED = Counter(
    f"{PREFIX}_store_held_dropped",
    "Held events dropped because the in-memory hold was full (the disk stayed unwritable too long).",
    registry=REGISTRY,
)
SAMPLE_TO_EVENT = Histogram(
    f"{PREFIX}_sample_to_event_seconds",
    "From the last sample of a weight change (sample time) to the weight event leaving the detector "
    "(gateway clock).",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
DECISION = Histogram(
    f"{PREFIX}_decision_seconds",
    "One offer decision (model call, rules, record), measured around the engine call.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
OFFER_TO_ACK = Histogram(
    f"{PREFIX}_offer_to_ack_seconds",
    "From publishing an offer to the display's acknowledgement.",
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)


def value(metric: Counter | Gauge, **labels: str) -> float:
    """The current value of a counter or gauge (one label set), for tests and health checks."""
    name = metric._name  # prometheus_client keeps the base name here
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name in (name, f"{name}_total") and all(
                sample.labels.get(k) == v for k, v in labels.items()
            ):
                return float(sample.value)
    return 0.0
