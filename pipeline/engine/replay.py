"""Replay a recorded DuckDB night (:mod:`pipeline.engine.record`) on Spark and compare.

Each case's inputs become Spark temp views read from their Parquet files (DECIMAL(p, s),
DATE, strings, lists, maps and structs keep their types), the file's body is translated
(:func:`pipeline.engine.translate.spark_sql`) and run, and its rows are compared with DuckDB's:

- the same column names in the same order;
- compatible types: integers of any width alike (DuckDB sums to HUGEINT, Spark to BIGINT),
  DECIMALs of the same scale (the precision of a sum differs: 38 against p + 10), DOUBLE
  with FLOAT, and lists, maps and structs of compatible elements;
- the rows equal as multisets, exactly on every DECIMAL, integer, string, date and boolean;
  a DOUBLE within a relative 1e-9 (:data:`DOUBLE_RTOL`), since the engines add in different
  orders and floating-point addition is not associative.

    python -m pipeline.engine.replay --record var/spark-record
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.engine.record import decode_params
from pipeline.engine.translate import spark_sql
from pipeline.sqlfiles import load_sql
from pipeline.warehouse import SQL_DIR

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import DataType

DOUBLE_RTOL = 1e-9
"""Relative tolerance on DOUBLE columns only: summation order differs between engines."""

CLOCK_COLUMNS = {"clv/agg_customer_event_day_dates.sql": {"aggregated_at"}}
"""Columns that hold the time a row was computed (``now()``): not compared, named here."""


@dataclass(frozen=True)
class Outcome:
    case: str  # <stage>__<table>
    file: str  # relative to sql/, e.g. features/int_customer_features.sql
    verdict: str  # equal, differs, fails
    detail: str
    rows: int  # DuckDB's
    seconds: float = 0.0  # Spark's wall time, views to rows


def _kind(arrow: pa.DataType) -> Any:
    """A comparable description of an Arrow (DuckDB) type."""
    if pa.types.is_integer(arrow):
        return "integer"
    if pa.types.is_decimal(arrow):
        return ("decimal", arrow.scale)
    if pa.types.is_floating(arrow):
        return "double"
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "string"
    if pa.types.is_map(arrow):
        return ("map", _kind(arrow.key_type), _kind(arrow.item_type))
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return ("list", _kind(arrow.value_type))
    if pa.types.is_struct(arrow):
        return ("struct", tuple((f.name, _kind(f.type)) for f in arrow))
    if pa.types.is_date(arrow):
        return "date"
    if pa.types.is_timestamp(arrow):
        return "timestamp"
    if pa.types.is_boolean(arrow):
        return "boolean"
    if pa.types.is_null(arrow):
        return "null"
    return str(arrow)


def _spark_kind(spark: DataType) -> Any:
    from pyspark.sql import types as t

    if isinstance(spark, t.ByteType | t.ShortType | t.IntegerType | t.LongType):
        return "integer"
    if isinstance(spark, t.DecimalType):
        return ("decimal", spark.scale)
    if isinstance(spark, t.DoubleType | t.FloatType):
        return "double"
    if isinstance(spark, t.StringType):
        return "string"
    if isinstance(spark, t.MapType):
        return ("map", _spark_kind(spark.keyType), _spark_kind(spark.valueType))
    if isinstance(spark, t.ArrayType):
        return ("list", _spark_kind(spark.elementType))
    if isinstance(spark, t.StructType):
        return ("struct", tuple((f.name, _spark_kind(f.dataType)) for f in spark.fields))
    if isinstance(spark, t.DateType):
        return "date"
    if isinstance(spark, t.TimestampType | t.TimestampNTZType):
        return "timestamp"
    if isinstance(spark, t.BooleanType):
        return "boolean"
    if isinstance(spark, t.NullType):
        return "null"
    return spark.simpleString()


def _plain(value: Any) -> Any:
    """A value from either engine in one comparable shape: maps as sorted (key, value) pairs,
    structs as tuples, NaN as a marker."""
    from pyspark.sql import Row

    if isinstance(value, Row):
        return tuple(_plain(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted(((_plain(k), _plain(v)) for k, v in value.items()), key=repr))
    if isinstance(value, list):
        if value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
            return tuple(sorted(((_plain(k), _plain(v)) for k, v in value), key=repr))
        return tuple(_plain(v) for v in value)
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    return value


def _exact_key(row: tuple[Any, ...], doubles: set[int]) -> tuple[str, ...]:
    return tuple(repr(v) for i, v in enumerate(row) if i not in doubles)


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=DOUBLE_RTOL, abs_tol=1e-12)
    return bool(a == b)


def compare(
    names: list[str], duck: list[tuple[Any, ...]], spark: list[tuple[Any, ...]], doubles: set[int]
) -> str | None:
    """``None`` when the rows are equal as multisets (DOUBLE columns ``doubles`` within
    :data:`DOUBLE_RTOL`), else the first differing row of each engine."""
    if len(duck) != len(spark):
        return f"{len(duck)} rows on DuckDB, {len(spark)} on Spark"

    def order(row: tuple[Any, ...]) -> tuple[Any, ...]:
        return (*_exact_key(row, doubles), *(repr(row[i]) for i in sorted(doubles)))

    for d, s in zip(sorted(duck, key=order), sorted(spark, key=order), strict=True):
        if not all(_close(a, b) for a, b in zip(d, s, strict=True)):
            diff = [f"{n}: {a!r} / {b!r}" for n, a, b in zip(names, d, s, strict=True) if a != b]
            return "first differing row (DuckDB / Spark): " + "; ".join(diff)[:600]
    return None


def replay_case(spark: SparkSession, case: Path) -> Outcome:
    """Run one recorded case on Spark and compare its rows with DuckDB's."""
    meta = json.loads((case / "params.json").read_text(encoding="utf-8"))
    file = meta["file"]
    duck = pq.read_table(case / "result.parquet")
    try:
        for path in sorted((case / "inputs").glob("*.parquet")):
            spark.read.parquet(str(path)).createOrReplaceTempView(path.stem)
        body = load_sql(SQL_DIR / file).body
        frame = spark.sql(spark_sql(body, decode_params(meta["params"])))
        rows = [tuple(_plain(v) for v in r) for r in frame.collect()]
    except Exception as exc:  # any Spark or translation error is this file's verdict
        text = str(exc).strip().splitlines()
        return Outcome(
            case.name, file, "fails", text[0][:400] if text else repr(exc), duck.num_rows
        )
    finally:
        for path in (case / "inputs").glob("*.parquet"):
            spark.catalog.dropTempView(path.stem)
    names = [f.name for f in frame.schema.fields]
    if names != duck.column_names:
        return Outcome(
            case.name, file, "differs", f"columns {duck.column_names} / {names}", duck.num_rows
        )
    declared = dict(json.loads((case / "types.json").read_text(encoding="utf-8"))["result"])
    kinds = [
        "integer" if "HUGEINT" in declared.get(f.name, "") else _kind(f.type) for f in duck.schema
    ]
    spark_kinds = [_spark_kind(f.dataType) for f in frame.schema.fields]
    for name, a, b in zip(names, kinds, spark_kinds, strict=True):
        if a != b and "null" not in (a, b):
            return Outcome(case.name, file, "differs", f"column {name}: {a} / {b}", duck.num_rows)
    doubles = {i for i, k in enumerate(kinds) if k == "double"}
    clock = {i for i, n in enumerate(names) if n in CLOCK_COLUMNS.get(file, ())}
    duck_rows = [tuple(_plain(v) for v in r.values()) for r in duck.to_pylist()]
    duck_rows = [tuple(None if i in clock else v for i, v in enumerate(r)) for r in duck_rows]
    rows = [tuple(None if i in clock else v for i, v in enumerate(r)) for r in rows]
    diff = compare(names, duck_rows, rows, doubles)
    return Outcome(case.name, file, "differs" if diff else "equal", diff or "", duck.num_rows)


def cases(record: Path) -> list[Path]:
    """The case folders of a recording, in file order."""
    return sorted(p for p in (record / "cases").iterdir() if (p / "params.json").exists())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--record", type=Path, required=True, help="a recording's folder")
    parser.add_argument("--case", action="append", help="only these cases (<stage>__<table>)")
    args = parser.parse_args(argv)
    from pipeline.engine.spark import local_session

    spark = local_session()
    outcomes = []
    for case in cases(args.record):
        if not args.case or case.name in args.case:
            began = time.perf_counter()
            outcome = replay_case(spark, case)
            outcomes.append(replace(outcome, seconds=time.perf_counter() - began))
    for o in outcomes:
        print(f"{o.verdict:8} {o.file:52} {o.rows:5} rows {o.seconds:5.1f} s  {o.detail}")
    counts = {v: sum(o.verdict == v for o in outcomes) for v in ("equal", "differs", "fails")}
    print(", ".join(f"{n} {v}" for v, n in counts.items()))
    return 0 if counts["equal"] == len(outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
