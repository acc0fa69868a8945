"""A free TCP port on the loopback interface, for servers started on demand (the simulated store's
broker, camera streams, a throw-away PostgreSQL, the tests' HTTP servers).

The port is free when this returns; the caller binds it right after. Outside pytest-xdist the
kernel picks it (bind to port 0). Where several processes hand out ports at once — pytest-xdist
workers, which set ``PYTEST_XDIST_WORKER`` (``gw0``, ``gw1``, ...) and ``PYTEST_XDIST_WORKER_COUNT``
— each tries random ports of its own residue modulo the worker count in ``SHARED_RANGE`` (below
Linux's default ephemeral range, so outgoing connections do not take them either), so two workers
never hand out the same port between one's check and its bind. (Filtering the kernel's own picks by
residue does not work: Linux gives bind-to-0 ports of one parity.)
"""

from __future__ import annotations

import os
import random
import socket
from collections.abc import Mapping

ATTEMPTS = 2000
SHARED_RANGE = (20_000, 32_000)


class NoFreePort(RuntimeError):
    """No free port of this process's share was found in ``ATTEMPTS`` tries."""


def port_share(environ: Mapping[str, str] = os.environ) -> tuple[int, int]:
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
    if count == 1:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    low, high = SHARED_RANGE
    choose = random.SystemRandom()
    for _ in range(ATTEMPTS):
        port = choose.randrange(low - low % count + index, high, count)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise NoFreePort(f"no free port with port % {count} == {index} in {low}-{high} after {ATTEMPTS} tries")
