"""Alembic driven from the settings: ``shelf-backend migrate`` and the tests call :func:`upgrade`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from backend.settings import BackendSettings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(settings: BackendSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["settings"] = settings
    return config


def upgrade(settings: BackendSettings, revision: str = "head") -> None:
    """Bring the database of ``settings`` to ``revision`` (creates it when empty)."""
    command.upgrade(alembic_config(settings), revision)


def revision(settings: BackendSettings, message: str) -> None:
    """Write a new migration from the difference between the models and the database (developers)."""
    command.revision(alembic_config(settings), message=message, autogenerate=True)
