"""A free TCP port on the loopback interface, for servers started on demand (the simulated store's
broker, camera streams, a throw-away PostgreSQL, the tests' HTTP servers).

The port is free when this returns; the caller binds it right after. Where several processes hand
out ports at once — pytest-xdist workers, which set ``PYTEST_XDIST_WORKER`` (``gw0``, ``gw1``, ...)
and ``PYTEST_XDIST_WORKER_COUNT`` — each takes only ports equal to its index modulo the worker
count, so two workers never hand out the same port between one's check and its bind. Elsewhere
these variables are unset and any free port is taken.
"""

from __future__ import annotations

import os
import socket

ATTEMPTS = 2000


class NoFreePort(RuntimeError):
    """The kernel gave no free port of this process's share in ``ATTEMPTS`` tries."""


def port_share(environ: dict[str, str] | os._Environ[str] = os.environ) -> tuple[int, int]:
    """This process's (index, count) of the port space: (0, 1) outside pytest-xdist."""
    worker = environ.get("PYTEST_XDIST_WORKER", "")
    try:
        count = max(1, int(environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
        index = int(worker[2:]) if worker.startswith("gw") else 0
    except ValueError:
        return 0, 1
    return index % count, count


def free_port(host: str = "127.0.0.1") -> int:
    index, count = port_share()
    for _ in range(ATTEMPTS):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            port = int(s.getsockname()[1])
        if port % count == index:
            return port
    raise NoFreePort(f"no free port with port % {count} == {index} in {ATTEMPTS} tries")
