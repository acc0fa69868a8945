"""``shelf-sim``: the virtual store for developers and tests."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command("demo", "simulators.demo", "Run a whole simulated store end to end and narrate it."),
    Command(
        "score-sensing",
        "simulators.shelves.score",
        "Score weight-event detection (ours and the AIM3S baseline) on simulated scenarios.",
    ),
    Command(
        "soak",
        "simulators.soak",
        "Faults (backend down, broker restart, SIGKILL) then check exactly-once and no stale offer.",
    ),
    Command(
        "backend", "simulators.backend.cli", "Run the real central service with simulated faults in front."
    ),
    Command(
        "web-display", "simulators.web_display.cli", "Serve the reference web display page for some displays."
    ),
    Command(
        "score-vision",
        "simulators.camera.score",
        "Score weight alone, camera alone and fused on camera scenarios with ground truth.",
    ),
    Command(
        "phones",
        "simulators.phones_cli",
        "Play a presence scenario in real time via MQTT receivers or the BlueZ stand-in.",
    ),
    Command(
        "score-presence",
        "simulators.phones_score",
        "Score BLE presence on store scenarios: shelf accuracy at picks, departure delay, privacy.",
    ),
    Command(
        "render-crops",
        "simulators.camera.crops",
        "Render lane crops of the simulated camera as training files for shelf-models train-picks.",
    ),
    Command(
        "field-labels",
        "simulators.camera.field",
        "A simulated store's gateway collecting field labels (weight events label lane crops).",
    ),
    Command(
        "camera",
        "simulators.camera.serve",
        "Serve a simulated shelf camera as HTTP MJPEG (or write a video).",
    ),
    Command(
        "uplift-events",
        "simulators.uplift.events_cli",
        "Simulate a chain for weeks (real offer engine, known response) and write the central export.",
    ),
    Command(
        "uplift-study",
        "simulators.uplift.cli",
        "Check the uplift report and simulate-policy against the simulator's truth over many seeds.",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands(
        "shelf-sim", "Simulated smart-shelf store: shelves, phones, displays, backend.", COMMANDS, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
