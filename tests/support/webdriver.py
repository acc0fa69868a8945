"""A small W3C WebDriver client (requests) for the Debian chromium + chromedriver, headless.

Used by browser tests; no selenium needed. Each :class:`Chromium` runs its own chromedriver on a
free port with a fresh user-data-dir and the flags that work in a container.
"""

from __future__ import annotations

import base64
import contextlib
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

from simulators.broker import free_port

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1200,800",
]


def available() -> bool:
    return Path("/usr/bin/chromium").exists() and shutil.which("chromedriver") is not None


class Chromium:
    def __init__(self) -> None:
        self.port = free_port()
        self.profile = Path(tempfile.mkdtemp(prefix="chromium-"))
        self.driver = subprocess.Popen(
            [shutil.which("chromedriver") or "chromedriver", f"--port={self.port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 15
        while True:
            try:
                if requests.get(f"{self.base}/status", timeout=1).json()["value"]["ready"]:
                    break
            except (requests.RequestException, ValueError, KeyError):
                pass  # not up yet: ask again
            if time.monotonic() > deadline or self.driver.poll() is not None:
                self.close()
                raise RuntimeError("chromedriver did not start")
            time.sleep(0.05)
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": "/usr/bin/chromium",
                        "args": [*FLAGS, f"--user-data-dir={self.profile}"],
                    },
                }
            }
        }
        answer = requests.post(f"{self.base}/session", json=caps, timeout=60).json()["value"]
        if "sessionId" not in answer:
            self.close()
            raise RuntimeError(f"chromium session failed: {answer}")
        self.session = f"{self.base}/session/{answer['sessionId']}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        response = requests.request(method, f"{self.session}{path}", json=body, timeout=30)
        value = response.json()["value"]
        if response.status_code != 200:
            raise RuntimeError(f"webdriver {path}: {value}")
        return value

    def get(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def js(self, script: str, *args: Any) -> Any:
        return self._call("POST", "/execute/sync", {"script": script, "args": list(args)})

    def screenshot(self) -> bytes:
        return base64.b64decode(self._call("GET", "/screenshot"))

    def click(self, css: str) -> None:
        element = self._call("POST", "/element", {"using": "css selector", "value": css})
        element_id = next(iter(element.values()))
        self._call("POST", f"/element/{element_id}/click", {})

    def close(self) -> None:
        if hasattr(self, "session"):
            with contextlib.suppress(requests.RequestException):
                requests.delete(self.session, timeout=10)
        self.driver.terminate()
        try:
            self.driver.wait(10)
        except subprocess.TimeoutExpired:
            self.driver.kill()
            self.driver.wait()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
