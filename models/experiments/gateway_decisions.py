"""The decision log (``DIR/decisions/``, for ``simulate-policy``) from a gateway's own event streams
(adapter side of :mod:`models.experiments.gateway_export`).

A decision record (stream ``offer_decision``, :meth:`DecisionRecord.to_dict`) does not carry the
basket it was decided on, nor its basket event's id. The gateway decides on each ``pick`` basket
event of a known shopper, right after applying it to its :class:`edge.fusion.core.Baskets`; so the
same ``Baskets`` fed with the same stream ``basket`` (stored order, each event id once, as the
gateway's own ``on_basket`` does) holds, at that pick, the basket the decision saw. A record is
matched to its pick by shopper, time, product picked and shelf, and the match is proven by
recomputing the record's decision id from the pick's event id (:func:`decision_id_of`).

A visit's basket ends where the gateway drops it: when its shopper leaves the store (stream
``basket-end``, one event per basket dropped; applied before the basket events of the same or a
later time), and every basket ends where the daemon starts (kind ``start``, no shopper: baskets are
held in memory). Not in the streams: visits ended by a gateway older than the ``basket-end``
stream. A rebuilt basket may then hold
products the gateway's did not. Whenever that could have changed the running rules' decision (a
logged candidate or the chosen product, which passed the "held" filter, is in the rebuilt basket),
the decision is skipped and counted; otherwise the extra products cannot have changed which logged
candidate the running rules chose.

Candidates: a record keeps the ranked survivors of the filters (at most 20) with the model's
scores, not the model's whole list; the replay decides among those (new rules that loosen a filter
cannot offer a product the running rules filtered out).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from edge.errors import EdgeError
from edge.events import BasketEvent, ShelfId
from edge.fusion.core import BASKET_END, Baskets
from edge.offers.catalogue import Catalogue
from edge.offers.output import decision_id_of
from models.experiments.decisions_io import DECISION_SCHEMA

#: Why a logged decision is left out of the decision log (the counts are reported).
SKIPS = {
    "no-basket-event": "no pick in the basket stream matches the record (shopper, t, product, shelf)",
    "id-mismatch": "the matching pick's event id does not give the record's decision id",
    "unknown-product": "a logged candidate or the chosen product is not in the store's catalogue",
    "basket-contradicts-record": "a logged candidate is in the rebuilt basket, which the gateway's did not "
    "hold (a visit's end or a restart the streams do not show, or a return not logged)",
}


class GatewayExportError(EdgeError):
    """A gateway event that cannot be read (missing or mistyped field)."""

    def __init__(self, stream: str, index: int, reason: str) -> None:
        super().__init__(f"stream {stream}, event {index}: {reason}")
        self.stream, self.index, self.reason = stream, index, reason


@dataclass(slots=True)
class DecisionExport:
    """The rebuilt decision log (DECISION_SCHEMA columns) and what was left out, with counts."""

    table: pa.Table
    decisions: int  # decision records read
    skipped: Counter[str] = field(default_factory=Counter)
    unknown_basket_products: int = 0  # basket events of products outside the catalogue (kept, as held)
    basket_ends: int = 0  # visits' ends read (stream basket-end)

    def summary(self) -> dict[str, Any]:
        return {
            "decisions_read": self.decisions,
            "decisions_written": self.table.num_rows,
            "skipped": dict(sorted(self.skipped.items())),
            "skip_reasons": {k: SKIPS[k] for k in sorted(self.skipped)},
            "unknown_basket_products": self.unknown_basket_products,
            "basket_ends": self.basket_ends,
        }


def _basket_event(b: Mapping[str, Any], index: int) -> BasketEvent:
    """A stored basket event (``BasketEventMessage``) as the gateway applied it."""
    try:
        kind = str(b["kind"])
        if kind not in ("pick", "return"):
            raise GatewayExportError("basket", index, f"kind {kind!r} is neither pick nor return")
        shopper, product = b.get("shopper"), b.get("product_id")
        shelf = ShelfId(int(b["gondola"]), int(b["shelf"]))
        return BasketEvent(
            float(b["t"]), shelf, kind, None if product is None else str(product),  # type: ignore[arg-type]
            int(b["quantity"]), float(b.get("confidence") or 0.0), None if shopper is None else str(shopper),
            tuple(b.get("sources") or ()), str(b["event_id"]),
        )  # fmt: skip
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayExportError("basket", index, f"malformed ({type(exc).__name__}: {exc})") from exc


def _basket_end(e: Mapping[str, Any], index: int) -> tuple[float, str]:
    """(time, shopper); shopper "" for a daemon's start, which ends every basket."""
    try:
        shopper = e["shopper"]
        return float(e["t"]), "" if shopper is None else str(shopper)
    except (KeyError, TypeError, ValueError) as exc:
        raise GatewayExportError(BASKET_END, index, f"malformed ({type(exc).__name__}: {exc})") from exc


def rebuild_decisions(
    decisions: Iterable[Mapping[str, Any]],
    baskets: Iterable[Mapping[str, Any]],
    catalogue: Catalogue,
    store_id: str,
    ends: Iterable[Mapping[str, Any]] = (),
) -> DecisionExport:
    """Each logged decision with the basket it was decided on (see the module docstring);
    ``ends``: the stream ``basket-end``."""
    held = Baskets()
    pending = sorted(_basket_end(e, i) for i, e in enumerate(ends))
    n_ends, next_end = len(pending), 0
    at_pick: dict[tuple[str, float, str, str], list[tuple[BasketEvent, tuple[str, ...]]]] = {}
    seen: set[str] = set()
    unknown = 0
    for i, raw in enumerate(baskets):
        event = _basket_event(raw, i)
        if event.event_id in seen:
            continue  # stored once per id; the gateway applies a replayed event once
        seen.add(event.event_id)
        while next_end < n_ends and pending[next_end][0] <= event.t:
            shopper = pending[next_end][1]
            if shopper:
                held.forget(shopper)
            else:  # the daemon started: nothing it held before is held now
                held.forget_all()
            next_end += 1
        if event.product_id is not None and event.product_id not in catalogue.products:
            unknown += 1
        held.apply(event)
        if event.kind == "pick" and event.shopper is not None and event.product_id is not None:
            key = (event.shopper, event.t, event.product_id, str(event.shelf))
            at_pick.setdefault(key, []).append((event, tuple(held.of(event.shopper))))
    cols: dict[str, list[Any]] = {f.name: [] for f in DECISION_SCHEMA}
    skipped: Counter[str] = Counter()
    n = 0
    for i, d in enumerate(decisions):
        n += 1
        try:
            decision_id, t, shopper = str(d["decision_id"]), float(d["t"]), str(d["shopper"])
            shelf_name, picked = str(d["shelf"]), d.get("picked")
            candidates = [str(c) for c in d["candidates"]]
            scores = [float(s) for s in d["scores"]]
            chosen = None if d.get("chosen") is None else str(d["chosen"])
            if len(scores) != len(candidates):
                raise ValueError(f"{len(candidates)} candidates but {len(scores)} scores")
            outcome, display = str(d["outcome"]), str(d["display"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayExportError("offer_decision", i, f"malformed ({type(exc).__name__}: {exc})") from exc
        picks = at_pick.get((shopper, t, str(picked), shelf_name), []) if picked is not None else []
        if not picks:
            skipped["no-basket-event"] += 1
            continue
        found = next(
            (
                p
                for p in picks
                if decision_id_of(p[0].event_id, shopper, t, str(picked), shelf_name) == decision_id
            ),
            None,
        )
        if found is None:
            skipped["id-mismatch"] += 1
            continue
        event, basket = found
        if any(p not in catalogue.products for p in (*candidates, *([chosen] if chosen else []))):
            skipped["unknown-product"] += 1
            continue
        if not set(basket).isdisjoint((*candidates, *([chosen] if chosen else []))):
            skipped["basket-contradicts-record"] += 1
            continue
        row = {
            "decision_id": decision_id, "t": t, "shopper": shopper, "event_id": event.event_id,
            "gondola": event.shelf.gondola, "shelf_no": event.shelf.shelf, "shelf": shelf_name, "product_id": str(picked),
            "display": display, "basket": list(basket), "candidate_ids": candidates, "candidate_scores": scores,
            "outcome": outcome, "chosen": chosen, "propensity": float(d.get("propensity") or 0.0),
            "variant": d.get("variant"), "campaign_id": d.get("campaign_id"),
            "rules_version": d.get("rules_version"), "segments": [str(s) for s in d.get("segments") or ()],
        }  # fmt: skip
        for name, value in row.items():
            cols[name].append(value)
    table = pa.table(cols, schema=DECISION_SCHEMA)
    table = table.append_column("store_id", pa.array([store_id] * table.num_rows, pa.string()))
    return DecisionExport(table, n, skipped, unknown, n_ends)
