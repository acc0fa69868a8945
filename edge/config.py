"""Gateway configuration: one TOML file, validated by pydantic-settings, overridable from the environment.

Environment overrides use the prefix ``SHELF_EDGE_`` and ``__`` between nested keys, e.g.
``SHELF_EDGE_MQTT__PORT=1884`` or ``SHELF_EDGE_GATEWAY__STORE_ID=store-042``. The environment wins
over the file. Unknown keys, in the file or the environment's nested values, are errors.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from edge.config_camera import CameraSection
from edge.errors import ConfigError, ConfigIssue
from edge.settings_base import Section

ENV_PREFIX = "SHELF_EDGE_"


class GatewaySection(Section):
    # No defaults: a gateway never runs under another store's identity or writes into whatever
    # directory it was started from.
    store_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$",
        description="Store identifier, first level of every topic (required).",
    )
    gateway_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="This gateway's identifier (required)."
    )
    data_dir: Path = Field(
        description="Directory for the SQLite database, model cache and keys (required), e.g. /var/lib/smartshelf."
    )


class TlsSection(Section):
    ca_file: Path = Field(description="CA certificate that signed the broker's certificate.")
    cert_file: Path | None = Field(None, description="Client certificate (mutual TLS).")
    key_file: Path | None = Field(None, description="Private key of the client certificate.")


class MqttSection(Section):
    host: str = Field("127.0.0.1", description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    keepalive_s: int = Field(
        15, ge=5, le=600, description="MQTT keepalive; the broker declares us dead after 1.5x."
    )
    username: str | None = Field(None, description="User name, when the broker requires one.")
    password: str | None = Field(None, description="Password, when the broker requires one.")
    tls: TlsSection | None = Field(None, description="TLS settings; plain TCP when absent.")
    reconnect_min_s: float = Field(0.5, gt=0, description="First reconnect delay after the broker is lost.")
    reconnect_max_s: float = Field(10.0, gt=0, description="Longest delay between reconnect attempts.")


class LoggingSection(Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Lowest level written.")
    format: Literal["json", "console"] = Field(
        "console", description="'json' writes one JSON object per line (for journald / log shippers)."
    )


class ShelfPortSection(Section):
    port: str = Field(description="Serial device of the shelf controller, e.g. /dev/ttyUSB0 or a pty path.")
    gondola: int = Field(ge=0, description="Gondola number of this shelf.")
    shelf: int = Field(ge=0, description="Shelf number within the gondola (0 = bottom).")
    baudrate: int = Field(921600, description="Serial line speed.")


class BridgeSection(Section):
    bridge_id: str = Field(
        "bridge-1", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Identifier of this bridge."
    )
    shelves: list[ShelfPortSection] = Field(
        default_factory=list, description="Serial shelf controllers to read."
    )
    batch_samples: int = Field(
        6, ge=1, le=120, description="Samples per MQTT batch (6 at 60 Hz = 10 messages/s)."
    )
    calibration_db: Path | None = Field(
        None, description="SQLite file of per-plate calibration; gateway.data_dir/bridge.db when absent."
    )
    reopen_s: float = Field(
        0.5, gt=0, le=60, description="Seconds between attempts to reopen a vanished serial port."
    )
    status_interval_s: float = Field(
        5.0, gt=0, le=3600, description="Seconds between retained status messages per shelf."
    )
    command_timeout_s: float = Field(
        3.0, gt=0, le=60, description="Seconds to wait for a shelf controller to answer a command."
    )


class SensingSection(Section):
    planogram: Path | None = Field(
        None,
        description="Planogram CSV (product_id,name,gondola,shelf,plate,unit_weight_g,price); synced when absent.",
    )
    max_samples_ahead_s: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="A sample batch stamped further ahead of the gateway's clock is refused (logged, "
        "counted on /metrics): one would make the shelf's detector wait for that moment.",
    )
    max_samples_behind_s: float = Field(
        60.0,
        gt=0,
        le=86400,
        description="A sample batch older than this by the gateway's clock is refused (logged, counted).",
    )
    # Detector parameters (edge/sensing/README.md explains each; defaults from REFERENCE.md section 1)
    active_floor_g: float = Field(
        3.0,
        gt=0,
        description="A plate is active when its 3-sample mean leaves its baseline by more "
        "than this many grams (or active_k x its noise, whichever is larger).",
    )
    active_k: float = Field(4.0, gt=0, description="Activity threshold in multiples of the plate's noise.")
    settle_window_s: float = Field(
        0.8, gt=0, description="Seconds every plate of an event must be still before the event is decided."
    )
    settle_floor_g: float = Field(
        1.5, gt=0, description="A plate is still when its std over the settle window is under this (g)."
    )
    plate_min_g: float = Field(
        4.0, gt=0, description="A plate whose settled change is under this (g) did not take part."
    )
    min_event_g: float = Field(10.0, gt=0, description="Smallest change (g) reported as a pick or return.")
    confirm_unknown_s: float = Field(
        3.0, ge=0, description="A change no product explains must hold this long before it is reported."
    )
    max_episode_s: float = Field(
        300.0,
        gt=0,
        description="An event still moving after this long is decided anyway (confidence halved).",
    )
    rel_sigma: float = Field(
        0.02, gt=0, description="Measured weight vs catalogue weight, relative standard deviation."
    )
    abs_sigma_g: float = Field(2.0, gt=0, description="Measured weight vs catalogue, absolute std (g).")
    disturbance_g: float = Field(
        10.0,
        gt=0,
        description="Scale (g) of a lasting change on a plate no product explains "
        "(a hand leaning on it, load nudged across a boundary).",
    )
    overhang_prior: float = Field(
        0.3, gt=0, le=1, description="Prior of an item's change reaching one plate beyond its facing."
    )


class PresenceSection(Section):
    source: Literal["mqtt-receivers", "bleak", "bleak+mqtt-receivers", "none"] = Field(
        "mqtt-receivers",
        description="Where BLE sightings come from: remote receivers over MQTT, the local adapter(s) "
        "through bleak, both, or none.",
    )
    adapter: str = Field(
        "hci0",
        pattern=r"^hci[0-9]{1,3}$",
        description="Local Bluetooth adapter used by the 'bleak' source; its receiver id is 'local-<adapter>'.",
    )
    adapters: list[str] = Field(
        default_factory=list,
        description="Further local adapters (e.g. USB dongles at shelves), each receiver 'local-<adapter>'.",
    )
    watchdog_s: float = Field(
        30.0, gt=0, description="Restart a bleak scanner that delivered no advertisement for this long."
    )
    backoff_max_s: float = Field(
        30.0, gt=0, description="Longest wait between attempts to start a failing bleak scanner."
    )
    receivers: dict[str, str] = Field(
        default_factory=dict,
        description="Receiver id -> shelf it stands at, as 'gondola/shelf' (e.g. {'rx-1' = '1/2'}).",
    )
    keys_file: Path | None = Field(
        None, description="Enrolled customer keys for today (JSON); synced when absent."
    )
    departure_s: float = Field(
        12.0, gt=0, description="A shopper is gone after this many seconds without adverts."
    )

    @field_validator("adapters")
    @classmethod
    def _check_adapters(cls, value: list[str]) -> list[str]:
        for adapter in value:
            if not (adapter.startswith("hci") and adapter[3:].isdigit() and len(adapter) <= 6):
                raise ValueError(f"adapter {adapter!r}: must look like 'hci1'")
        return value

    @field_validator("receivers")
    @classmethod
    def _check_zone(cls, value: dict[str, str]) -> dict[str, str]:
        for receiver, zone in value.items():
            parts = zone.split("/")
            if len(parts) != 2 or not all(p.isdigit() for p in parts):
                raise ValueError(f"receiver {receiver!r}: zone must look like 'gondola/shelf', e.g. '1/2'")
        return value


class DisplaySection(Section):
    display_id: str = Field(
        pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Display identifier used in its topics."
    )
    gondola: int = Field(ge=0, description="Gondola the display is mounted on.")
    shelf: int = Field(ge=0, description="Shelf the display is mounted on.")
    transport: Literal["mqtt", "serial"] = Field(
        "mqtt",
        description="'mqtt': the display subscribes to its own topics; 'serial': a text display on the "
        "shelf controller, reached through shelf-bridge on the shelf's '.../set' topic.",
    )


class OffersSection(Section):
    model_dir: Path | None = Field(None, description="Directory holding offer_model.onnx and manifest.json.")
    offer_ttl_s: float = Field(
        30.0, gt=0, le=600, description="Seconds an offer stays valid (MQTT message expiry)."
    )
    catalogue: Path | None = Field(
        None,
        description="Catalogue CSV with names, prices and margins; the synced copy ({data_dir}/sync/catalogue.json) when absent.",
    )
    rules: Path | None = Field(
        None,
        description="Offer rules JSON (filters, caps, campaigns, experiment; edge/offers/README.md); "
        "the synced copy ({data_dir}/sync/campaigns.json) when absent, built-in defaults until then.",
    )
    profiles: Path | None = Field(
        None,
        description="Shopper profiles JSON ({shopper: profile}) computed by the backend; the synced copy "
        "({data_dir}/sync/profiles.json) when absent.",
    )


class BackendSection(Section):
    url: str | None = Field(None, description="Base URL of the central backend; no sync when absent.")
    token: str | None = Field(None, description="Bearer token of this gateway.")
    timeout_s: float = Field(10.0, gt=0, description="Timeout of one HTTP request.")
    batch_size: int = Field(200, ge=1, le=5000, description="Outbox events sent per HTTP request.")
    push_interval_s: float = Field(
        1.0, gt=0, description="Pause between outbox drains when nothing is pending."
    )
    retry_min_s: float = Field(0.5, gt=0, description="First retry delay after a failed send or pull.")
    retry_max_s: float = Field(
        60.0, gt=0, description="Longest retry delay (exponential backoff, full jitter)."
    )
    pull_interval_s: float = Field(
        60.0, gt=0, description="Seconds between pulls of catalogue, planogram, campaigns, keys, releases."
    )
    release_public_key: Path | None = Field(
        None,
        description="Ed25519 public key (PEM) that signs model releases; model updates are off when absent.",
    )
    health_window_s: float = Field(
        60.0, gt=0, description="Seconds a newly activated model is watched before it is kept."
    )
    health_max_error_rate: float = Field(
        0.01, ge=0, le=1, description="Share of failed decisions in the health window that reverts a model."
    )
    health_max_p99_ms: float = Field(
        50.0, gt=0, description="Decision latency p99 in the health window above which a model is reverted."
    )
    conversion_window_s: float = Field(
        300.0,
        gt=0,
        description="A pick of the offered product by that shopper within this time is a conversion (held-out "
        "exposures alike); a conversion within it redeems the offer's campaign discount (budget_redeemed).",
    )
    check_in_wait_s: float = Field(
        25.0,
        ge=0,
        le=120,
        description="Long poll of check-ins the backend relays from backgrounded iOS apps, seconds "
        "(0 = no relay).",
    )


class WebSection(Section):
    enabled: bool = Field(True, description="Serve the technician dashboard, /metrics and /healthz.")
    host: str = Field(
        "127.0.0.1",
        description="Address the dashboard listens on: the gateway only by default; 0.0.0.0 for the store LAN.",
    )
    port: int = Field(8080, ge=0, le=65535, description="Dashboard port (0 = any free port, for tests).")
    password: str | None = Field(
        None,
        description="Dashboard login password, hashed ('scrypt$...' from `shelf-edge dashboard --hash-password`) "
        "or plain; nobody can log in when absent (/healthz and /metrics stay open).",
    )
    session_ttl_s: float = Field(8 * 3600, gt=0, description="Seconds a dashboard login lasts.")
    health_report_interval_s: float = Field(
        300.0, ge=0, description="Seconds between health reports to the backend (0 = none)."
    )

    @field_validator("password")
    @classmethod
    def _password_form(cls, value: str | None) -> str | None:
        from edge.web.passwords import is_hashed, parse_hashed

        if value is not None and is_hashed(value):
            parse_hashed(value)  # a malformed hash would lock every technician out: refuse it now
        return value


class DatabaseSection(Section):
    hold_max_events: int = Field(
        20000,
        ge=100,
        le=1_000_000,
        description="Events held in memory while the database cannot take writes (disk full, file "
        "deleted); written when it can. Beyond this many, newer events are dropped and counted.",
    )
    sent_retention_days: float = Field(
        7.0, gt=0, description="Outbox rows the backend accepted are deleted this many days after sending."
    )
    event_retention_days: float = Field(
        30.0,
        ge=1,
        description="Events older than this are deleted once the backend has them (an unsent event is "
        "never deleted). At least 1: offer caps and budgets are restored from the last day's decisions.",
    )
    dead_letter_retention_days: float = Field(
        90.0,
        gt=0,
        description="Outbox rows the backend rejected for good (dead letters) are kept this long for "
        "investigation, then deleted.",
    )
    retention_interval_s: float = Field(
        3600.0, gt=0, description="Seconds between retention passes (the first runs at start)."
    )
    held_spill_dir: Path | None = Field(
        None,
        description="Where events still held in memory at stop (database unwritable) are kept for the "
        "next start, on another file system than data_dir (RAM: /run); the unit's RuntimeDirectory "
        "($RUNTIME_DIRECTORY) when absent, none outside systemd.",
    )


class EdgeConfig(BaseSettings):
    """The whole gateway configuration (one TOML file + SHELF_EDGE_* environment overrides)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        validate_default=True,
    )

    gateway: GatewaySection = Field(description="Store and gateway identity (required).")
    mqtt: MqttSection = Field(default_factory=MqttSection, description="Local MQTT broker.")
    logging: LoggingSection = Field(default_factory=LoggingSection, description="Log level and format.")
    bridge: BridgeSection = Field(default_factory=BridgeSection, description="Serial shelf bridge.")
    sensing: SensingSection = Field(default_factory=SensingSection, description="Weight sensing.")
    presence: PresenceSection = Field(default_factory=PresenceSection, description="BLE shopper presence.")
    displays: list[DisplaySection] = Field(default_factory=list, description="Shelf displays offers go to.")
    offers: OffersSection = Field(default_factory=OffersSection, description="Offer engine.")
    backend: BackendSection = Field(default_factory=BackendSection, description="Central backend sync.")
    web: WebSection = Field(
        default_factory=WebSection, description="Technician dashboard, metrics, health reports."
    )
    cameras: list[CameraSection] = Field(default_factory=list, description="Shelf cameras (pick detection).")
    database: DatabaseSection = Field(
        default_factory=DatabaseSection, description="Gateway database: in-memory hold and retention."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the file (which arrives as init kwargs from load_config).
        return (env_settings, init_settings)


def environment_variable(loc: Sequence[str]) -> str | None:
    """The SHELF_EDGE_* variable that set the value at ``loc`` (or a section holding it), if any."""
    names = {name.upper(): name for name in os.environ if name.upper().startswith(ENV_PREFIX)}
    for n in range(len(loc), 0, -1):
        candidate = ENV_PREFIX + "__".join(part.upper() for part in loc[:n])
        if candidate in names:
            return names[candidate]
    return None


def _issues_from(error: ValidationError) -> list[ConfigIssue]:
    issues = []
    for err in error.errors():
        loc = [str(p) for p in err["loc"]]
        message, value = err["msg"], err.get("input")
        if err["type"] == "extra_forbidden":
            message = "unknown key (check the spelling; see deploy/edge.example.toml)"
        elif err["type"] == "missing":
            message, value = "required key is missing", ...
            if loc and loc[0] == "gateway":
                message += " (the gateway's identity and data directory have no defaults)"
        issues.append(
            ConfigIssue(
                path=".".join(loc) or "<root>",
                value=value,
                message=message,
                origin=environment_variable(loc) or "",
            )
        )
    return issues


def _source(source: str, issues: list[ConfigIssue]) -> str:
    if all(issue.origin for issue in issues):
        return f"the environment (SHELF_EDGE_* overrides of {source})"
    if any(issue.origin for issue in issues):
        return f"{source} and the environment"
    return source


def parse_config(data: dict[str, Any], source: str = "<dict>") -> EdgeConfig:
    """Validate an already-parsed TOML document (environment overrides applied)."""
    try:
        return EdgeConfig(**data)
    except ValidationError as exc:
        issues = _issues_from(exc)
        raise ConfigError(_source(source, issues), issues) from None
    except SettingsError as exc:  # a SHELF_EDGE_<SECTION> value that is not valid JSON
        match = re.search(r'field "([^"]+)"', str(exc))
        field = match.group(1) if match else "<root>"
        variable = environment_variable([field]) or f"{ENV_PREFIX}{field.upper()}"
        issue = ConfigIssue(field, os.environ.get(variable), "not valid JSON for this section", variable)
        raise ConfigError(_source(source, [issue]), [issue]) from None


def load_config(path: str | Path) -> EdgeConfig:
    """Read and validate a TOML configuration file; raise ConfigError naming every bad key."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(
            str(path), [ConfigIssue("<file>", str(path), f"cannot read: {exc.strerror}")]
        ) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), [ConfigIssue("<file>", str(path), f"not valid TOML: {exc}")]) from None
    return parse_config(data, str(path))
