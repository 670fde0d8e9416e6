"""The engine layer: each operation gives the same rows with the same types on DuckDB and on
Spark (local[2], Hive-style Parquet in a lake folder), checked against hand-worked values."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl
import pytest

from pipeline.config import Config
from pipeline.engine.base import Engine
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.warehouse import connect
from tests.stage_parity import parts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.engine.spark_engine import SparkEngine

D1, D2 = date(2026, 11, 26), date(2026, 11, 27)

TXNS = [
    # txn_id, txn_date, customer, channel, code, direction, amount, delivered
    ("T1", D1, "C1", "NET", "POS", "D", "10.10", D1),
    ("T2", D2, "C1", "NET", "POS", "D", "3.33", D2),
    ("T3", D2, "C2", "CTR", "TRO", "D", "1.00", D2),
    ("T4", D1, "C2", "POS", "POS", "D", "7.00", D2),  # a late posting, delivered on D2
    ("T5", D2, "C2", "NET", "QRY", "N", "0.00", D2),
]


def _warehouse(cfg: Config) -> duckdb.DuckDBPyConnection:
    con = connect(cfg)
    for n, (tid, day, cid, channel, code, direction, amount, delivered) in enumerate(TXNS):
        con.execute(
            "insert into stg_transactions (txn_id, txn_date, txn_time, customer_id, account_id, "
            "channel, txn_code, direction, amount, currency, fee, branch_id, business_date, "
            "line_number) values (?, ?, time '10:00:00', ?, 'A1', ?, ?, ?, ?, 'CNY', 0, 'B001', "
            "?, ?)",
            [tid, day, cid, channel, code, direction, Decimal(amount), delivered, n],
        )
    return con


@pytest.fixture
def engines(cfg: Config, spark: SparkSession, tmp_path: Path) -> tuple[DuckDBEngine, SparkEngine]:
    """The same warehouse on both engines: DuckDB's file, and its base tables in a lake."""
    from pipeline.engine.lake import BASE_TABLES, load_lake
    from pipeline.engine.spark_engine import SparkEngine

    con = _warehouse(cfg)
    lake = SparkEngine(spark, tmp_path / "lake")
    loaded = load_lake(con, lake)
    assert loaded == {**dict.fromkeys(BASE_TABLES, 0), "stg_transactions": 5}
    duck = DuckDBEngine(con)
    # each column keeps its DuckDB type (the history tables' UBIGINT row_hash is stored as
    # DECIMAL(20,0): Spark has no unsigned integers)
    assert duck.columns("hist_accounts") == lake.columns("hist_accounts")
    assert duck.columns("stg_transactions") == lake.columns("stg_transactions")
    # the schema's views of the base tables, which the SQL files read, as on DuckDB
    from pipeline.engine.spark_engine import BASE_VIEWS

    for view in BASE_VIEWS:
        assert duck.columns(view) == lake.columns(view), view
    assert duck.read("select * from transactions order by txn_id").equals(
        lake.read("select * from transactions order by txn_id")
    )
    return duck, lake


SPEND = """
    select customer_id, $business_date as business_date, count(*) as txn_count,
           sum(amount) as amount_total,
           cast(sum(amount) / 3 as decimal(18, 2)) as third_amount
    from stg_transactions
    where business_date <= $business_date and direction <> 'N'
    group by customer_id
"""


def _table(engine: Engine, table: str) -> pl.DataFrame:
    order = ", ".join(name for name, _ in engine.columns(table))
    return engine.read(f"select * from {table} order by {order}")


def test_partitions_replace_by_date_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine],
) -> None:
    for engine in engines:
        assert engine.replace_partition("int_spend", SPEND, D2, {"business_date": D2}) == 2
        assert engine.replace_partition("int_spend", SPEND, D1, {"business_date": D1}) == 1
        # a re-run replaces the date's rows, it does not append
        assert engine.replace_partition("int_spend", SPEND, D2, {"business_date": D2}) == 2
    duck, lake = (_table(e, "int_spend") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("int_spend") == engines[1].columns("int_spend")
    assert dict(engines[1].columns("int_spend"))["third_amount"] == "DECIMAL(18,2)"
    # by hand: C1 on D2 spent 10.10 + 3.33 = 13.43, a third 4.4766... -> 4.48;
    # C2 1.00 + 7.00 = 8.00 -> 2.67 (the QRY row moves no money)
    rows = {(r[0], r[1]): r[2:] for r in lake.iter_rows()}
    assert rows[("C1", D2)] == (2, Decimal("13.43"), Decimal("4.48"))
    assert rows[("C2", D2)] == (2, Decimal("8.00"), Decimal("2.67"))
    assert rows[("C1", D1)] == (1, Decimal("10.10"), Decimal("3.37"))


def test_an_empty_result_empties_its_partition(
    engines: tuple[DuckDBEngine, SparkEngine],
) -> None:
    for engine in engines:
        engine.replace_partition("int_spend", SPEND, D2, {"business_date": D2})
        engine.replace_partition("int_spend", SPEND, D1, {"business_date": D1})
        nothing = SPEND.replace("direction <> 'N'", "false")
        assert engine.replace_partition("int_spend", nothing, D2, {"business_date": D2}) == 0
        assert _table(engine, "int_spend")["business_date"].to_list() == [D1]


def test_frames_new_columns_and_scratch_tables_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine],
) -> None:
    scores = pl.DataFrame(
        {"customer_id": ["C1", "C2"], "score": [1.5, None]},
        schema={"customer_id": pl.String, "score": pl.Float64},
    )
    rates = pl.DataFrame(
        {"channel": ["NET", "CTR"], "unit_cost_amount": [Decimal("0.50"), Decimal("12.00")]},
        schema={"channel": pl.String, "unit_cost_amount": pl.Decimal(18, 2)},
    )
    cost = """
        select t.customer_id, $business_date as business_date,
               sum(r.unit_cost_amount) as cost_amount
        from stg_transactions t join ref_costs r using (channel)
        where t.business_date = $business_date
        group by t.customer_id
    """
    for engine in engines:
        assert engine.write_partition("int_score", scores, D1) == 2
        # a later date brings a column the table has not: NULL on the earlier date
        assert engine.write_partition("int_score", scores.with_columns(rank=pl.lit(1)), D2) == 2
        engine.temp_frame("ref_costs", rates)
        assert engine.replace_partition("int_cost", cost, D2, {"business_date": D2}) == 2
        assert engine.table_exists("int_score") and engine.table_exists("ref_costs")
    for table in ("int_score", "int_cost"):
        duck, lake = (_table(e, table) for e in engines)
        assert duck.equals(lake), (table, duck, lake)
        assert engines[0].columns(table) == engines[1].columns(table)
    score = _table(engines[1], "int_score")
    assert score.filter(pl.col("business_date") == D1)["rank"].to_list() == [None, None]
    assert score.filter(pl.col("business_date") == D2)["rank"].to_list() == [1, 1]
    # C1: one NET (0.50); C2: one CTR, one NET query (12.00 + 0.50); POS is not priced here
    assert dict(_table(engines[1], "int_cost").select("customer_id", "cost_amount").rows()) == {
        "C1": Decimal("0.50"),
        "C2": Decimal("12.50"),
    }
    for engine in engines:
        engine.drop("int_score")
        assert not engine.table_exists("int_score")


def test_a_per_customer_function_maps_the_same_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine], spark: SparkSession
) -> None:
    """map_frame: DuckDB gives the function every row at once, Spark one part of the customers
    at a time; each customer's rows stay together in one part (C1's two rows are in two
    business-date folders of the lake, so they meet only by the repartition)."""

    def per_customer(rows: pl.DataFrame) -> pl.DataFrame:
        return rows.group_by("customer_id").agg(
            total_amount=pl.col("amount").sum(), txns=pl.len(), extra=pl.lit("x")
        )

    columns = [("customer_id", "VARCHAR"), ("total_amount", "DECIMAL(18,2)")]
    columns += [("txns", "INTEGER"), ("absent", "DATE")]
    query = "select customer_id, amount from stg_transactions where business_date <= $d"
    with parts(spark, 3):  # three parts of two customers: one part empty
        for engine in engines:
            engine.map_frame("per_customer", query, {"d": D2, "unused": 1}, per_customer, columns)
    duck, lake = (_table(e, "per_customer") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("per_customer") == engines[1].columns("per_customer") == columns
    # by hand: C1 10.10 + 3.33; C2 1.00 + 7.00 + 0.00 (the query row); the frame's extra
    # column left out, the declared column it lacks null
    assert lake.rows() == [
        ("C1", Decimal("13.43"), 2, None),
        ("C2", Decimal("8.00"), 3, None),
    ]


def test_a_sql_file_materialises_the_same_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine], cfg: Config, spark: SparkSession, tmp_path: Path
) -> None:
    from pipeline.engine.spark_engine import SparkEngine

    params = {
        "business_date": D2,
        "first_date": D1,
        "event_txn_codes": list(cfg.clv.events.txn_codes),
        "event_channels": list(cfg.clv.events.channels),
    }
    for engine in engines:
        assert engine.run_file("clv/agg_customer_event_day", params) > 0
    duck, lake = (_table(e, "agg_customer_event_day") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("agg_customer_event_day") == engines[1].columns(
        "agg_customer_event_day"
    )
    # the next run's session finds the lake's tables with their types
    again = SparkEngine(spark, tmp_path / "lake")
    assert again.columns("agg_customer_event_day") == engines[0].columns("agg_customer_event_day")
    assert _table(again, "agg_customer_event_day").equals(duck)


def test_a_spark_run_opens_its_engine_from_the_config(
    cfg: Config, spark: SparkSession, tmp_path: Path
) -> None:
    from pipeline.config.engine import EngineConfig, SparkConfig
    from pipeline.engine.choose import open_engine
    from pipeline.engine.spark import SESSION_CONF
    from pipeline.engine.spark_engine import SparkEngine

    lake = tmp_path / "lake"
    chosen = cfg.model_copy(
        update={"engine": EngineConfig(name="spark", spark=SparkConfig(lake=lake))}
    )
    con = connect(cfg)
    engine = open_engine(con, chosen)
    assert isinstance(engine, SparkEngine) and engine.lake == lake
    for key, value in SESSION_CONF.items():
        assert engine.spark.conf.get(key) == value
    assert isinstance(open_engine(con, cfg), DuckDBEngine)


MONTHLY = """
    select customer_id, $month as month_start, count(*) as txn_count, sum(amount) as amount_total
    from stg_transactions
    where business_date <= $as_of and direction <> 'N'
    group by customer_id
"""


def test_months_replaced_and_rows_deleted_by_predicate_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine], tmp_path: Path
) -> None:
    oct1, nov1 = date(2026, 10, 1), date(2026, 11, 1)
    one_month = "month_start = $month"
    narrower = MONTHLY.replace("sum(amount)", "cast(sum(amount) as decimal(20, 2))")
    for engine in engines:
        # as of D1 only C1's 10.10 is delivered (C2's late posting came on D2)
        assert (
            engine.replace_where(
                "agg_m", MONTHLY, one_month, {"month": nov1, "as_of": D1}, key="month_start"
            )
            == 1
        )
        assert engine.replace_where("agg_m", MONTHLY, one_month, {"month": oct1, "as_of": D2}) == 2
        # a re-run of November replaces its row, October stays
        assert engine.replace_where("agg_m", MONTHLY, one_month, {"month": nov1, "as_of": D2}) == 2
        assert dict(engine.columns("agg_m"))["amount_total"] == "DECIMAL(38,2)"
        assert (
            engine.delete_where(
                "agg_m", "month_start = $month and customer_id = 'C2'", {"month": oct1, "as_of": D2}
            )
            == 1
        )
        assert engine.delete_where("agg_m", "txn_count > $n", {"n": 5}) == 0
        # a range of months replaced by October's rows alone, in the query's (new) type:
        # November's rows go with nothing in their place
        between = "month_start between $month_from and $month_to"
        args = {"month": oct1, "as_of": D2, "month_from": oct1, "month_to": nov1}
        assert engine.replace_where("agg_m", narrower, between, args) == 2
        assert engine.describe(narrower, args) == [
            ("customer_id", "VARCHAR"),
            ("month_start", "DATE"),
            ("txn_count", "BIGINT"),
            ("amount_total", "DECIMAL(20,2)"),
        ]
        assert engine.temp_query("agg_m_c1", "select * from agg_m where customer_id = 'C1'") == 1
    duck, lake = (_table(e, "agg_m") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("agg_m") == engines[1].columns("agg_m")
    assert dict(engines[1].columns("agg_m"))["amount_total"] == "DECIMAL(20,2)"
    # by hand: C1 10.10 + 3.33, C2 1.00 + 7.00 (the QRY row moves no money), all in October
    assert lake.rows() == [("C1", oct1, 2, Decimal("13.43")), ("C2", oct1, 2, Decimal("8.00"))]
    assert _table(engines[1], "agg_m_c1").equals(_table(engines[0], "agg_m_c1"))
    # on Spark: one folder per month, November's removed
    assert sorted(p.name for p in (tmp_path / "lake" / "agg_m").glob("month_start=*")) == [
        "month_start=2026-10-01"
    ]


def test_a_declared_table_keeps_its_types_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine],
) -> None:
    declared = "customer_id varchar not null, business_date date not null, age integer"
    first = pl.DataFrame({"customer_id": ["C1", "C2"], "age": [41, 7], "score": [0.5, 1.5]})
    later = pl.DataFrame({"customer_id": ["C1"], "age": [42], "tier": ["gold"]})
    for engine in engines:
        engine.ensure_table("int_people", declared + ", score double not null", "business_date")
        assert engine.read("select count(*) as n from int_people")["n"][0] == 0
        # polars' Int64 age goes into the declared integer column
        assert engine.write_partition("int_people", first, D1) == 2
        # a later version declares a new column (NULL on D1) and score nullable: D2's frame
        # has no score
        again = declared + ", score double, tier varchar"
        engine.ensure_table("int_people", again, "business_date")
        engine.ensure_table("int_people", again, "business_date")  # nothing left to do
        assert engine.write_partition("int_people", later, D2) == 1
    for engine in engines:
        assert engine.columns("int_people") == [
            ("customer_id", "VARCHAR"),
            ("business_date", "DATE"),
            ("age", "INTEGER"),
            ("score", "DOUBLE"),
            ("tier", "VARCHAR"),
        ]
    duck, lake = (_table(e, "int_people") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert lake.rows() == [
        ("C1", D1, 41, 0.5, None),
        ("C1", D2, 42, None, "gold"),
        ("C2", D1, 7, 1.5, None),
    ]


def test_a_frame_replaces_the_rows_a_predicate_selects_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine],
) -> None:
    declared = "model_version varchar not null, product_code varchar, takers integer, model blob"
    v1 = pl.DataFrame(
        {"model_version": ["v1", "v1"], "product_code": ["WMP", "TDA"], "takers": [3, 0]}
    ).with_columns(model=pl.Series([b"\x80\x05", None], dtype=pl.Binary))
    v2 = pl.DataFrame({"model_version": ["v2"], "product_code": ["WMP"], "takers": [9]})
    for engine in engines:
        engine.ensure_table("models", declared)
        assert engine.replace_frame("models", v1, "model_version = $v", {"v": "v1"}) == 2
        assert engine.replace_frame("models", v2, "model_version = $v", {"v": "v2"}) == 1
        # v1 refitted: its rows replaced, v2's kept; polars' Int64 stays the declared INTEGER
        again = v1.head(1).with_columns(takers=pl.lit(4))
        assert engine.replace_frame("models", again, "model_version = $v", {"v": "v1"}) == 1
    for engine in engines:
        assert dict(engine.columns("models"))["takers"] == "INTEGER"
    duck, lake = (_table(e, "models") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert lake.rows() == [("v1", "WMP", 4, b"\x80\x05"), ("v2", "WMP", 9, None)]
    for engine in engines:  # every row replaced
        assert engine.replace_frame("models", v2, "true") == 1
        assert engine.read("select count(*) as n from models")["n"][0] == 1


def test_a_partitions_selected_rows_replaced_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine], tmp_path: Path
) -> None:
    """A date's rows of some channels replaced, the date's others and other dates kept (a
    re-sent transaction file); ``false`` selects no row: the query's rows are added."""
    resent = pl.DataFrame(
        {
            "txn_id": ["T6", "T7"],
            "channel": ["NET", "NET"],
            "amount": [Decimal("5.55"), Decimal("0.45")],
            "line_number": [1, 2],
        },
        schema={
            "txn_id": pl.String,
            "channel": pl.String,
            "amount": pl.Decimal(18, 2),
            "line_number": pl.Int64,
        },
    )
    rows = """
        select txn_id, $business_date as txn_date, cast('10:00:00' as time) as txn_time,
            'C1' as customer_id, 'A1' as account_id, channel, 'POS' as txn_code,
            'D' as direction, amount, 'CNY' as currency, $business_date as business_date,
            line_number
        from resent_txns
        where list_contains($channels, channel)
    """
    of_channels = "list_contains($channels, channel)"
    for engine in engines:
        engine.temp_frame("resent_txns", resent)
        args = {"business_date": D2, "channels": ["NET"]}
        # D2's NET rows T2 and T5 replaced by T6 and T7; its CTR and POS rows stay
        assert engine.replace_partition("stg_transactions", rows, D2, args, where=of_channels) == 2
        # a channel with no rows now: D2's CTR row goes, nothing in its place
        none = {"business_date": D2, "channels": ["CTR"]}
        assert engine.replace_partition("stg_transactions", rows, D2, none, where=of_channels) == 0
        # rows added to a date (D1) without removing any
        added = {"business_date": D1, "channels": ["NET"]}
        assert engine.replace_partition("stg_transactions", rows, D1, added, where="false") == 2
    duck, lake = (
        e.read("select * from stg_transactions order by txn_id, business_date") for e in engines
    )
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("stg_transactions") == engines[1].columns("stg_transactions")
    # by hand: T1 (D1) kept; T6, T7 added to D1 and replacing T2, T5 on D2; T3 (CTR) gone;
    # T4 (POS, delivered D2) kept
    assert lake.select("txn_id", "business_date", "channel", "amount").rows() == [
        ("T1", D1, "NET", Decimal("10.10")),
        ("T4", D2, "POS", Decimal("7.00")),
        ("T6", D1, "NET", Decimal("5.55")),
        ("T6", D2, "NET", Decimal("5.55")),
        ("T7", D1, "NET", Decimal("0.45")),
        ("T7", D2, "NET", Decimal("0.45")),
    ]
    # the columns the query has not are NULL; the stored types are kept
    assert (
        engines[1]
        .read("select count(*) as n from stg_transactions where txn_id = 'T6' and fee is null")
        .item()
        == 2
    )
    assert sorted(p.name for p in (tmp_path / "lake" / "stg_transactions").glob("business_*")) == [
        "business_date=2026-11-26",
        "business_date=2026-11-27",
    ]


def test_rows_updated_from_a_query_on_both_engines(
    engines: tuple[DuckDBEngine, SparkEngine], tmp_path: Path
) -> None:
    """update_from sets a column of the rows a query matches, leaves the others as they are
    (the clv stage's first-delivery marks: the earliest delivery of a customer's day)."""
    marks = (
        "select distinct customer_id, txn_date as event_date, business_date, "
        "false as is_first from stg_transactions"
    )
    first = (
        "select customer_id, event_date, min(business_date) as first_delivery from marks "
        "where event_date >= $low group by customer_id, event_date"
    )
    on = (
        "t.customer_id = s.customer_id and t.event_date = s.event_date "
        "and t.is_first is distinct from (t.business_date = s.first_delivery)"
    )
    sets = {"is_first": "t.business_date = s.first_delivery"}
    for engine in engines:
        assert engine.replace_where("marks", marks, "false", key="business_date") == 4
        # D2's days: C1's and C2's on-time rows are their first delivery; C2's D1 posting,
        # delivered late on D2, is before $low and keeps its mark
        assert engine.update_from("marks", sets, first, on, {"low": D2}) == 2
        assert engine.update_from("marks", sets, first, on, {"low": D2}) == 0  # none changes
    duck, lake = (_table(e, "marks") for e in engines)
    assert duck.equals(lake), (duck, lake)
    assert engines[0].columns("marks") == engines[1].columns("marks")
    assert lake.rows() == [
        ("C1", D1, D1, False),
        ("C1", D2, D2, True),
        ("C2", D1, D2, False),
        ("C2", D2, D2, True),
    ]
    # on Spark the table keeps its partitions by business date
    assert sorted(p.name for p in (tmp_path / "lake" / "marks").glob("business_date=*")) == [
        "business_date=2026-11-26",
        "business_date=2026-11-27",
    ]
