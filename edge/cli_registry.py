"""Explicit registry of sub-commands shared by the four console commands.

Each sub-command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Only the chosen sub-command's module is imported, so ``shelf-edge validate-config`` does not pay for
onnxruntime or OpenCV.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Command:
    name: str
    module: str
    help: str


def _load(command: Command, sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    module = importlib.import_module(command.module)
    parser = sub.add_parser(command.name, help=command.help, description=command.help)
    module.add_arguments(parser)
    parser.set_defaults(_run=module.run)


def run_commands(prog: str, description: str, commands: Sequence[Command], argv: Sequence[str] | None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog=prog, description=description)
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")
    chosen = next((c for c in commands if args_list and c.name == args_list[0]), None)
    if chosen is None:
        for command in commands:
            sub.add_parser(command.name, help=command.help)
        if not args_list:
            parser.print_help()
            return 2
        parser.parse_args(args_list)  # prints help or a clear 'invalid choice' error
        return 2
    _load(chosen, sub)
    args = parser.parse_args(args_list)
    try:
        return int(args._run(args) or 0)
    except KeyboardInterrupt:
        return 130
