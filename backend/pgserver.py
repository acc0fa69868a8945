"""A private PostgreSQL cluster (initdb + pg_ctl) on a free port in a temporary directory.

For the tests, the benchmark and ``shelf-sim demo --database postgres``; never the machine's own
cluster. Uses the Debian server binaries (/usr/lib/postgresql/<version>/bin; ``make`` installs the
``postgresql`` package when missing). PostgreSQL refuses to run as root: when we are root, the
cluster runs as the ``postgres`` system user (its directory is handed to that user).

    with PostgresServer() as pg:
        pg.url  # postgresql://postgres@127.0.0.1:PORT/postgres
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from edge.ports import free_port as free_port  # re-exported: callers import it from here


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL server binaries are missing or the cluster would not start; says how to fix it."""


def postgres_bin_dir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not found:
        raise PostgresUnavailable(
            "PostgreSQL server binaries not found: run `make env` (installs `postgresql`)"
        )
    return found[-1].parent


class PostgresServer:
    """One throw-away cluster; ``durable=False`` (tests, bench baseline) turns fsync off."""

    def __init__(self, port: int | None = None, *, durable: bool = True, database: str = "shelf") -> None:
        self.bin = postgres_bin_dir()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.database = database
        self.durable = durable
        self.root = Path(tempfile.mkdtemp(prefix="shelf-pg-"))
        self.data = self.root / "data"
        self.log_path = self.root / "postgres.log"
        self._user: str | None = "postgres" if os.geteuid() == 0 else None
        self._initialised = False

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{self.host}:{self.port}/{self.database}"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.bin / args[0]), *args[1:]]
        if self._user:
            command = ["runuser", "-u", self._user, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def _check(self, what: str, done: subprocess.CompletedProcess[str]) -> None:
        if done.returncode != 0:
            log = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
            raise PostgresUnavailable(f"{what} failed ({done.returncode}): {done.stderr.strip()} {log}")

    def start(self) -> None:
        if not self._initialised:
            if self._user:
                entry = pwd.getpwnam(self._user)
                os.chown(self.root, entry.pw_uid, entry.pw_gid)
            self._check(
                "initdb",
                self._run(
                    "initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"
                ),
            )
            self._initialised = True
        options = f"-p {self.port} -k {self.root} -c listen_addresses={self.host} -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._check(
            "pg_ctl start",
            self._run(
                "pg_ctl",
                "-D",
                str(self.data),
                "-l",
                str(self.log_path),
                "-w",
                "-t",
                "60",
                "-o",
                options,
                "start",
            ),
        )
        created = self._run(
            "psql",
            "-h",
            self.host,
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-tAc",
            f"SELECT 1 FROM pg_database WHERE datname = '{self.database}'",
        )
        self._check("psql", created)
        if created.stdout.strip() != "1":
            self._check(
                "createdb",
                self._run("createdb", "-h", self.host, "-p", str(self.port), "-U", "postgres", self.database),
            )

    def stop(self) -> None:
        if self._initialised and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def close(self) -> None:
        self.stop()
        with contextlib.suppress(OSError):
            shutil.rmtree(self.root)

    def __enter__(self) -> PostgresServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
