"""DuckDB column types as Spark types: the lake's columns have DuckDB's types, fixed by cast.

A lake table's schema is the one DuckDB gives the same rows (docs/scale.md, "Storage
contract"), so a column is ``DECIMAL(18,2)`` on both engines whatever type Spark's own
arithmetic would have produced. A type with no exact Spark twin is an error, not a guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb
from duckdb.sqltypes import DuckDBPyType

if TYPE_CHECKING:
    import pyarrow as pa

_SCALARS = {
    "boolean": "boolean",
    "tinyint": "tinyint",
    "smallint": "smallint",
    "integer": "int",
    "bigint": "bigint",
    "hugeint": "decimal(38,0)",  # Spark has no 128-bit integer; its values fit
    "float": "float",
    "double": "double",
    "varchar": "string",
    "blob": "binary",
    "date": "date",
    "timestamp": "timestamp_ntz",  # DuckDB's TIMESTAMP has no zone: Spark's NTZ is its twin
    "timestamp with time zone": "timestamp",
    "time": "time(6)",  # Spark 4.1+ with spark.sql.timeType.enabled (SESSION_CONF)
    # Spark has no unsigned integers: the next wider type holds every value (only the
    # history tables' row_hash, ingest's change detection, is unsigned)
    "utinyint": "smallint",
    "usmallint": "int",
    "uinteger": "bigint",
    "ubigint": "decimal(20,0)",
}


WIDENED = {"UTINYINT": "SMALLINT", "USMALLINT": "INTEGER", "UINTEGER": "BIGINT"}
WIDENED |= {"UBIGINT": "DECIMAL(20,0)", "HUGEINT": "DECIMAL(38,0)"}
"""The DuckDB types a Parquet file for Spark must hold as another type (as
:data:`_SCALARS` maps them): Spark reads no unsigned or 128-bit integer."""


def spark_type(duckdb_type: str) -> str:
    """The Spark SQL type of a DuckDB type name.

    Examples
    --------
    >>> spark_type("DECIMAL(18,2)[]")
    'array<decimal(18,2)>'
    """
    return _convert(duckdb.type(duckdb_type))


def _convert(kind: DuckDBPyType) -> str:
    ident = kind.id
    if ident in _SCALARS:
        return _SCALARS[ident]
    if ident == "decimal":
        sizes = dict(kind.children)
        return f"decimal({sizes['precision']},{sizes['scale']})"
    if ident == "list":
        return f"array<{_convert(kind.child)}>"
    if ident == "struct":
        fields = [(n, t) for n, t in kind.children if isinstance(t, DuckDBPyType)]
        return "struct<" + ",".join(f"`{n}`:{_convert(t)}" for n, t in fields) + ">"
    if ident == "map":
        return f"map<{_convert(kind.key)},{_convert(kind.value)}>"
    raise ValueError(f"no Spark type for DuckDB's {kind}: cast it in the SQL first")


def spark_arrow(table: pa.Table) -> pa.Table:
    """``table`` with each unsigned integer column widened as :data:`_SCALARS` says: Spark's
    Arrow reader takes no unsigned type. An empty table gets one empty chunk per column
    (pyspark cannot type a column of no chunks)."""
    import pyarrow as pa

    wider = {
        pa.uint8(): pa.int16(),
        pa.uint16(): pa.int32(),
        pa.uint32(): pa.int64(),
        pa.uint64(): pa.decimal128(20, 0),
    }
    if any(f.type in wider for f in table.schema):
        table = table.cast(
            pa.schema([f.with_type(wider.get(f.type, f.type)) for f in table.schema])
        )
    if table.num_rows == 0:
        table = pa.Table.from_batches([pa.RecordBatch.from_pylist([], schema=table.schema)])
    return table
