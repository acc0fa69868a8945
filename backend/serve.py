"""The app factory uvicorn imports (``backend.serve:app``, factory=True), once per worker process.

Settings are read here from SHELF_BACKEND_* and the file named by SHELF_BACKEND_CONFIG, which
``shelf-backend serve`` sets from its --config.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from backend.app import create_app
from backend.settings import BackendSettings


def app() -> FastAPI:
    config = os.environ.get("SHELF_BACKEND_CONFIG")
    return create_app(BackendSettings.load(Path(config) if config else None))
