"""``shelf-models``: build, evaluate and publish the models the gateways run."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command(
        "build", "models.offers.build_cli", "Train the offer model from transactions; write ONNX + manifest."
    ),
    Command(
        "train-picks",
        "models.picks.train_cli",
        "Train the camera picks model on simulator frames (numpy, fixed seed); write ONNX + manifest.",
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands("shelf-models", "Build, evaluate and publish smart-shelf models.", COMMANDS, argv)


if __name__ == "__main__":
    raise SystemExit(main())
