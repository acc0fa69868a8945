"""The migrations create exactly the tables of backend/db/models.py, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backend.db.engine import make_engine
from backend.db.models import Base
from backend.settings import BackendSettings

pytestmark = pytest.mark.integration


def test_models_and_migrations_agree(settings: BackendSettings) -> None:
    engine = make_engine(settings)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == [], "a model changed without a migration: see backend/README.md 'Develop'"
