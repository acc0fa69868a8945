"""Decision-context log files (``DIR/decisions/``, Parquet by day and store) and their reader.

The fields ``simulate-policy`` needs beyond today's DecisionRecord are the model's candidates
with their scores and the basket at decision time (see README.md, "Decision log").
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from models.experiments.events_io import PARTITION, EventsError, _dataset, _partition_columns
from models.experiments.replay import LoggedDecision

DECISION_SCHEMA = pa.schema(
    [
        pa.field("decision_id", pa.string(), nullable=False),
        pa.field("t", pa.float64(), nullable=False),
        pa.field("shopper", pa.string(), nullable=False),
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("gondola", pa.int32(), nullable=False),
        pa.field("shelf_no", pa.int32(), nullable=False),
        pa.field("shelf", pa.string()),
        pa.field("product_id", pa.string()),
        pa.field("display", pa.string(), nullable=False),
        pa.field("basket", pa.list_(pa.string())),
        pa.field("candidate_ids", pa.list_(pa.string())),
        pa.field("candidate_scores", pa.list_(pa.float64())),
        pa.field("outcome", pa.string(), nullable=False),
        pa.field("chosen", pa.string()),
        pa.field("propensity", pa.float64()),
        pa.field("variant", pa.string()),
        pa.field("campaign_id", pa.string()),
        pa.field("rules_version", pa.string()),
        pa.field("segments", pa.list_(pa.string())),
    ]
)
NEEDED = ("decision_id", "t", "shopper", "event_id", "gondola", "shelf_no", "product_id", "display", "basket",
          "candidate_ids", "candidate_scores", "outcome", "chosen", "propensity", "store_id")  # fmt: skip


def write_decisions(root: Path, decisions: pa.Table) -> None:
    store = decisions.column("store_id")
    table = decisions.drop_columns(["store_id"]).select(DECISION_SCHEMA.names).cast(DECISION_SCHEMA)
    ds.write_dataset(
        _partition_columns(table, store),
        str(root / "decisions"),
        format="parquet",
        partitioning=ds.partitioning(PARTITION, flavor="hive"),
        existing_data_behavior="overwrite_or_ignore",
        basename_template="part-{i}.parquet",
    )


def read_decisions(root: str | Path) -> list[LoggedDecision]:
    """Every logged decision, in time order (ties by decision id)."""
    path = Path(root) / "decisions"
    if not path.is_dir() and (Path(root) / "export.json").is_file():
        raise EventsError(
            f"{path}: no decision log (this gateway export logged no decision it could write: see "
            f"{Path(root) / 'export.json'} for the decisions read and skipped)"
        )
    dataset = _dataset(path)
    missing = [c for c in NEEDED if c not in dataset.schema.names]
    if missing:
        raise EventsError(
            f"{path}: missing column(s) {', '.join(missing)} (see the decision log fields in README)"
        )
    # segments: optional (a log written before it was logged replays every shopper as unknown)
    columns = [*NEEDED, *(["segments"] if "segments" in dataset.schema.names else [])]
    table = dataset.to_table(columns=columns)
    order = pc.sort_indices(table, sort_keys=[("t", "ascending"), ("decision_id", "ascending")])
    table = table.take(order)
    cols = {name: table.column(name).to_pylist() for name in columns}
    segments = cols.get("segments", [None] * table.num_rows)
    if any(v is None for v in cols["t"]) or not np.all(np.isfinite(np.asarray(cols["t"], dtype=float))):
        raise EventsError(f"{path}: column t is empty or not finite")
    out = []
    for i in range(table.num_rows):
        out.append(
            LoggedDecision(
                str(cols["store_id"][i]),
                cols["event_id"][i],
                float(cols["t"][i]),
                cols["shopper"][i],
                int(cols["gondola"][i]),
                int(cols["shelf_no"][i]),
                cols["product_id"][i] or "",
                tuple(cols["basket"][i] or ()),
                tuple(cols["candidate_ids"][i] or ()),
                tuple(cols["candidate_scores"][i] or ()),
                cols["display"][i],
                cols["outcome"][i],
                cols["chosen"][i],
                float(cols["propensity"][i] or 0.0),
                cols["decision_id"][i],
                tuple(segments[i] or ()),
            )
        )
    return out
