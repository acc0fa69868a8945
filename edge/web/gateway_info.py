"""Gateway facts for the dashboard, /metrics and health reports: model version, sync backlog,
database and disk, read from files (read-only) so any process on the gateway can show them."""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import sqlite3
from pathlib import Path
from typing import Any

from edge import __version__
from edge.config import EdgeConfig

log = logging.getLogger("edge.web")
DB_FILE = "edge.db"


def active_model_dir(config: EdgeConfig) -> Path | None:
    """The offer model the daemon runs: the active release slot (``models/offers/active.json``,
    written by sync) when there is one, else ``offers.model_dir``."""
    pointer = Path(config.gateway.data_dir) / "models" / "offers" / "active.json"
    try:
        slot = json.loads(pointer.read_text())["slot"]
    except (OSError, ValueError, KeyError, TypeError):
        return config.offers.model_dir
    return pointer.parent / f"slot-{slot}"


def model_version(config: EdgeConfig) -> str | None:
    directory = active_model_dir(config)
    if directory is None:
        return None
    try:
        manifest = json.loads((Path(directory) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    version = manifest.get("model_version")
    return None if version is None else str(version)


def sync_state(config: EdgeConfig) -> dict[str, Any]:
    """The gateway's sync with the central service, from its database (read-only): ``sync_backlog``
    (outbox rows not yet accepted by the backend), ``last_pull_at`` and ``last_push_at`` (Unix times
    of the last pull round every resource answered, and of the last batch the backend accepted;
    None: never). All None when there is no database yet."""
    state: dict[str, Any] = {"sync_backlog": None, "last_pull_at": None, "last_push_at": None}
    path = Path(config.gateway.data_dir) / DB_FILE
    if not path.exists():
        return state
    with contextlib.suppress(sqlite3.Error):  # being created or migrated: shown as unknown
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=2)
        try:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(outbox)")}
            where = "sent_at IS NULL" + (" AND dead_at IS NULL" if "dead_at" in columns else "")
            state["sync_backlog"] = int(
                conn.execute(f"SELECT count(*) FROM outbox WHERE {where}").fetchone()[0]
            )
            if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sync_status'").fetchone():
                done = dict(conn.execute("SELECT what, at FROM sync_status").fetchall())
                state["last_pull_at"], state["last_push_at"] = done.get("pull"), done.get("push")
        finally:
            conn.close()
    return state


def gateway_facts(config: EdgeConfig) -> dict[str, Any]:
    data = Path(config.gateway.data_dir)
    probe = data if data.exists() else Path("/")
    usage = shutil.disk_usage(probe)
    return {
        "store_id": config.gateway.store_id,
        "gateway_id": config.gateway.gateway_id,
        "software_version": __version__,
        "model_version": model_version(config),
        "sync_configured": bool(config.backend.url),
        "pull_interval_s": config.backend.pull_interval_s,
        **sync_state(config),
        "disk_free_bytes": usage.free,
        "disk_total_bytes": usage.total,
    }


def product_names(config: EdgeConfig) -> dict[str, str]:
    """Product id -> name from the configured planogram and catalogue (the catalogue wins), for a
    dashboard running without the daemon; a file that cannot be read gives no names (logged)."""
    from edge.offers.catalogue import Catalogue, CatalogueError
    from edge.sensing.planogram import Planogram, PlanogramError

    names: dict[str, str] = {}
    try:
        if config.sensing.planogram is not None:
            names.update(
                {p: x.name for p, x in Planogram.load_csv(config.sensing.planogram).products.items()}
            )
        if config.offers.catalogue is not None:
            names.update({p: x.name for p, x in Catalogue.load(config.offers.catalogue).products.items()})
    except (OSError, PlanogramError, CatalogueError, ValueError) as exc:
        log.warning("dashboard: product names unavailable (%s); events show product ids", exc)
    return names
