"""``shelf-edge dashboard``: serve the technician dashboard on its own (normally the daemon serves it).

Useful when the daemon is stopped or during a demo: it reads the same MQTT topics and files.
``shelf-edge dashboard --hash-password`` prints the hashed form of a password for ``[web] password``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from edge.service_cli import load_service_config, wait_for_stop_signal


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=Path("/etc/smartshelf/edge.toml"), help="Gateway configuration file."
    )
    parser.add_argument("--port", type=int, help="Override web.port.")
    parser.add_argument(
        "--hash-password",
        action="store_true",
        help="Read a password (typed, or one line on stdin) and print the [web] password line with its "
        "scrypt hash to put in the config; serves nothing.",
    )


def hash_password_line() -> int:
    from edge.web.passwords import hash_password

    if sys.stdin.isatty():
        password = getpass.getpass("dashboard password: ")
        if getpass.getpass("again: ") != password:
            print("error: the two passwords differ", file=sys.stderr)
            return 1
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if len(password) < 10:
        print("error: use a password of 10 or more characters", file=sys.stderr)
        return 1
    print("# [web] section of /etc/smartshelf/edge.toml:")
    print(f'password = "{hash_password(password)}"')
    return 0


def run(args: argparse.Namespace) -> int:
    if args.hash_password:
        return hash_password_line()
    from edge.web.server import start_dashboard

    config = load_service_config(args.config)
    if config is None:
        return 2
    if args.port is not None:
        config = config.model_copy(update={"web": config.web.model_copy(update={"port": args.port})})
    handle = start_dashboard(config)
    print(f"dashboard on {handle.url} (Ctrl-C stops it)", flush=True)
    wait_for_stop_signal()
    handle.stop()
    return 0
