"""The translation layer (pipeline/engine/translate.py): each fix-up runs its construct on
DuckDB and, translated, on Spark, over a hand-made table; both must give the hand-worked rows."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlglot

from pipeline.engine.record import decode_params, encode_params
from pipeline.engine.replay import _plain
from pipeline.engine.translate import parse_body, spark_sql

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

# amounts chosen where rounding tells the engines apart. DuckDB multiplies the DOUBLE quotient
# by 100 in DOUBLE and rounds half away from zero: 1.005 * 100 is 100.49999999999999 (-> 1.00),
# 0.285 * 100 is 28.499999999999996 (-> 0.28), 0.125 * 100 is 12.5 (a tie: -> 0.13); Spark's
# plain cast rounds the double's shortest text half up (1.005 -> 1.01, 0.285 -> 0.29)
QUOTIENTS = """
    select * from (values
        (1, cast(1.005 as decimal(18, 3)), 1),
        (2, cast(0.285 as decimal(18, 3)), 1),
        (3, cast(0.125 as decimal(18, 3)), 1),
        (4, cast(-0.125 as decimal(18, 3)), 1),
        (5, cast(10.000 as decimal(18, 3)), 3),
        (6, cast(5.000 as decimal(18, 3)), 2),
        (7, cast(7.000 as decimal(18, 3)), 2),
        (8, cast(-5.000 as decimal(18, 3)), 2),
        (9, cast(8.000 as decimal(18, 3)), 3)
    ) v(k, amount, n)
"""


def run_both(
    spark: SparkSession,
    folder: Path,
    body: str,
    table: str,
    params: dict[str, Any] | None = None,
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """``body`` over the table ``t`` (DuckDB's rows of ``table``, handed to Spark in Parquet as
    the replay does) on both engines, rows sorted."""
    con = duckdb.connect()
    con.execute(f"create table t as {table}")
    duck = sorted(con.execute(body, params or {}).fetchall(), key=repr)
    path = folder / "t.parquet"
    pq.write_table(con.execute("select * from t").to_arrow_table(), path)
    spark.read.parquet(str(path)).createOrReplaceTempView("t")
    rows = spark.sql(spark_sql(body, params or {})).collect()
    return duck, sorted((tuple(_plain(v) for v in r) for r in rows), key=repr)


def test_money_from_a_quotient_rounds_as_duckdb(spark: SparkSession, tmp_path: Path) -> None:
    body = "select k, cast(amount / n as decimal(18, 2)) as share_amount from t"
    duck, rows = run_both(spark, tmp_path, body, QUOTIENTS)
    cents = ["1.00", "0.28", "0.13", "-0.13", "3.33", "2.50", "3.50", "-2.50", "2.67"]
    assert duck == [(k, Decimal(c)) for k, c in enumerate(cents, 1)]
    assert rows == duck
    # plain sqlglot divides in DECIMAL and rounds the exact quotient: 1.005 -> 1.01
    plain = sqlglot.transpile(body, read="duckdb", write="spark")[0]
    assert (1, Decimal("1.01")) in [tuple(r) for r in spark.sql(plain).collect()]


def test_an_integer_from_a_quotient_rounds_half_to_even_as_duckdb(
    spark: SparkSession, tmp_path: Path
) -> None:
    body = "select k, cast(amount / n as integer) as whole from t where k >= 5"
    duck, rows = run_both(spark, tmp_path, body, QUOTIENTS)
    assert duck == [(5, 3), (6, 2), (7, 4), (8, -2), (9, 3)]  # 2.5 -> 2, 3.5 -> 4, -2.5 -> -2
    assert rows == duck


def test_a_rounded_quotient_rounds_as_duckdb(spark: SparkSession, tmp_path: Path) -> None:
    body = (
        "select k, round(amount / n, 2) as share,"
        " cast(round(amount / n, 2) as decimal(18, 2)) as share_amount from t where k <= 4"
    )
    duck, rows = run_both(spark, tmp_path, body, QUOTIENTS)
    cents = ["1.00", "0.28", "0.13", "-0.13"]
    assert duck == [(k, float(c), Decimal(c)) for k, c in enumerate(cents, 1)]
    assert rows == duck


def test_list_keeps_null_elements_with_and_without_filter(
    spark: SparkSession, tmp_path: Path
) -> None:
    body = (
        "select g, list_sort(list(x)) as xs, list_sort(list(x) filter (where x > 1 or x is null))"
        " as big from t group by g"
    )
    table = "select * from (values (1, 1), (1, null), (1, 3), (2, null)) v(g, x)"
    duck, rows = run_both(spark, tmp_path, body, table)
    assert duck == [(1, [1, 3, None], [3, None]), (2, [None], [None])]
    assert rows == [(g, tuple(a), tuple(b)) for g, a, b in duck]


def test_list_extract_and_list_position_are_one_based_and_null_when_absent(
    spark: SparkSession, tmp_path: Path
) -> None:
    body = (
        "select i, list_extract(l, i) as at_i, list_position(l, 'b') as b_at,"
        " list_position(l, 'z') as z_at from t"
    )
    table = "select ['a', 'b', 'c'] as l, unnest([1, 3, 4]) as i"
    duck, rows = run_both(spark, tmp_path, body, table)
    assert duck == [(1, "a", 2, None), (3, "c", 2, None), (4, None, 2, None)]
    assert rows == duck


def test_months_added_to_a_date_clamp_to_the_month_end(spark: SparkSession, tmp_path: Path) -> None:
    body = (
        "select cast(d + to_months(1) as date) as next_month,"
        " cast(d - to_years(1) as date) as year_before from t"
    )
    table = "select date '2024-01-31' as d union all select date '2024-02-29'"
    duck, rows = run_both(spark, tmp_path, body, table)
    assert duck == [
        (date(2024, 2, 29), date(2023, 1, 31)),
        (date(2024, 3, 29), date(2023, 2, 28)),
    ]
    assert rows == duck


def test_a_window_of_a_param_s_days(spark: SparkSession, tmp_path: Path) -> None:
    body = (
        "select d, sum(x) over (order by d range between interval ($days) day preceding"
        " and current row) as recent from t"
    )
    table = (
        "select * from (values (date '2026-11-01', 1), (date '2026-11-02', 2),"
        " (date '2026-11-05', 4)) v(d, x)"
    )
    duck, rows = run_both(spark, tmp_path, body, table, {"days": 2})
    assert duck == [(date(2026, 11, 1), 1), (date(2026, 11, 2), 3), (date(2026, 11, 5), 4)]
    assert rows == duck


def test_params_become_literals_of_duckdbs_types(spark: SparkSession, tmp_path: Path) -> None:
    params = {
        "day": date(2026, 11, 27),
        "rate": Decimal("0.0350"),
        "n": 3,
        "big": 2**40,
        "ratio": 0.25,
        "name": "it's",
        "flag": True,
        "none": None,
        "tiers": ["gold", "mass"],
    }
    body = (
        "with m as materialized (select 1 as one) "
        "select $day + 1 as next_day, $rate * 2 as rate2, $n + $big as total, $ratio as ratio,"
        " $name as name, $flag as flag, $none is null as none_is_null,"
        " list_extract($tiers, 2) as second, list_extract($tiers, len($tiers)) as last from m"
    )
    duck, rows = run_both(spark, tmp_path, body, "select 1 as x", params)
    assert duck == [
        (date(2026, 11, 28), Decimal("0.0700"), 3 + 2**40, 0.25, "it's", True, True, "mass", "mass")
    ]
    assert rows == duck


def test_decimal_products_keep_duckdbs_scale(spark: SparkSession, tmp_path: Path) -> None:
    # (12, 6) x (18, 2) is (30, 8) on both; plus a (38, 8) it passes 38 digits, where Spark's
    # default would cut the scale to 6 (spark.sql.decimalOperations.allowPrecisionLoss)
    body = "select sum(rate * days - carry) as num from t"
    table = (
        "select cast(1.234567 as decimal(12, 6)) as rate, cast(30.5 as decimal(18, 2)) as days,"
        " cast(0.00000001 as decimal(38, 8)) as carry"
    )
    duck, rows = run_both(spark, tmp_path, body, table)
    assert duck == [(Decimal("37.65429349"),)]
    assert rows == duck


def test_division_by_zero_fails_on_spark_instead_of_a_silent_value(spark: SparkSession) -> None:
    """DuckDB gives inf; Spark in ANSI mode (pipeline/engine/spark.py) raises: never a silent
    NULL. The SQL files guard their divisors with nullif."""
    con = duckdb.connect()
    assert con.execute("select 1 / 0").fetchone() == (float("inf"),)
    with pytest.raises(Exception, match="DIVIDE_BY_ZERO"):
        spark.sql(spark_sql("select 1 / 0 as x", {})).collect()


def test_a_param_without_a_value_is_an_error() -> None:
    with pytest.raises(KeyError, match=r"\$day"):
        spark_sql("select $day as d", {})
    assert parse_body("select $a as x").sql() == "SELECT __param_a AS x"


def test_recorded_params_come_back_with_their_types() -> None:
    params = {
        "d": date(2026, 11, 27),
        "t": datetime(2026, 11, 27, 23, 59, 1),
        "m": Decimal("0.0350"),
        "f": 0.1,
        "i": 3,
        "b": False,
        "n": None,
        "s": "gold",
        "l": ["gold", "mass"],
    }
    back = decode_params(json.loads(json.dumps(encode_params(params))))
    assert back == params
    assert [type(v) for v in back.values()] == [type(v) for v in params.values()]
