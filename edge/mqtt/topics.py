"""The MQTT topic scheme. Every topic of the system is built here and nowhere else.

Addressing follows the store: ``smartshelf/{store}/{gondola}/{shelf}/...`` for everything that
belongs to a shelf (plates are numbered inside sample payloads), and
``smartshelf/{store}/{role}/{id}/...`` for gateways, bridges and BLE receivers.
See edge/mqtt/README.md for the table and the payload schemas.
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "smartshelf"


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic builder for one store."""

    store: str

    # --- shelves (bridge -> gateway, gateway -> bridge)
    def samples(self, gondola: int, shelf: int) -> str:
        return f"{ROOT}/{self.store}/{gondola}/{shelf}/samples"

    def all_samples(self) -> str:
        return f"{ROOT}/{self.store}/+/+/samples"

    def shelf_status(self, gondola: int, shelf: int) -> str:
        return f"{ROOT}/{self.store}/{gondola}/{shelf}/status"

    def shelf_set(self, gondola: int, shelf: int) -> str:
        return f"{ROOT}/{self.store}/{gondola}/{shelf}/set"

    def shelf_reply(self, gondola: int, shelf: int) -> str:
        return f"{ROOT}/{self.store}/{gondola}/{shelf}/reply"

    # --- displays
    def display(self, gondola: int, shelf: int, display: str, leaf: str) -> str:
        return f"{ROOT}/{self.store}/{gondola}/{shelf}/display/{display}/{leaf}"

    def display_offer(self, gondola: int, shelf: int, display: str) -> str:
        return self.display(gondola, shelf, display, "offer")

    def all_display(self, leaf: str) -> str:
        return f"{ROOT}/{self.store}/+/+/display/+/{leaf}"

    # --- gateway, bridge, receivers
    def availability(self, role: str, ident: str) -> str:
        return f"{ROOT}/{self.store}/{role}/{ident}/availability"

    def gateway_events(self, gateway: str, kind: str) -> str:
        return f"{ROOT}/{self.store}/gateway/{gateway}/events/{kind}"

    def all_gateway_events(self) -> str:
        return f"{ROOT}/{self.store}/gateway/+/events/+"

    def ble_sightings(self, receiver: str) -> str:
        return f"{ROOT}/{self.store}/ble/{receiver}/sightings"

    def all_ble_sightings(self) -> str:
        return f"{ROOT}/{self.store}/ble/+/sightings"


def parse_shelf_topic(topic: str) -> tuple[str, int, int, str]:
    """Split ``smartshelf/{store}/{gondola}/{shelf}/{leaf...}`` into (store, gondola, shelf, leaf)."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != ROOT or not parts[2].isdigit() or not parts[3].isdigit():
        raise ValueError(f"not a shelf topic: {topic!r}")
    return parts[1], int(parts[2]), int(parts[3]), "/".join(parts[4:])


def parse_display_topic(topic: str) -> tuple[str, int, int, str, str]:
    """Split a display topic into (store, gondola, shelf, display, leaf)."""
    store, gondola, shelf, rest = parse_shelf_topic(topic)
    parts = rest.split("/")
    if len(parts) != 3 or parts[0] != "display":
        raise ValueError(f"not a display topic: {topic!r}")
    return store, gondola, shelf, parts[1], parts[2]
