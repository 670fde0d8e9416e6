"""The engine a stage runs its set-based work on: what the stages ask of it, nothing more.

A stage reads its inputs, runs SQL files and writes partitions through an :class:`Engine`;
DuckDB (:mod:`pipeline.engine.duckdb_engine`, the default) and Spark
(:mod:`pipeline.engine.spark_engine`) implement it. The ledgers, inputs tokens and the lock
stay in the DuckDB warehouse file whatever the engine (docs/scale.md, "The engine layer").

Every query an engine takes is DuckDB SQL of the portable subset (pipeline/sql_lint.py) with
``$params``: the Spark engine translates it (:func:`pipeline.engine.translate.spark_sql`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    import polars as pl

EngineName = Literal["duckdb", "spark"]
ENGINES: tuple[EngineName, ...] = ("duckdb", "spark")


def params_of(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The ``params`` that ``sql`` names (``$name``): DuckDB refuses one it does not."""
    used = set(re.findall(r"\$(\w+)", sql))
    return {k: v for k, v in (params or {}).items() if k in used}


class Engine(Protocol):
    """The operations a stage needs; each engine gives the same rows with the same types."""

    name: EngineName

    def run_file(self, name: str, params: dict[str, Any]) -> int:
        """Materialise ``sql/<name>.sql`` as its header says (``table``: the whole table;
        ``partition``: the rows of ``params["business_date"]``; ``view``) and return its row
        count for this run (0 for a view). Only the params the file declares are passed."""
        ...

    def temp_file(self, name: str, params: dict[str, Any]) -> None:
        """Materialise ``sql/<name>.sql`` as a scratch table of this run, never stored."""
        ...

    def temp_frame(self, table: str, frame: pl.DataFrame) -> None:
        """A polars frame as a scratch table of this run (e.g. the config's ``ref_*`` rates)."""
        ...

    def replace_partition(
        self,
        table: str,
        query: str,
        value: date,
        params: dict[str, Any] | None = None,
        key: str = "business_date",
        where: str | None = None,
    ) -> int:
        """Replace ``table``'s rows whose ``key`` is ``value`` with the rows of the SELECT
        ``query``; return how many. A missing table is created; a new column is added (NULL
        in older partitions); an existing column keeps its type (the rows are cast to it).
        With ``where`` (a predicate over the table's columns; ``query`` and ``where`` each
        take the ``params`` they name) only the partition's rows for which it is true are
        replaced and the others kept: a date's rows of some channels (ingest's re-sent
        transaction files); ``false`` adds the rows. On Spark only that partition is
        rewritten."""
        ...

    def replace_where(
        self,
        table: str,
        query: str,
        where: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> int:
        """Replace ``table``'s rows for which the predicate ``where`` (over its columns) is
        true with the rows of the SELECT ``query``; return how many. Both take the
        ``params`` they name. A missing table is created (on Spark partitioned by ``key``);
        a new column is added; a column whose type changed takes the query's type. E.g. a
        range of months of a monthly table: ``month_start between $month_from and $month_to``."""
        ...

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        """Delete ``table``'s rows for which the predicate ``where`` is true; return how many."""
        ...

    def update_from(
        self,
        table: str,
        sets: dict[str, str],
        source: str,
        on: str,
        params: dict[str, Any] | None = None,
    ) -> int:
        """Set columns of ``table``'s rows that match a row of the SELECT ``source`` by the
        condition ``on`` (the table's row is ``t``, the source's ``s``; a row matches at most
        one source row): ``sets`` maps a column to its new value, an expression over ``t`` and
        ``s``; return how many rows matched. DuckDB's ``update … from``; on Spark the table is
        rewritten whole, and only when a row matches."""
        ...

    def temp_query(self, table: str, query: str, params: dict[str, Any] | None = None) -> int:
        """The rows of the SELECT ``query`` as a scratch table of this run, never stored;
        return how many."""
        ...

    def describe(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """The columns the SELECT ``query`` would return, each with its DuckDB type name,
        without running it."""
        ...

    def write_partition(self, table: str, frame: pl.DataFrame, business_date: date) -> int:
        """Replace ``table``'s rows of ``business_date`` with ``frame`` (its
        ``business_date`` column set to the date), as :meth:`replace_partition` does."""
        ...

    def replace_frame(
        self, table: str, frame: pl.DataFrame, where: str, params: dict[str, Any] | None = None
    ) -> int:
        """Replace the rows of the stored ``table`` for which the predicate ``where`` is true
        with ``frame``'s rows, each column cast to the table's type (a column the frame lacks
        NULL); return how many. E.g. a model table's version: ``model_version = $version``."""
        ...

    def read(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        """The rows of the SELECT ``query`` as a polars frame."""
        ...

    def map_frame(
        self,
        table: str,
        query: str,
        params: dict[str, Any] | None,
        fn: Callable[[pl.DataFrame], pl.DataFrame],
        columns: list[tuple[str, str]],
    ) -> None:
        """``fn`` applied to the rows of the SELECT ``query``, as the scratch table ``table``
        of this run with the DuckDB types ``columns`` (:func:`conformed`). ``fn`` is a pure
        function of a frame whose rows of a customer depend on that customer's rows alone
        (``customer_id``): DuckDB gives it every row at once, Spark one part of the customers
        at a time in its executors (``mapInArrow``), so no process holds them all."""
        ...

    def table_exists(self, table: str) -> bool:
        """Whether ``table`` is stored (or is a scratch table of this run)."""
        ...

    def columns(self, table: str) -> list[tuple[str, str]]:
        """``table``'s columns in order, each with its DuckDB type name (``DECIMAL(18,2)``)."""
        ...

    def drop(self, table: str) -> None:
        """Remove ``table`` if it exists."""
        ...

    def ensure_table(self, table: str, columns: str, key: str | None = None) -> None:
        """Give ``table`` the declared ``columns`` (DuckDB column definitions, ``name type
        [not null], …``): a missing table is created empty (on Spark partitioned by ``key``);
        a stored one gets each declared column it lacks (NULL in its rows) and loses the NOT
        NULL of a column declared nullable. A stored column keeps its type. A frame written
        later is cast to these types (polars' ``Int64`` into an ``integer`` column)."""
        ...


def partition_columns(engine: Engine, table: str) -> list[tuple[str, str]]:
    """``table``'s columns but its ``business_date``: what a date's rows are computed with."""
    return [(n, t) for n, t in engine.columns(table) if n != "business_date"]


def replace_partition_from(engine: Engine, table: str, scratch: str, day: date) -> int:
    """Replace ``table``'s rows of ``day`` with the rows of the scratch table ``scratch``
    (e.g. :meth:`Engine.map_frame`'s), the table's columns named; return how many."""
    names = ", ".join(f'"{n}"' for n, _ in partition_columns(engine, table))
    return engine.replace_partition(
        table, f"select $d as business_date, {names} from {scratch}", day, {"d": day}
    )


def polars_schema(columns: list[tuple[str, str]]) -> pl.Schema:
    """The polars types DuckDB reads the DuckDB types ``columns`` as (``DECIMAL(18,2)`` as
    ``Decimal(18, 2)``, ``INTEGER`` as ``Int32``)."""
    import duckdb

    select = ", ".join(f'cast(null as {kind}) as "{name}"' for name, kind in columns)
    return duckdb.connect(":memory:").execute(f"select {select} limit 0").pl().schema


def conformed(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """``frame``'s columns of ``schema``, in its order, each cast to its type (a column the
    frame lacks is null): the same rows whichever engine stores them."""
    import polars as pl

    return frame.select(
        [
            (pl.col(name) if name in frame.columns else pl.lit(None)).cast(kind).alias(name)
            for name, kind in schema.items()
        ]
    )
