"""Configuration pieces shared by tests that build a config from a dict.

A gateway's identity and data directory have no defaults (edge.config.GatewaySection), so every
config names them; tests whose config never touches the data directory use :data:`IDENTITY`.
"""

from __future__ import annotations

#: store-001 / gw-1 with a data directory that is never created (the test does not use it).
IDENTITY = {"store_id": "store-001", "gateway_id": "gw-1", "data_dir": "/nonexistent/smartshelf-test"}
