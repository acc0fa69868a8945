"""The fleet as central IT sees it: every gateway, its versions, last contact, backlog, releases.

Read from what the service keeps (nothing here lives only in memory): the newest health report of
each gateway (software and model version, sync backlog, problems), the contacts table (last
successful call of the store's gateways, backend/fleet/contacts.py) and the release reports.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.db.fleet_models import FleetContact
from backend.db.models import HealthReport, ReleaseReport, Store

#: No contact for this long: the gateway is shown as silent.
SILENT_AFTER_S = 15 * 60.0
#: Release reports older than this are not counted in the outcomes column.
OUTCOMES_WINDOW_S = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class LatestRelease:
    model: str
    version: int
    outcome: str
    detail: str
    at: float


@dataclass(slots=True)
class FleetGateway:
    store_id: str
    gateway_id: str | None
    software_version: str | None = None
    model_version: str | None = None
    sync_backlog: int | None = None
    last_contact: float | None = None
    last_call: str | None = None
    last_report: float | None = None
    problems: list[str] = field(default_factory=list)
    releases: list[LatestRelease] = field(default_factory=list)
    outcomes: dict[str, int] = field(default_factory=dict)

    def silent(self, now: float) -> bool:
        return self.last_contact is None or now - self.last_contact > SILENT_AFTER_S


def fleet(*, session: Session, now: float) -> list[FleetGateway]:
    """One row per gateway that reported health, plus one per store heard from without a report.

    A gateway's last contact is its newest health report or, when it is its store's only gateway, the
    store's last gateway call if newer: calls are known per store (its tokens), so with two gateways
    in a store each is judged by its own reports and a silent one shows as silent.
    """
    contacts = {c.store_id: c for c in session.scalars(select(FleetContact))}
    rows: list[FleetGateway] = []
    reported: set[str] = set()
    for h in session.scalars(select(HealthReport).order_by(HealthReport.store_id, HealthReport.gateway_id)):
        gw = h.report.get("gateway", {}) if isinstance(h.report, dict) else {}
        backlog = gw.get("sync_backlog")
        row = FleetGateway(
            h.store_id,
            h.gateway_id,
            software_version=_text(gw.get("software_version")),
            model_version=_text(gw.get("model_version")),
            sync_backlog=backlog if isinstance(backlog, int) else None,
            last_report=h.received_at,
            problems=[str(p) for p in h.report.get("problems", [])] if isinstance(h.report, dict) else [],
        )
        reported.add(h.store_id)
        rows.append(row)
    stores = set(session.scalars(select(Store.store_id))) | set(contacts)
    rows += [FleetGateway(s, None) for s in sorted(stores - reported)]
    latest, outcomes = _releases(session, now)
    per_store = Counter(row.store_id for row in rows)
    for row in rows:
        contact = contacts.get(row.store_id)
        calls = contact.last_contact if contact and per_store[row.store_id] == 1 else None
        heard = [t for t in (calls, row.last_report) if t is not None]
        row.last_contact = max(heard) if heard else None
        row.last_call = contact.last_call if contact else None
        row.releases = sorted(latest.get(row.store_id, {}).values(), key=lambda r: r.model)
        row.outcomes = dict(sorted(outcomes.get(row.store_id, Counter()).items()))
    rows.sort(key=lambda r: (r.store_id, r.gateway_id or ""))
    return rows


def _releases(
    session: Session, now: float
) -> tuple[dict[str, dict[str, LatestRelease]], dict[str, Counter[str]]]:
    latest: dict[str, dict[str, LatestRelease]] = {}
    outcomes: dict[str, Counter[str]] = {}
    for r in session.scalars(select(ReleaseReport).order_by(ReleaseReport.id)):
        latest.setdefault(r.store_id, {})[r.model] = LatestRelease(
            r.model, r.version, r.outcome, r.detail, r.at
        )
        if now - r.received_at <= OUTCOMES_WINDOW_S:
            outcomes.setdefault(r.store_id, Counter())[r.outcome] += 1
    return latest, outcomes


def _text(value: object) -> str | None:
    return None if value is None else str(value)
