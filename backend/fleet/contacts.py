"""Last contact of each store's gateways, recorded from the traffic itself (pure ASGI middleware).

Every answered call (status < 400) under ``/v1/stores/{store}/`` made with a gateway token
(``gw_...``) notes the time; the notes go to the ``fleet_contacts`` table at most every
``flush_s`` seconds per worker (and when the worker stops), so a pull every minute costs no extra
write per call.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

import anyio
from sqlalchemy.orm import Session

from backend.db.fleet_models import FleetContact
from backend.limits import ASGIApp, Message, Receive, Scope, Send

_STORE_PATH = re.compile(r"^/v1/stores/([^/]+)/")


class Contacts:
    """Pending contacts of one worker, written to ``fleet_contacts`` by :meth:`flush` (also at shutdown)."""

    def __init__(self, sessions: Callable[[], Session], flush_s: float = 10.0) -> None:
        self.sessions = sessions
        self.flush_s = flush_s
        self._pending: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._flushed = 0.0

    def note(self, store_id: str, call: str) -> bool:
        """Note a contact; True when a flush is due."""
        with self._lock:
            self._pending[store_id] = (time.time(), call[:200])
            due = time.monotonic() - self._flushed >= self.flush_s
            if due:
                self._flushed = time.monotonic()
            return due

    def flush(self) -> int:
        """Write the pending contacts (newest wins); returns how many stores."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        with self.sessions() as session:
            for store_id, (at, call) in sorted(pending.items()):
                row = session.get(FleetContact, store_id)
                if row is None:
                    session.add(FleetContact(store_id=store_id, last_contact=at, last_call=call))
                elif at > row.last_contact:
                    row.last_contact, row.last_call = at, call
            session.commit()
        return len(pending)


class ContactRecorder:
    def __init__(self, app: ASGIApp, *, contacts: Contacts) -> None:
        self.app = app
        self.contacts = contacts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = _STORE_PATH.match(scope["path"]) if scope["type"] == "http" else None
        if match is None or not _gateway_token(scope):
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, noting_send)
        if status < 400 and self.contacts.note(match.group(1), f"{scope['method']} {scope['path']}"):
            await anyio.to_thread.run_sync(self.contacts.flush)


def _gateway_token(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bool(value[:10].lower() == b"bearer gw_")
    return False
