"""``shelf-sim web-display``: serve the reference display page and print its URL."""

from __future__ import annotations

import argparse
import contextlib
import threading

from edge.config import DisplaySection, load_config
from simulators.web_display.server import WebDisplayServer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="gateway TOML: show every display of its [[displays]] and its store")
    parser.add_argument("--store", default="store-001", help="store id when no --config is given")
    parser.add_argument(
        "--display", action="append", default=[], metavar="G/S/ID", help="a display, e.g. 1/2/d1 (repeatable)"
    )
    parser.add_argument(
        "--ws-port", type=int, default=9001, help="Mosquitto WebSockets port (default: %(default)s)"
    )
    parser.add_argument("--ws-host", default="127.0.0.1", help="Mosquitto host as the browser sees it")
    parser.add_argument("--port", type=int, default=8781, help="HTTP port of the page (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    store = args.store
    displays: list[DisplaySection] = []
    if args.config:
        config = load_config(args.config)
        store = config.gateway.store_id
        displays = [d for d in config.displays if d.transport == "mqtt"]
    for spec in args.display:
        g, s, ident = spec.split("/")
        displays.append(DisplaySection(display_id=ident, gondola=int(g), shelf=int(s)))
    if not displays:
        print("no displays: give --config or --display G/S/ID")
        return 2
    with WebDisplayServer(port=args.port) as web:
        print(web.page_url(args.ws_port, store, displays, ws_host=args.ws_host), flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
    return 0
