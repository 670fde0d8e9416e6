"""The tiers and export stages on Spark: what they compute there is what DuckDB computes,
checked against independent references (hashlib) and the DuckDB engine row by row."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest

from pipeline.config import Config
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.errors import ExportBlocked
from pipeline.export import sha256_file, verify_export
from pipeline.privacy import counterparty_ref, ref_key
from pipeline.sampling import sample_md5_below
from pipeline.sql_lint import lint_sql
from pipeline.stages.export import QUERIES
from pipeline.stages.export import STAGE as EXPORT
from tests.conftest import DAY, run_stage_for
from tests.test_export import prepared, run_export

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


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_export_query_is_portable_sql(name: str) -> None:
    assert [str(f) for f in lint_sql(QUERIES[name], name)] == []


def test_the_export_on_spark_writes_duckdb_s_files_byte_for_byte(
    cfg: Config, spark: SparkSession, tmp_path: Path
) -> None:
    """The export of a tiered warehouse, once on DuckDB and once on Spark over a lake holding
    the same tables: every Parquet file has the same bytes (same rows, order, types, masked
    mobiles and counterparty references), and a failed check refuses the export on Spark too."""
    from pipeline.engine.lake import load_lake
    from pipeline.engine.spark_engine import SparkEngine
    from tests.stage_parity import data_tables

    cfg, con = prepared(cfg)
    run_export(cfg, con)
    lake = SparkEngine(spark, tmp_path / "lake")
    load_lake(con, lake, [t for t in data_tables(con) if t in EXPORT.reads])
    on_spark = cfg.model_copy(
        update={"paths": cfg.paths.model_copy(update={"export_dir": tmp_path / "spark"})}
    )
    run_stage_for(con, on_spark, EXPORT, engine=lake)
    duck, other = cfg.paths.export_dir / "20261127", tmp_path / "spark" / "20261127"
    assert verify_export(other) == []
    files = sorted(p.name for p in duck.glob("*.parquet"))
    assert files == sorted(p.name for p in other.glob("*.parquet")) and len(files) == 8
    for name in files:
        assert sha256_file(duck / name) == sha256_file(other / name), name
    refs = pq.read_table(other / "merchant_network.parquet").column("counterparty_ref")
    assert counterparty_ref(ref_key(cfg), "6222000011112222") in refs.to_pylist()

    failed = pl.DataFrame({"check_name": ["x"], "failing_rows": [1], "is_ok": [False]})
    lake.write_partition("tiers_consistency", failed, DAY)
    with pytest.raises(ExportBlocked, match="check tiers_consistency: 1 failed rows"):
        run_stage_for(con, on_spark, EXPORT, engine=lake)
