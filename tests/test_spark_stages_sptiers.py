"""The tiers and export stages on Spark: what they compute there is what DuckDB computes,
checked against independent references (hashlib) and the DuckDB engine row by row."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.stages.cross_sell import sample_md5_below

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


def test_the_cross_sell_sample_picks_the_same_customers_on_both_engines(
    spark: SparkSession, tmp_path: Path
) -> None:
    """int_cross_sell_inputs samples by ``md5(customer_id) < bound``: both engines' md5 is
    hashlib's (lowercase hex of the UTF-8 bytes), so Spark trains on DuckDB's customers."""
    from pipeline.engine.spark_engine import SparkEngine

    ids = [f"C{n:09d}" for n in range(200)] + ["客户00001"]
    bound = sample_md5_below(300)
    expected = sorted(c for c in ids if hashlib.md5(c.encode("utf-8")).hexdigest() < bound)
    assert 40 < len(expected) < 80  # about 300 of 1000
    query = "select customer_id from sample_ids where md5(customer_id) < $bound order by 1"
    for engine in (DuckDBEngine(duckdb.connect()), SparkEngine(spark, tmp_path / "lake")):
        engine.temp_frame("sample_ids", pl.DataFrame({"customer_id": ids}))
        got = engine.read(query, {"bound": bound})["customer_id"].to_list()
        assert got == expected, engine.name
