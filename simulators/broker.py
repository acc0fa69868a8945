"""A private Mosquitto broker on a free port, for tests, benchmarks and ``shelf-sim demo``.

It is the real Debian ``mosquitto`` binary with a generated configuration (no persistence, anonymous
access on loopback only, optional WebSockets listener). ``stop()`` and ``start()`` keep the same
ports, so a test can restart the broker under a running daemon.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from edge.ports import free_port as free_port  # re-exported: callers import it from here


def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError("mosquitto not found: run `make env` (it installs the Debian package)")


class MosquittoBroker:
    """Runs ``mosquitto -c <generated conf>`` on 127.0.0.1; use as a context manager."""

    def __init__(
        self, port: int | None = None, websockets_port: int | None = None, extra_conf: str = ""
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.websockets_port = websockets_port
        self._dir = Path(tempfile.mkdtemp(prefix="mosquitto-"))
        self.log_path = self._dir / "mosquitto.log"
        self.conf_path = self._dir / "mosquitto.conf"
        lines = [
            "per_listener_settings false",
            "allow_anonymous true",
            "persistence false",
            f"log_dest file {self.log_path}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",
            f"listener {self.port} 127.0.0.1",
            "protocol mqtt",
        ]
        if websockets_port:
            lines += [f"listener {websockets_port} 127.0.0.1", "protocol websockets"]
        self.conf_path.write_text("\n".join(lines) + "\n" + extra_conf)
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        if self.running:
            return
        self._proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf_path)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                err = self._proc.stderr.read().decode(errors="replace") if self._proc.stderr else ""
                log = self.log_path.read_text() if self.log_path.exists() else ""
                raise RuntimeError(f"mosquitto exited with {self._proc.returncode}: {err}{log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"mosquitto did not listen on port {self.port} within {timeout}s")

    def stop(self) -> None:
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._proc.stderr:
            self._proc.stderr.close()
        self._proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
