"""``shelf-bridge``: reads shelf controllers over serial and publishes their samples on MQTT."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command("run", "shelf_firmware_bridge.service", "Run the bridge for the shelves in the config file."),
    Command("probe", "shelf_firmware_bridge.probe", "Check one shelf controller on a serial port by hand."),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands(
        "shelf-bridge", "Serial bridge between shelf controllers and the gateway.", COMMANDS, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
