"""Typed exceptions that carry the data a user needs to act on them."""

from __future__ import annotations

from dataclasses import dataclass


class EdgeError(Exception):
    """Base of every error the gateway raises on purpose."""


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a configuration file: where, what value, and why it is wrong."""

    path: str
    #: The offending value; ``...`` when there is none (a required key that is missing).
    value: object
    message: str
    #: The environment variable the value came from ("" when it came from the file).
    origin: str = ""

    def __str__(self) -> str:
        where = f" (set by environment variable {self.origin})" if self.origin else ""
        if self.value is ...:  # nothing there (a required key that is missing)
            return f"{self.path}{where}: {self.message}"
        shown = repr(self.value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        return f"{self.path}{where}: {self.message} (got {shown})"


class ConfigError(EdgeError):
    """The configuration is invalid; ``issues`` lists every problem found."""

    def __init__(self, source: str, issues: list[ConfigIssue]) -> None:
        self.source = source
        self.issues = issues
        lines = "\n".join(f"  - {issue}" for issue in issues)
        super().__init__(f"invalid configuration in {source}:\n{lines}")


class PayloadError(EdgeError):
    """An MQTT payload could not be decoded into its message model."""

    def __init__(self, topic: str, reason: str, payload: bytes) -> None:
        self.topic = topic
        self.reason = reason
        self.payload = payload[:200]
        super().__init__(f"malformed payload on {topic!r}: {reason}")


class MigrationError(EdgeError):
    """The database schema is newer than this software or a migration failed."""

    def __init__(self, db_path: str, version: int, reason: str) -> None:
        self.db_path = db_path
        self.version = version
        self.reason = reason
        super().__init__(f"database {db_path} (schema version {version}): {reason}")


class AdapterError(EdgeError):
    """A device adapter could not be built or used."""

    def __init__(self, family: str, kind: str, reason: str) -> None:
        self.family = family
        self.kind = kind
        self.reason = reason
        super().__init__(f"{family} adapter {kind!r}: {reason}")
