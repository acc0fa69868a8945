"""Alembic environment: the database URL comes from the service's settings, never from alembic.ini."""

from __future__ import annotations

from alembic import context

from backend.db.engine import make_engine
from backend.db.models import Base
from backend.settings import BackendSettings

config = context.config
settings: BackendSettings = config.attributes.get("settings") or BackendSettings.load()

if context.is_offline_mode():
    context.configure(url=settings.database_url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = make_engine(settings)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=settings.is_sqlite,  # SQLite alters tables by copying them
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
