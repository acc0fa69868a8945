"""One SparkSession for the whole test run (local mode, 2 cores), and small real data slices."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from pyspark.sql import SparkSession

from models.jobs.session import SparkSettings, start_spark
from models.offers.transactions import convert_online_retail

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
ONLINE_RETAIL = DATA / "online_retail.csv.gz"
COMPLETE_JOURNEY = DATA / "completejourney_transactions_sample.csv.gz"


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    settings = SparkSettings(
        app_name="tests",
        master="local[2]",
        driver_memory="1g",
        shuffle_partitions=2,
        extra={"spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "false"},
    )
    session = start_spark(settings)
    yield session
    session.stop()


@pytest.fixture(scope="session")
def retail_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TX.csv of the first 12,000 lines of Online Retail (about 450 baskets)."""
    folder = tmp_path_factory.mktemp("retail")
    raw = folder / "slice.csv"
    with gzip.open(ONLINE_RETAIL, "rt", encoding="utf-8") as src:
        raw.write_text("".join(itertools.islice(src, 12_001)), encoding="utf-8")
    tx = folder / "tx.csv"
    convert_online_retail(raw, tx)
    return tx
