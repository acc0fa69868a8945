"""``build``: transactions -> DIR/offer_model.onnx + DIR/manifest.json (same as ``shelf-models build``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import onnx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from edge.atomic_file import write_atomic
from edge.offers.model import FORMAT, MANIFEST_FILE, MODEL_FILE, sha256_file
from models.offers.graph import OPSET, build_graph
from models.offers.method import Params, Statistics, fit
from models.offers.neighbours import TifuParams
from models.offers.transactions import Basket, online_retail_baskets, read_transactions

DEFAULT_MAX_BASKETS_DEMO = 3000
PROFILE_METHOD = "tifu-knn"  # how the central profiles job builds shopper profiles for this model


def profile_params(manifest: dict[str, Any]) -> TifuParams | None:
    """The neighbour constants the model's profiles are built with (None: a model from before them,
    whose profiles are the decayed repurchase shares of ``OfferModel.profile``)."""
    spec = manifest.get("profiles")
    if not isinstance(spec, dict) or spec.get("method") != PROFILE_METHOD:
        return None
    return TifuParams.from_dict({k: v for k, v in spec.items() if k != "method"})


@dataclass(frozen=True, slots=True)
class BuildResult:
    directory: Path
    manifest: dict[str, Any]


def _summary(baskets: Sequence[Basket], stats: Statistics, source: str) -> dict[str, Any]:
    customers = {b.customer_id for b in baskets if b.customer_id}
    sizes = sorted(len(b.items) for b in baskets)
    return {
        "source": source,
        "baskets": len(baskets),
        "customers": len(customers),
        "guest_baskets": sum(1 for b in baskets if not b.customer_id),
        "lines": sum(sizes),
        "median_basket_items": sizes[len(sizes) // 2] if sizes else 0,
        "products_seen": len({i for b in baskets for i in b.items}),
        "products_in_model": stats.size,
        "first": datetime.fromtimestamp(baskets[0].t, UTC).isoformat() if baskets else None,
        "last": datetime.fromtimestamp(baskets[-1].t, UTC).isoformat() if baskets else None,
    }


def _atomic_write(path: Path, data: bytes) -> None:
    write_atomic(path, data, 0o644)


def write_model(
    out: Path, stats: Statistics, params: Params, summary: dict[str, Any], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Write the ONNX file, then the manifest (last, so a half-written directory never verifies)."""
    out.mkdir(parents=True, exist_ok=True)
    created = datetime.now(UTC).replace(microsecond=0)
    version = created.strftime("%Y%m%dT%H%M%SZ")
    model = build_graph(stats, params, version)
    _atomic_write(out / MODEL_FILE, model.SerializeToString())
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "model": "offers",
        "model_version": version,
        "created": created.isoformat().replace("+00:00", "Z"),
        "opset": OPSET,
        "onnx_ir_version": model.ir_version,
        "files": {
            MODEL_FILE: {"sha256": sha256_file(out / MODEL_FILE), "bytes": (out / MODEL_FILE).stat().st_size}
        },
        "params": params.as_dict(),
        "training": summary,
        **(extra or {}),
        "items": stats.items,
    }
    _atomic_write(out / MANIFEST_FILE, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    return manifest


def build_from_baskets(
    baskets: Sequence[Basket],
    out: str | Path,
    params: Params | None = None,
    tune: bool = True,
    show_progress: bool = False,
    source: str = "<baskets>",
) -> BuildResult:
    """Fit statistics (and tune the mixing constants unless ``tune`` is False) and write the model."""
    from models.offers.tuning import tune_params

    if not baskets:
        raise ValueError("no baskets to build from")
    params = params or Params()
    tifu = TifuParams()
    tuning: dict[str, Any] = {"tuned": False}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress, transient=False) as bar:
        if tune:
            params, tifu, tuning = tune_params(baskets, params, bar)
        task = bar.add_task("co-purchase statistics", total=len(baskets))
        stats = fit(baskets, params, lambda n: bar.advance(task, n))
    extra = {"tuning": tuning, "profiles": {"method": PROFILE_METHOD, **tifu.as_dict()}}
    manifest = write_model(Path(out), stats, params, _summary(baskets, stats, source), extra)
    onnx.checker.check_model(str(Path(out) / MODEL_FILE))
    return BuildResult(Path(out), manifest)


def build(
    transactions: str | Path,
    out: str | Path,
    max_baskets: int | None = None,
    tune: bool = True,
    show_progress: bool = False,
) -> BuildResult:
    """Build the default offer model from TX.csv into ``out`` (see models/README.md).

    ``max_baskets`` keeps the earliest baskets only: ``build(tx, out, max_baskets=3000, tune=False)``
    takes a few seconds and is what the demo and the tests use.
    """
    baskets = read_transactions(transactions, max_baskets=max_baskets)
    return build_from_baskets(
        baskets, out, tune=tune, show_progress=show_progress, source=Path(transactions).name
    )


def build_demo_model(
    out: str | Path, source: str | Path, max_baskets: int = DEFAULT_MAX_BASKETS_DEMO, tune: bool = False
) -> BuildResult:
    """A small offer model straight from online_retail.csv.gz (earliest ``max_baskets`` baskets):
    a few seconds, for the demo's cache directory and for tests."""
    baskets = online_retail_baskets(source, max_baskets=max_baskets)
    return build_from_baskets(baskets, out, tune=tune, source=Path(source).name)
