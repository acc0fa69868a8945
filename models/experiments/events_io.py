"""The event files the measurement jobs read, and their writer (adapter: all file I/O is here).

``DIR/exposures/`` and ``DIR/picks/``: Parquet (or CSV) datasets partitioned Hive-style by
``day=YYYY-MM-DD/store_id=S/`` (the central service's export; the partition keys may also be
plain columns in CSV files). Columns are documented in README.md of this folder
(:data:`EXPOSURE_SCHEMA`, :data:`PICK_SCHEMA`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from models.experiments.aggregate import Exposures, Picks
from models.experiments.report import CONTROLS, HOLDOUT, ORGANIC, SHADOW_SEP, Labels

PARTITION = pa.schema([("day", pa.string()), ("store_id", pa.string())])
EXPOSURE_SCHEMA = pa.schema(
    [
        pa.field("decision_id", pa.string(), nullable=False),
        pa.field("t", pa.float64(), nullable=False),
        pa.field("shopper", pa.string(), nullable=False),
        pa.field("campaign", pa.string()),
        pa.field("variant", pa.string()),
        pa.field("group", pa.string(), nullable=False),
        pa.field("product", pa.string(), nullable=False),
        pa.field("propensity", pa.float64()),
        pa.field("discount", pa.float64()),
        pa.field("shadow_variant", pa.string()),
    ]
)
PICK_SCHEMA = pa.schema(
    [
        pa.field("t", pa.float64(), nullable=False),
        pa.field("shopper", pa.string(), nullable=False),
        pa.field("product", pa.string(), nullable=False),
        pa.field("price", pa.float64(), nullable=False),
        pa.field("margin", pa.float64(), nullable=False),
    ]
)
GROUPS = ("treated", *CONTROLS)
EXPOSURE_COLUMNS = ("t", "shopper", "campaign", "variant", "group", "product", "store_id")
PICK_COLUMNS = ("t", "shopper", "product", "price", "margin")
OPTIONAL_EXPOSURE_COLUMNS = ("shadow_variant",)  # absent from exports made before it existed


class EventsError(ValueError):
    """Event files the jobs refuse; ``str()`` is one line naming the file set and the problem."""


@dataclass(frozen=True, slots=True)
class EventData:
    exposures: Exposures
    picks: Picks
    labels: Labels
    products: list[str]
    shoppers: list[str]


def _dataset(path: Path) -> ds.Dataset:
    if not path.is_dir():
        raise EventsError(f"{path}: no such directory")
    files = [p for p in path.rglob("*") if p.is_file() and not p.name.startswith((".", "_"))]
    if not files:
        raise EventsError(f"{path}: no event files")
    fmt = "csv" if all(p.suffix == ".csv" for p in files) else "parquet"
    part = ds.partitioning(PARTITION, flavor="hive")
    try:
        return ds.dataset(str(path), format=fmt, partitioning=part)
    except (pa.ArrowInvalid, OSError) as exc:
        raise EventsError(f"{path}: unreadable: {str(exc).splitlines()[0]}") from None


def _read(path: Path, columns: tuple[str, ...], optional: tuple[str, ...] = ()) -> pa.Table:
    """The columns (an optional one missing from the files reads as all null)."""
    dataset = _dataset(path)
    missing = [c for c in columns if c not in dataset.schema.names]
    if missing:
        raise EventsError(f"{path}: missing column(s) {', '.join(missing)}")
    present = [c for c in optional if c in dataset.schema.names]
    try:
        table = dataset.to_table(columns=[*columns, *present])
    except (pa.ArrowInvalid, OSError) as exc:
        raise EventsError(f"{path}: unreadable: {str(exc).splitlines()[0]}") from None
    for name in optional:
        if name not in present:
            table = table.append_column(name, pa.nulls(table.num_rows, pa.string()))
    return table


def _floats(table: pa.Table, name: str, where: Path) -> np.ndarray:
    col = table.column(name)
    try:
        arr = np.asarray(col.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise EventsError(f"{where}: column {name} is not numeric") from None
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise EventsError(f"{where}: column {name} is empty or not finite in {bad.size} row(s)")
    return arr


def _codes(values: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = pc.dictionary_encode(values.combine_chunks())
    return np.asarray(
        encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64
    ), encoded.dictionary.to_pylist()


def read_events(directory: str | Path) -> EventData:
    root = Path(directory)
    exp = _read(root / "exposures", EXPOSURE_COLUMNS, OPTIONAL_EXPOSURE_COLUMNS)
    picks = _read(root / "picks", PICK_COLUMNS)
    for name, table in (("exposures", exp), ("picks", picks)):
        for col in ("shopper", "product"):
            if table.column(col).null_count:
                raise EventsError(
                    f"{root / name}: column {col} is empty in {table.column(col).null_count} row(s)"
                )
    group = pc.cast(exp.column("group"), pa.string())
    unknown = pc.unique(pc.filter(group, pc.invert(pc.is_in(group, pa.array(GROUPS)))))
    if len(unknown) or group.null_count:
        shown = ", ".join(repr(v) for v in unknown.to_pylist()[:3]) or "empty"
        raise EventsError(f"{root / 'exposures'}: group must be one of {', '.join(GROUPS)}; found {shown}")
    variant = pc.fill_null(pc.cast(exp.column("variant"), pa.string()), "")
    treated = pc.equal(group, "treated")
    if pc.any(pc.and_(treated, pc.equal(variant, ""))).as_py():
        raise EventsError(f"{root / 'exposures'}: a treated exposure has no variant")
    # the experiment holdout splits by shadow variant ("holdout:ev"): variant v's control
    shadow = pc.fill_null(pc.cast(exp.column("shadow_variant"), pa.string()), "")
    split = pc.and_(pc.equal(group, HOLDOUT), pc.not_equal(shadow, ""))
    control = pc.if_else(split, pc.binary_join_element_wise(group, shadow, SHADOW_SEP), group)
    arm_codes, arms = _codes(pc.if_else(treated, variant, control))
    campaign = pc.fill_null(pc.cast(exp.column("campaign"), pa.string()), ORGANIC)
    campaign = pc.if_else(pc.equal(campaign, ""), ORGANIC, campaign)
    camp_codes, campaigns = _codes(campaign)
    store_codes, stores = _codes(pc.cast(exp.column("store_id"), pa.string()))
    shopper_codes, shoppers = _codes(
        pa.chunked_array(
            pc.cast(exp.column("shopper"), pa.string()).chunks
            + pc.cast(picks.column("shopper"), pa.string()).chunks,
            type=pa.string(),
        )
    )
    product_codes, products = _codes(
        pa.chunked_array(
            pc.cast(exp.column("product"), pa.string()).chunks
            + pc.cast(picks.column("product"), pa.string()).chunks,
            type=pa.string(),
        )
    )
    n_exp = exp.num_rows
    exposures = Exposures(
        _floats(exp, "t", root / "exposures"),
        shopper_codes[:n_exp],
        product_codes[:n_exp],
        store_codes,
        camp_codes,
        arm_codes,
    )
    pick_rows = Picks(
        _floats(picks, "t", root / "picks"),
        shopper_codes[n_exp:],
        product_codes[n_exp:],
        _floats(picks, "price", root / "picks"),
        _floats(picks, "margin", root / "picks"),
    )
    return EventData(exposures, pick_rows, Labels(campaigns, arms, stores), products, shoppers)


def read_picks(directory: str | Path) -> tuple[Picks, list[str], list[str]]:
    """Only the picks (for decision rewards): the rows and the shopper and product names of their codes."""
    root = Path(directory)
    picks = _read(root / "picks", PICK_COLUMNS)
    shopper_codes, shoppers = _codes(pc.cast(picks.column("shopper"), pa.string()))
    product_codes, products = _codes(pc.cast(picks.column("product"), pa.string()))
    where = root / "picks"
    rows = Picks(
        _floats(picks, "t", where), shopper_codes, product_codes, _floats(picks, "price", where),
        _floats(picks, "margin", where),
    )  # fmt: skip
    return rows, shoppers, products


def _partition_columns(table: pa.Table, store: pa.Array) -> pa.Table:
    seconds = pc.floor(table.column("t")).cast(pa.int64())
    day = pc.strftime(seconds.cast(pa.timestamp("s", "UTC")), "%Y-%m-%d")
    return table.append_column("day", day).append_column("store_id", store)


def write_events(
    directory: str | Path,
    exposures: pa.Table,
    exposure_store: pa.Array,
    picks: pa.Table,
    pick_store: pa.Array,
) -> None:
    """Write both datasets as the central export does: Parquet, partitioned by day and store."""
    root = Path(directory)
    part = ds.partitioning(PARTITION, flavor="hive")
    for name, table, store, schema in (
        ("exposures", exposures, exposure_store, EXPOSURE_SCHEMA),
        ("picks", picks, pick_store, PICK_SCHEMA),
    ):
        table = table.select(schema.names).cast(schema)
        ds.write_dataset(
            _partition_columns(table, store),
            str(root / name),
            format="parquet",
            partitioning=part,
            existing_data_behavior="overwrite_or_ignore",
            basename_template="part-{i}.parquet",
        )
