"""systemd's service notification protocol (``sd_notify``), for ``Type=notify`` units with a watchdog.

The protocol is one datagram of ``KEY=VALUE`` lines to the unix socket named by ``NOTIFY_SOCKET``
(an abstract socket when it starts with ``@``); see sd_notify(3). The daemons send ``READY=1`` once
they serve, ``WATCHDOG=1`` from their main loop at half the unit's ``WatchdogSec`` (systemd passes it
as ``WATCHDOG_USEC``) so a hung loop gets the service restarted, ``STATUS=...`` for ``systemctl status``
and ``STOPPING=1`` on the way out. Outside systemd (no ``NOTIFY_SOCKET``) every call does nothing.

    notifier = Notifier.from_environment()
    notifier.ready("serving 4 shelves")
    ... in the loop: notifier.watchdog()     # rate-limited to watchdog_interval_s
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("edge.sdnotify")


class Notifier:
    """Sends notifications to systemd; a no-op when the process was not started by a notify unit."""

    def __init__(
        self,
        address: str | None,
        watchdog_usec: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.address = address
        #: Seconds between watchdog pings (half of WatchdogSec), None without a watchdog.
        self.watchdog_interval_s = watchdog_usec / 2e6 if watchdog_usec else None
        self.clock = clock
        self._last_ping = float("-inf")
        self._status: str | None = None
        self._sock: socket.socket | None = None
        if address:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """From ``NOTIFY_SOCKET``, ``WATCHDOG_USEC`` and ``WATCHDOG_PID`` (the watchdog only for our pid)."""
        env = os.environ if environ is None else environ
        usec: int | None = None
        raw, pid = env.get("WATCHDOG_USEC"), env.get("WATCHDOG_PID")
        if raw and raw.isdigit() and (not pid or pid == str(os.getpid())):
            usec = int(raw)
        return cls(env.get("NOTIFY_SOCKET") or None, usec)

    @property
    def enabled(self) -> bool:
        return self._sock is not None

    def send(self, *lines: str) -> bool:
        """Send one notification; False (logged once per failure kind at debug) when it could not go."""
        if self._sock is None or self.address is None:
            return False
        target = "\0" + self.address[1:] if self.address.startswith("@") else self.address
        try:
            self._sock.sendto("\n".join(lines).encode(), target)
        except OSError as exc:
            log.warning("sd_notify to %s failed: %s", self.address, exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        self._last_ping = self.clock()
        lines = ["READY=1", f"MAINPID={os.getpid()}"]
        if status:
            self._status = status
            lines.append(f"STATUS={status}")
        return self.send(*lines)

    def watchdog(self) -> bool:
        """Ping the watchdog if half its interval has passed since the last ping (call it every loop)."""
        if self.watchdog_interval_s is None:
            return False
        now = self.clock()
        if now - self._last_ping < self.watchdog_interval_s:
            return False
        self._last_ping = now
        return self.send("WATCHDOG=1")

    def status(self, text: str) -> bool:
        """Set the one-line status ``systemctl status`` shows (sent only when it changes)."""
        if text == self._status:
            return False
        self._status = text
        return self.send(f"STATUS={text}")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
