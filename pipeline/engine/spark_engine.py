"""The Spark engine: tables in the lake as Hive-style Parquet, the SQL files translated.

Storage contract (docs/scale.md, "The engine layer"): a table is the folder
``<lake>/<table>/``; a partitioned one has a sub-folder per value of its partition column
(``business_date=2026-11-27``, a monthly table's ``month_start=2026-11-01``), replaced by
dynamic partition overwrite. Every column has the type DuckDB gives the same rows, fixed by a
cast on write: the types are kept beside the data in ``<lake>/<table>/_cvp_schema.json``
(Spark's readers skip files starting with ``_``) and mirrored in an in-memory DuckDB catalog,
which binds each query (``describe``) to tell the DuckDB type of every column it returns.

The lake is a filesystem path the driver and the executors share (local, or mounted); HDFS
or object-store URLs and Iceberg tables are not supported yet.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline.engine.base import EngineName, conformed, params_of, polars_schema
from pipeline.engine.spark_types import spark_arrow, spark_type
from pipeline.engine.translate import spark_sql
from pipeline.errors import SqlError
from pipeline.sqlfiles import RANGE_PARAMS, load_sql, sql_path

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa
    from pyspark.sql import DataFrame, SparkSession

SCHEMA_FILE = "_cvp_schema.json"
"""A lake table's DuckDB column types and partition column, beside its Parquet files."""

Columns = list[tuple[str, str]]

BASE_VIEWS: dict[str, tuple[str, tuple[str, ...], str | None]] = {
    "transactions": ("stg_transactions", ("line_number",), None),
    "customers": ("hist_customers", ("row_hash", "valid_to"), "valid_to = date '9999-12-31'"),
    "accounts": ("hist_accounts", ("row_hash", "valid_to"), "valid_to = date '9999-12-31'"),
    "branches": ("hist_branches", ("row_hash", "valid_to"), "valid_to = date '9999-12-31'"),
}
"""The warehouse schema's views of the base tables (sql/warehouse/schema.sql), which the SQL
files read: view -> (table, columns left out, filter). Defined in the session whenever their
table is (re)written; tests/test_engine.py checks they match DuckDB's."""


class SparkEngine:
    """The :class:`~pipeline.engine.base.Engine` of a Spark session and a lake folder."""

    name: EngineName = "spark"

    def __init__(self, session: SparkSession, lake: Path) -> None:
        self.spark = session
        self.lake = Path(lake)
        self.catalog = duckdb.connect(":memory:")
        """Empty tables shaped like the lake's and this run's scratch tables: DuckDB binds a
        query against them to tell the types of its columns."""
        self._scratch: set[str] = set()
        session.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
        # Spark 4.3's union constraint rewriting fails on the merchants signals' union of the
        # stored block and the run's states ("key not found: branch_id"); the constraints
        # only add inferred filters, never change a row
        session.conf.set("spark.sql.constraintPropagation.enabled", "false")
        for schema in sorted(self.lake.glob(f"*/{SCHEMA_FILE}")):
            meta = json.loads(schema.read_text(encoding="utf-8"))
            self._register(schema.parent.name, [tuple(c) for c in meta["columns"]])

    # -- the operations -------------------------------------------------------------------

    def run_file(self, name: str, params: dict[str, Any]) -> int:
        model = load_sql(sql_path(name))
        missing = set(model.params) - set(params) - set(RANGE_PARAMS)
        if missing:
            raise SqlError(f"{model.path}: parameters not supplied: {sorted(missing)}")
        # one pass over every customer: a range's memory bound is DuckDB's concern
        whole = {"customer_from": "", "customer_to": None}
        args = {k: params[k] if k in params else whole[k] for k in model.params}
        try:
            if model.materialize == "view":
                columns = self._types(model.body, args)
                self._cast(self._query(model.body, args), columns).createOrReplaceTempView(
                    model.table
                )
                self._scratch_table(model.table, columns)
                return 0
            if model.materialize == "table":
                return self._store(model.table, model.body, args, None, None)
            return self._store(
                model.table, model.body, args, "business_date", params["business_date"]
            )
        except SqlError:
            raise
        except Exception as exc:  # Spark's AnalysisException and friends: name the file
            raise SqlError(f"{model.path}: {_first_line(exc)}") from None

    def temp_file(self, name: str, params: dict[str, Any]) -> None:
        model = load_sql(sql_path(name))
        self._scratch_query(model.table, model.body, {k: params[k] for k in model.params})

    def temp_frame(self, table: str, frame: pl.DataFrame) -> None:
        arrow = _plain_arrow(frame)
        self.temp_arrow(table, arrow, self._frame_types(arrow))

    def replace_partition(
        self,
        table: str,
        query: str,
        value: date,
        params: dict[str, Any] | None = None,
        key: str = "business_date",
        where: str | None = None,
    ) -> int:
        if where is None:
            return self._store(table, query, params or {}, key, value)
        if not (self.lake / table / SCHEMA_FILE).exists():
            return self._store(table, query, params_of(query, params), key, value)
        # the partition alone rewritten: its rows the predicate does not select, then the
        # query's, both materialised first (Spark cannot overwrite a folder it reads)
        args = params_of(query, params)
        kept_args = {**params_of(where, params), "partition_value": value}
        stored = self.columns(table)
        known = dict(stored)
        columns = stored + [(n, t) for n, t in self._types(query, args) if n not in known]
        new = self._cast(self._query(query, args), columns).localCheckpoint()
        kept = self._query(
            f"select * from {table} where {key} = $partition_value "
            f"and not coalesce(({where}), false)",
            kept_args,
        )
        rows = self._cast(kept, columns).localCheckpoint().unionByName(new)
        self._write(table, rows, columns, key, value)
        return int(new.count())

    def replace_where(
        self,
        table: str,
        query: str,
        where: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> int:
        args, kept_args = params_of(query, params), params_of(where, params)
        fresh = self._types(query, args)
        if not (self.lake / table / SCHEMA_FILE).exists():
            return self._write(table, self._query(query, args), fresh, key, None)
        # the whole table rewritten with its kept rows, then the query's appended, cast to the
        # query's types for the columns it has (a type changed), the others' as stored. Not
        # one union of both: Spark 4.3's PushProjectionThroughUnion fails on it (key not found)
        stored = self.columns(table)
        types = {**dict(stored), **dict(fresh)}
        names = [n for n, _ in stored] + [n for n, _ in fresh if n not in dict(stored)]
        columns = [(n, types[n]) for n in names]
        new = self._cast(self._query(query, args), columns).localCheckpoint()
        kept = self._cast(self._query(_kept(table, where), kept_args), columns).localCheckpoint()
        key = self._partition_key(table)
        self._write(table, kept, columns, key, None, whole=True)
        writer = new.write.mode("append").format("parquet")
        if key is not None:
            writer = writer.partitionBy(key)
        writer.save(str(self.lake / table))
        self._register(table, columns)
        return int(new.count())

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        args = params_of(where, params)
        gone = int(self._query(f"select * from {table} where {where}", args).count())
        if gone:  # rewritten only when a row goes
            columns = self.columns(table)
            kept = self._cast(self._query(_kept(table, where), args), columns)
            key = self._partition_key(table)
            self._write(table, kept.localCheckpoint(), columns, key, None, whole=True)
        return gone

    def update_from(
        self,
        table: str,
        sets: dict[str, str],
        source: str,
        on: str,
        params: dict[str, Any] | None = None,
    ) -> int:
        args = params_of(" ".join((source, on, *sets.values())), params)
        matched = f"{table} as t join ({source}) as s on {on}"
        hits = int(self._query(f"select * from {matched}", args).count())
        if hits:  # rewritten only when a row matches: each row as it is, or as ``sets`` say
            columns = self.columns(table)
            values = ", ".join(
                f"case when s._cvp_match then {sets[n]} else t.{n} end as {n}"
                if n in sets
                else f"t.{n}"
                for n, _ in columns
            )
            query = (
                f"select {values} from {table} as t left join "
                f"(select *, true as _cvp_match from ({source}) as _source) as s on {on}"
            )
            frame = self._cast(self._query(query, args), columns).localCheckpoint()
            self._write(table, frame, columns, self._partition_key(table), None, whole=True)
        return hits

    def temp_query(self, table: str, query: str, params: dict[str, Any] | None = None) -> int:
        return int(self._scratch_query(table, query, params_of(query, params)).count())

    def describe(self, query: str, params: dict[str, Any] | None = None) -> Columns:
        return self._types(query, params_of(query, params))

    def write_partition(self, table: str, frame: pl.DataFrame, business_date: date) -> int:
        import polars as pl

        arrow = _plain_arrow(frame.with_columns(business_date=pl.lit(business_date, dtype=pl.Date)))
        columns = self._frame_types(arrow)
        return self._write(table, self._from_arrow(arrow), columns, "business_date", business_date)

    def replace_frame(
        self, table: str, frame: pl.DataFrame, where: str, params: dict[str, Any] | None = None
    ) -> int:
        self.temp_frame("_frame_rows", frame)
        stored = self.columns(table)  # each column keeps its type (replace_where's would not)
        cast = ", ".join(f'cast("{n}" as {t}) as "{n}"' for n, t in stored if n in frame.columns)
        try:
            return self.replace_where(table, f"select {cast} from _frame_rows", where, params)
        finally:
            self.drop("_frame_rows")

    def read(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        import polars as pl

        args = params or {}
        columns = self._types(query, args)
        frame = self._cast(_named(self._query(query, args), columns), columns)
        result = pl.from_arrow(frame.toArrow())
        assert isinstance(result, pl.DataFrame)
        return result

    def map_frame(
        self,
        table: str,
        query: str,
        params: dict[str, Any] | None,
        fn: Callable[[pl.DataFrame], pl.DataFrame],
        columns: Columns,
    ) -> None:
        from pyspark.sql.types import StructType

        args = params_of(query, params)
        given = self._types(query, args)
        rows = self._cast(_named(self._query(query, args), given), given)
        schema = StructType.fromDDL(", ".join(f"`{n}` {spark_type(t)}" for n, t in columns))
        assert isinstance(schema, StructType)
        parts = int(self.spark.conf.get("spark.sql.shuffle.partitions") or 1)
        empty = ", ".join(f'cast(null as {t}) as "{n}"' for n, t in columns)
        arrow = spark_arrow(self.catalog.execute(f"select {empty} limit 0").to_arrow_table()).schema
        per_part = _PerPart(fn, polars_schema(columns), arrow)
        if "customer_id" in rows.columns:  # a customer's rows in one part
            rows = rows.repartition(parts, "customer_id")
        with warnings.catch_warnings():  # pyspark 4.3 on pandas 3, which mapInArrow never uses
            warnings.filterwarnings("ignore", "PySpark does not yet fully support pandas")
            mapped = rows.mapInArrow(per_part, schema)
        mapped.localCheckpoint().createOrReplaceTempView(table)
        self._scratch_table(table, columns)

    def table_exists(self, table: str) -> bool:
        row = self.catalog.execute(
            "select count(*) from information_schema.tables where table_name = ?", [table]
        ).fetchone()
        return bool(row and row[0])

    def columns(self, table: str) -> Columns:
        return [(r[0], r[1]) for r in self.catalog.execute(f'describe "{table}"').fetchall()]

    def drop(self, table: str) -> None:
        self.spark.catalog.dropTempView(table)
        self.catalog.execute(f'drop table if exists "{table}"')
        self._scratch.discard(table)
        shutil.rmtree(self.lake / table, ignore_errors=True)

    def ensure_table(self, table: str, columns: str, key: str | None = None) -> None:
        self.catalog.execute(f"create or replace temp table _declared ({columns})")
        try:
            declared = self._types("select * from _declared", {})
        finally:
            self.catalog.execute("drop table _declared")
        path = self.lake / table
        if (path / SCHEMA_FILE).exists():
            stored = self.columns(table)
            schema = stored + [(n, t) for n, t in declared if n not in dict(stored)]
            if schema == stored:
                return
            key = self._partition_key(table)
        else:
            schema = declared
        # the schema file alone: a Parquet file without a column reads it as NULL, a folder
        # of no file as no row
        path.mkdir(parents=True, exist_ok=True)
        meta = {"columns": schema, "partition_by": key}
        (path / SCHEMA_FILE).write_text(json.dumps(meta), encoding="utf-8")
        self._register(table, schema)

    # -- writing an Arrow table, for the lake's loader --------------------------------------

    def store_arrow(self, table: str, arrow: pa.Table, columns: Columns, key: str | None) -> int:
        """Write ``arrow`` (of DuckDB types ``columns``) into ``table``: the whole table when
        ``key`` is None, else each partition it holds replaced. Returns its rows."""
        self._write(table, self._from_arrow(arrow), columns, key, None)
        return arrow.num_rows

    def adopt_parquet(self, table: str, columns: Columns, key: str | None) -> None:
        """Take ``<lake>/<table>/`` as another Parquet writer wrote it (the lake loader's
        DuckDB: :func:`pipeline.engine.lake.load_lake`), its columns of the DuckDB types
        ``columns`` (those of :data:`~pipeline.engine.spark_types.WIDENED` written widened),
        partitioned by ``key`` (Hive-style folders) or not: write its schema file and make it
        a table of this session."""
        path = self.lake / table
        (path / SCHEMA_FILE).write_text(
            json.dumps({"columns": columns, "partition_by": key}), encoding="utf-8"
        )
        self._register(table, columns)

    def temp_arrow(self, table: str, arrow: pa.Table, columns: Columns) -> None:
        """``arrow`` (of DuckDB types ``columns``) as a scratch table of this run: rows the
        warehouse file's DuckDB computed (ingest's, docs/scale.md "Ingest on Spark")."""
        self._cast(self._from_arrow(arrow), columns).createOrReplaceTempView(table)
        self._scratch_table(table, columns)

    # -- inside ---------------------------------------------------------------------------

    def _query(self, query: str, args: dict[str, Any]) -> DataFrame:
        return self.spark.sql(spark_sql(query, args))

    def _scratch_query(self, table: str, query: str, args: dict[str, Any]) -> DataFrame:
        """``query``'s rows as the scratch table ``table``, materialised now, as DuckDB's temp
        table is: later writes to its inputs do not show."""
        columns = self._types(query, args)
        frame = self._cast(_named(self._query(query, args), columns), columns).localCheckpoint()
        frame.createOrReplaceTempView(table)
        self._scratch_table(table, columns)
        return frame

    def _types(self, query: str, args: dict[str, Any]) -> Columns:
        """The DuckDB types of ``query``'s columns, bound against the catalog."""
        return [(r[0], r[1]) for r in self.catalog.execute(f"describe {query}", args).fetchall()]

    def _frame_types(self, arrow: pa.Table) -> Columns:
        self.catalog.register("_frame_rows", arrow)
        try:
            return self._types("select * from _frame_rows", {})
        finally:
            self.catalog.unregister("_frame_rows")

    def _from_arrow(self, arrow: pa.Table) -> DataFrame:
        return self.spark.createDataFrame(spark_arrow(arrow))

    @staticmethod
    def _cast(frame: DataFrame, columns: Columns) -> DataFrame:
        from pyspark.sql import functions as F

        have = set(frame.columns)
        return frame.select(
            *[
                (F.col(f"`{n}`") if n in have else F.lit(None)).cast(spark_type(t)).alias(n)
                for n, t in columns
            ]
        )

    def _store(
        self,
        table: str,
        query: str,
        args: dict[str, Any],
        key: str | None,
        value: date | None,
    ) -> int:
        frame = self._query(query, args)
        if re.search(rf"\b{re.escape(table)}\b", query):
            frame = frame.localCheckpoint()  # Spark cannot overwrite a folder it reads
        return self._write(table, frame, self._types(query, args), key, value)

    def _write(
        self,
        table: str,
        frame: DataFrame,
        columns: Columns,
        key: str | None,
        value: date | None,
        whole: bool = False,
    ) -> int:
        """Cast ``frame`` to the table's types and write it: the whole table (``key`` None,
        or ``whole``: the types ``columns``, partitioned by ``key`` if given), or the
        partitions it holds (an existing table keeps its columns' types; a new column is
        added, NULL in the older partitions)."""
        path = self.lake / table
        if key is not None and not whole and (path / SCHEMA_FILE).exists():
            stored = self.columns(table)
            known = {n for n, _ in stored}
            columns = stored + [(n, t) for n, t in columns if n not in known]
        part = path / f"{key}={value.isoformat()}" if key is not None and value else None
        before = _files(part)
        writer = self._cast(frame, columns).write.mode("overwrite").format("parquet")
        if whole:  # every partition the frame has not is gone too
            writer = writer.option("partitionOverwriteMode", "static")
        if key is not None:
            writer = writer.partitionBy(key)
        writer.save(str(path))
        path.mkdir(parents=True, exist_ok=True)
        (path / SCHEMA_FILE).write_text(
            json.dumps({"columns": columns, "partition_by": key}), encoding="utf-8"
        )
        emptied = part is not None and bool(before) and _files(part) == before
        if emptied and part is not None:
            # no row of the value: dynamic overwrite left its old files, which must go (each
            # write names its files anew, so unchanged names mean not rewritten)
            shutil.rmtree(part)
        view = self._register(table, columns)
        if part is None or key is None:
            return view.count()
        from pyspark.sql import functions as F

        return 0 if emptied else view.where(F.col(key) == F.lit(value)).count()

    def _partition_key(self, table: str) -> str | None:
        meta = json.loads((self.lake / table / SCHEMA_FILE).read_text(encoding="utf-8"))
        key = meta.get("partition_by")
        return str(key) if key else None

    def _register(self, table: str, columns: Columns) -> DataFrame:
        """The table as a Spark view of its Parquet folder, with its types; the catalog's
        empty twin."""
        ddl = ", ".join(f"`{n}` {spark_type(t)}" for n, t in columns)
        view = (
            self.spark.read.schema(ddl)
            .format("parquet")
            .load(str(self.lake / table))
            .select(*[f"`{n}`" for n, _ in columns])
        )
        view.createOrReplaceTempView(table)
        self.catalog.execute(
            f'create or replace table "{table}" ('
            + ", ".join(f'"{n}" {t}' for n, t in columns)
            + ")"
        )
        self._scratch.discard(table)
        for name, (base, _, _) in BASE_VIEWS.items():
            if base == table:
                self._base_view(name)
        return view

    def _base_view(self, name: str) -> None:
        """``name`` of :data:`BASE_VIEWS` over its table as now stored: a Spark temp view
        holds the plan of the moment it is made, so it is remade on every write."""
        table, left_out, where = BASE_VIEWS[name]
        kept = ", ".join(f'"{n}"' for n, _ in self.columns(table) if n not in left_out)
        query = f"select {kept} from {table}" + (f" where {where}" if where else "")
        self.spark.sql(spark_sql(query, {})).createOrReplaceTempView(name)
        self.catalog.execute(f'create or replace view "{name}" as {query}')

    def _scratch_table(self, table: str, columns: Columns) -> None:
        self.catalog.execute(
            f'create or replace temp table "{table}" ('
            + ", ".join(f'"{n}" {t}' for n, t in columns)
            + ")"
        )
        self._scratch.add(table)


class _PerPart:
    """What an executor runs on one part of :meth:`SparkEngine.map_frame`'s rows: the part's
    batches as one polars frame, ``fn`` of it, conformed to the scratch table's types."""

    def __init__(
        self, fn: Callable[[pl.DataFrame], pl.DataFrame], schema: pl.Schema, arrow_schema: pa.Schema
    ) -> None:
        self.fn, self.schema, self.arrow_schema = fn, schema, arrow_schema

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        import polars as pl
        import pyarrow as pa

        part = [b for b in batches if b.num_rows]
        if not part:
            return
        frame = pl.from_arrow(pa.Table.from_batches(part))
        assert isinstance(frame, pl.DataFrame)
        rows = _plain_arrow(conformed(self.fn(frame), self.schema)).cast(self.arrow_schema)
        yield from rows.to_batches()


def _kept(table: str, where: str) -> str:
    """The rows of ``table`` a ``delete … where`` leaves (those whose predicate is not true)."""
    return f"select * from {table} where not coalesce(({where}), false)"


def _named(frame: DataFrame, columns: Columns) -> DataFrame:
    """``frame`` when it has every column DuckDB names; an expression without ``as`` is named
    differently by each engine (``count_star()`` against ``count(1)``) and would read NULL."""
    unnamed = [n for n, _ in columns if n not in set(frame.columns)]
    if unnamed:
        raise SqlError(f"name these columns with `as` (Spark names them otherwise): {unnamed}")
    return frame


def _plain_arrow(frame: pl.DataFrame) -> pa.Table:
    """``frame`` as Arrow with the types Spark's reader takes (no string views)."""
    import polars as pl

    return frame.to_arrow(compat_level=pl.CompatLevel.oldest())


def _files(folder: Path | None) -> set[str]:
    """The names of the files in ``folder`` (none when it is None or absent)."""
    return {p.name for p in folder.iterdir()} if folder is not None and folder.is_dir() else set()


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
