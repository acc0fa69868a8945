"""The migrations create exactly the tables of backend/db/models.py, on both databases."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from backend.db.engine import make_engine
from backend.db.migrate import alembic_config
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


def test_migrations_have_one_head_and_one_line() -> None:
    scripts = ScriptDirectory.from_config(alembic_config(BackendSettings()))
    heads = scripts.get_heads()
    assert len(heads) == 1, f"more than one head {heads}: merge them (alembic merge) or rebase the newer one"
    revisions = list(scripts.walk_revisions())  # newest first; a branch point would show twice
    assert revisions[0].revision == heads[0]
    assert all(isinstance(r.down_revision, str | None) for r in revisions), "merge revisions are not expected"
    assert revisions[-1].down_revision is None and len({r.revision for r in revisions}) == len(revisions)
