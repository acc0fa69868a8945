"""``shelf-sim``: the virtual store for developers and tests."""

from __future__ import annotations

from collections.abc import Sequence

from edge.cli_registry import Command, run_commands

COMMANDS: tuple[Command, ...] = (
    Command("demo", "simulators.demo", "Run a whole simulated store end to end and narrate it."),
)


def main(argv: Sequence[str] | None = None) -> int:
    return run_commands(
        "shelf-sim", "Simulated smart-shelf store: shelves, phones, displays, backend.", COMMANDS, argv
    )


if __name__ == "__main__":
    raise SystemExit(main())
