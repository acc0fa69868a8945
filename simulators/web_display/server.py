"""Serves the reference web display page (static files) over HTTP.

    with WebDisplayServer() as web:
        url = web.page_url(ws_port=9001, store="store-001", displays=[("1", "2", "d1")])

The page connects to Mosquitto over WebSockets (a ``listener PORT`` + ``protocol websockets`` block;
``MosquittoBroker(websockets_port=...)`` in tests) with the vendored MQTT.js bundle.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Iterable
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

from edge.config import DisplaySection

PAGE_DIR = Path(__file__).parent
VENDORED = PAGE_DIR / "vendor" / "mqtt.min.js"
VENDORED_SHA256 = "f3cbeae580d3010048938ee370f2db0c15d16e6f7fc147cb32ae5510e571b387"  # mqtt 5.16.0


def check_vendored() -> None:
    digest = hashlib.sha256(VENDORED.read_bytes()).hexdigest()
    if digest != VENDORED_SHA256:
        raise RuntimeError(
            f"{VENDORED} has sha256 {digest}, expected {VENDORED_SHA256} (see vendor/README.md)"
        )


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return


class WebDisplayServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        check_vendored()
        handler = functools.partial(_Quiet, directory=str(PAGE_DIR))
        self.httpd = ThreadingHTTPServer((host, port), handler)
        self.httpd.daemon_threads = True
        self.host = host
        self.port = int(self.httpd.server_address[1])
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="web-display", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def page_url(
        self,
        ws_port: int,
        store: str,
        displays: Iterable[DisplaySection],
        ws_host: str = "127.0.0.1",
        mirror: bool = False,
    ) -> str:
        """The page for ``displays``; ``mirror`` shows them without acting as them (no will, acks, state)."""
        specs = ",".join(f"{d.gondola}/{d.shelf}/{d.display_id}" for d in displays)
        params = {"ws": f"ws://{ws_host}:{ws_port}", "store": store, "displays": specs}
        if mirror:
            params["mirror"] = "1"
        query = urlencode(params)
        return f"http://{self.host}:{self.port}/index.html?{query}"

    def __enter__(self) -> WebDisplayServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
