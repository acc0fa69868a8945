"""The service's settings: ONE class, read from the environment (``SHELF_BACKEND_*``) or a TOML file.

Nothing is built at import: ``shelf-backend`` (or a test) makes a :class:`BackendSettings` and hands
it to :func:`backend.app.create_app`. Bad values are refused with the name of the setting.
"""

from __future__ import annotations

import ipaddress
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "SHELF_BACKEND_"
DEV_SECRET = "development-only-secret"


class SettingsError(ValueError):
    """The settings cannot be used; ``problems`` lists each bad setting with the reason."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class BackendSettings(BaseSettings):
    """Everything the service reads at start-up."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="forbid", frozen=True)

    environment: Literal["development", "production"] = Field(
        "development",
        description="production refuses SQLite and requires TLS or a trusted reverse proxy (see README).",
    )
    database_url: str = Field(
        "sqlite:///var/backend/backend.db",
        description="postgresql://user:pass@host:port/db (production) or sqlite:///path (development).",
    )
    data_dir: Path = Field(
        Path("var/backend/files"), description="Where release files are kept (one file per release file)."
    )
    secret_key: str = Field(
        DEV_SECRET,
        min_length=16,
        description="Derives the gateway tokens handed out at provisioning; required in production.",
    )
    host: str = Field("127.0.0.1", description="Listen address of `shelf-backend serve`.")
    port: int = Field(8780, ge=1, le=65535, description="Listen port of `shelf-backend serve`.")
    workers: int = Field(1, ge=1, le=64, description="uvicorn worker processes (PostgreSQL only).")
    tls_certfile: Path | None = Field(None, description="PEM certificate; TLS is served when set.")
    tls_keyfile: Path | None = Field(None, description="PEM private key of tls_certfile.")
    behind_proxy: bool = Field(
        False,
        description="true when a reverse proxy terminates TLS in front of the service: the X-Forwarded-For "
        "and X-Forwarded-Proto of connections from trusted_proxies are believed.",
    )
    trusted_proxies: tuple[str, ...] = Field(
        ("127.0.0.1", "::1"),
        min_length=1,
        description="Addresses or networks (CIDR) of the reverse proxies whose X-Forwarded-* headers are "
        "believed when behind_proxy; a connection from anywhere else is taken at its own address.",
    )
    max_json_body_bytes: int = Field(
        16 * 1024 * 1024, ge=1024, description="Largest JSON request body (event batches, documents)."
    )
    max_release_file_bytes: int = Field(
        2 * 1024 * 1024 * 1024, ge=1024, description="Largest release file upload (streamed to disk)."
    )
    max_events_per_batch: int = Field(5000, ge=1, le=100_000, description="Most events in one POST.")
    event_retention_days: int | None = Field(
        None, ge=1, description="Raw events older than this are deleted by `shelf-backend purge`; none: kept."
    )
    enrolments_per_minute: int = Field(
        20,
        ge=1,
        le=1_000_000,
        description="Most loyalty enrolments per minute from one client address, all workers together (429 "
        "beyond; behind the proxy, the address the trusted proxy saw).",
    )
    pool_size: int = Field(10, ge=1, le=200, description="Database connections per worker (PostgreSQL).")

    @field_validator("database_url")
    @classmethod
    def _normalise_url(cls, value: str) -> str:
        for prefix in ("postgres://", "postgresql://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value[len(prefix) :]
        if value.startswith(("postgresql+psycopg://", "sqlite://")):
            return value
        raise ValueError("must start with postgresql:// (psycopg 3) or sqlite:///")

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for entry in value:
            try:
                ipaddress.ip_network(entry)
            except ValueError:
                raise ValueError(
                    f"{entry!r} is not an IP address or network (name each proxy; '*' would let any client "
                    "choose its own address)"
                ) from None
        return value

    @model_validator(mode="after")
    def _coherent(self) -> BackendSettings:
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        if self.environment == "production":
            if self.is_sqlite:
                raise ValueError("production needs PostgreSQL (database_url = postgresql://...)")
            if self.tls_certfile is None and not self.behind_proxy:
                raise ValueError("production needs tls_certfile/tls_keyfile or behind_proxy = true")
            if self.secret_key == DEV_SECRET or len(self.secret_key) < 32:
                raise ValueError("production needs its own secret_key (32 characters or more)")
        if self.is_sqlite and self.workers > 1:
            raise ValueError("workers > 1 needs PostgreSQL")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> BackendSettings:
        """Settings from the environment, then the TOML file ``path`` (if any), then ``overrides``."""
        values: dict[str, Any] = {}
        source = "environment"
        if path is not None:
            source = str(path)
            try:
                values = tomllib.loads(path.read_text())
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise SettingsError(source, [str(exc)]) from None
        values.update(overrides)
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = [
                f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
            ]
            raise SettingsError(source, problems) from None
