"""The measurement export from a gateway's own event streams (adapter), for stores without the
central service's Parquet export (the demo, a single store's backfill).

Decisions (stream ``offer_decision``, :meth:`DecisionRecord.to_dict`) with outcome ``offered`` or
``held-out`` become exposures (``treated`` / ``holdout``, a held-out one with the
``shadow_variant`` its offer was decided as, its control arm for that variant); basket events (stream ``basket``,
``BasketEventMessage``) of kind ``pick`` with a shopper become picks, priced from the store's
catalogue at full price (a gateway does not log the price paid; returns are not subtracted).
The decisions, each with the basket it was decided on rebuilt from the same basket stream
and its ``basket-end`` stream (:mod:`models.experiments.gateway_decisions`), become the decision log ``decisions/`` with the
store's catalogue in ``catalogues/``, so ``simulate-policy`` replays the same directory; what was
left out, with counts, is in ``export.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from edge.offers.catalogue import Catalogue
from edge.offers.rules import OfferRules
from models.experiments.decisions_io import write_decisions
from models.experiments.events_io import EXPOSURE_SCHEMA, PICK_SCHEMA, write_events
from models.experiments.gateway_decisions import DecisionExport, rebuild_decisions

SHOWN = {"offered": "treated", "held-out": "holdout"}


def exposures_and_picks(
    decisions: Iterable[Mapping[str, Any]],
    baskets: Iterable[Mapping[str, Any]],
    catalogue: Catalogue,
    rules: OfferRules,
) -> tuple[pa.Table, pa.Table]:
    discount = {c.campaign_id: c.discount_pct / 100.0 for c in rules.campaigns}
    exp: dict[str, list[Any]] = {f.name: [] for f in EXPOSURE_SCHEMA}
    for d in decisions:
        group = SHOWN.get(str(d.get("outcome")))
        if group is None or not d.get("chosen"):
            continue
        campaign = d.get("campaign_id")
        exp["decision_id"].append(str(d["decision_id"]))
        exp["t"].append(float(d["t"]))
        exp["shopper"].append(str(d["shopper"]))
        exp["campaign"].append(campaign)
        exp["variant"].append(str(d["variant"]) if group == "treated" else None)
        exp["group"].append(group)
        exp["product"].append(str(d["chosen"]))
        exp["propensity"].append(float(d.get("propensity") or 0.0))
        exp["discount"].append(discount.get(str(campaign), 0.0) if campaign else 0.0)
        shadow = d.get("shadow_variant") if group == "holdout" else None
        exp["shadow_variant"].append(str(shadow) if shadow else None)
    picks: dict[str, list[Any]] = {f.name: [] for f in PICK_SCHEMA}
    for b in baskets:
        product = catalogue.products.get(str(b.get("product_id")))
        if b.get("kind") != "pick" or not b.get("shopper") or product is None:
            continue
        units = max(1, int(b.get("quantity") or 1))
        picks["t"].append(float(b["t"]))
        picks["shopper"].append(str(b["shopper"]))
        picks["product"].append(product.product_id)
        picks["price"].append(product.price * units)
        picks["margin"].append(product.price * product.margin * units)
    return pa.table(exp, schema=EXPOSURE_SCHEMA), pa.table(picks, schema=PICK_SCHEMA)


def write_gateway_export(
    directory: Path,
    store_id: str,
    decisions: Iterable[Mapping[str, Any]],
    baskets: Iterable[Mapping[str, Any]],
    catalogue: Catalogue,
    rules: OfferRules,
    ends: Iterable[Mapping[str, Any]] = (),
) -> DecisionExport:
    """Write ``exposures/``, ``picks/``, ``decisions/``, ``catalogues/<store_id>.csv``, ``rules.json``
    and ``export.json`` (decisions read, written and skipped by reason) under ``directory``
    (``ends``: the stream ``basket-end``, where the gateway dropped a basket); raises
    :class:`~models.experiments.gateway_decisions.GatewayExportError` on a malformed event."""
    decisions, baskets = list(decisions), list(baskets)
    rebuilt = rebuild_decisions(decisions, baskets, catalogue, store_id, ends)
    exposures, picks = exposures_and_picks(decisions, baskets, catalogue, rules)
    directory.mkdir(parents=True, exist_ok=True)
    write_events(
        directory,
        exposures,
        pa.array([store_id] * exposures.num_rows, pa.string()),
        picks,
        pa.array([store_id] * picks.num_rows, pa.string()),
    )
    write_decisions(directory, rebuilt.table)
    (directory / "catalogues").mkdir(exist_ok=True)
    catalogue.write(directory / "catalogues" / f"{store_id}.csv")
    (directory / "rules.json").write_text(rules.model_dump_json(indent=1))
    (directory / "export.json").write_text(json.dumps(rebuilt.summary(), indent=1))
    return rebuilt
