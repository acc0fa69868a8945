"""``shelf-edge``: the gateway daemon and the technicians' tools."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command("run", "edge.app", "Run the gateway daemon."),
    Command("validate-config", "edge.config_cli", "Check a configuration file; name every bad key."),
    Command("replay", "edge.sensing.replay", "Detect weight events in a recorded log (AiFi CSV layout)."),
    Command("schemas", "edge.mqtt.schema_cli", "Write the JSON schemas of every MQTT payload."),
    Command(
        "install", "edge.ops.install", "Install or upgrade this gateway (units, broker TLS + ACL, certs)."
    ),
    Command(
        "doctor", "edge.ops.doctor", "Check everything the gateway needs; one line per check with a fix."
    ),
    Command("calibrate", "edge.ops.calibrate", "Guided tare + span calibration of a shelf's plates."),
    Command("provision", "edge.ops.provision", "Register this gateway with the backend (enrollment code)."),
    Command(
        "dashboard", "edge.web.cli", "Serve the technician dashboard on its own (the daemon normally does)."
    ),
    Command(
        "camera-check",
        "edge.vision.check_cli",
        "Open a camera: fps, drops, lanes, interactions; replay a file.",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands("shelf-edge", "Smart-shelf gateway daemon and technician tools.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
