"""The DuckDB engine: the embedded warehouse file, cvp's default (:mod:`pipeline.sqlfiles`).

A thin wrapper: each operation is the statement the stages ran inline before the engine layer
existed, so a DuckDB night is the same statement for statement.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline import sqlfiles
from pipeline.engine.base import EngineName, conformed, params_of, polars_schema
from pipeline.warehouse import table_exists

if TYPE_CHECKING:
    import polars as pl


class DuckDBEngine:
    """The :class:`~pipeline.engine.base.Engine` of a DuckDB warehouse connection."""

    name: EngineName = "duckdb"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def run_file(self, name: str, params: dict[str, Any]) -> int:
        return sqlfiles.run_sql(self.con, name, params)

    def temp_file(self, name: str, params: dict[str, Any]) -> None:
        sqlfiles.temp_table(self.con, name, params)

    def temp_frame(self, table: str, frame: pl.DataFrame) -> None:
        # registered, not copied: a model's output of a million rows is read once by the SQL
        # file that writes it (the clv scores: 0.54 s CPU registered, 0.78 s copied into a temp
        # table, at 1M); a temp view that drop() removes
        self.con.register(table, frame.to_arrow())

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
            return sqlfiles.replace_partition(self.con, table, f"({query})", value, params, key)
        return sqlfiles.replace_partition(
            self.con,
            table,
            f"({query})",
            value,
            params_of(query, params),
            key,
            where,
            params_of(where, params),
        )

    def replace_where(
        self,
        table: str,
        query: str,
        where: str,
        params: dict[str, Any] | None = None,
        key: str | None = None,
    ) -> int:
        args = params_of(query, params)
        columns = self.describe(query, args)
        if not table_exists(self.con, table):
            self.con.execute(
                f"create table {table} (" + ", ".join(f'"{n}" {k}' for n, k in columns) + ")"
            )
        else:
            have = dict(self.columns(table))
            for name, kind in columns:
                if name not in have:
                    self.con.execute(f'alter table {table} add column "{name}" {kind}')
                elif have[name] != kind:
                    self.con.execute(f'alter table {table} alter column "{name}" type {kind}')
        self.delete_where(table, where, params)
        # straight into the table, no temp copy
        row = self.con.execute(f"insert into {table} by name {query}", args).fetchone()
        return int(row[0]) if row else 0

    def delete_where(self, table: str, where: str, params: dict[str, Any] | None = None) -> int:
        found = self.con.execute(f"delete from {table} where {where}", params_of(where, params))
        row = found.fetchone()
        return int(row[0]) if row else 0

    def update_from(
        self,
        table: str,
        sets: dict[str, str],
        source: str,
        on: str,
        params: dict[str, Any] | None = None,
    ) -> int:
        assignments = ", ".join(f"{column} = {value}" for column, value in sets.items())
        found = self.con.execute(
            f"update {table} as t set {assignments} from ({source}) as s where {on}",
            params_of(" ".join((source, on, assignments)), params),
        )
        row = found.fetchone()
        return int(row[0]) if row else 0

    def temp_query(self, table: str, query: str, params: dict[str, Any] | None = None) -> int:
        args = params_of(query, params)
        self.con.execute(f"create or replace temp table {table} as {query}", args)
        row = self.con.execute(f"select count(*) from {table}").fetchone()
        return int(row[0]) if row else 0

    def describe(self, query: str, params: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        args = params_of(query, params)
        return [(r[0], r[1]) for r in self.con.execute(f"describe {query}", args).fetchall()]

    def write_partition(self, table: str, frame: pl.DataFrame, business_date: date) -> int:
        return sqlfiles.write_partition(self.con, table, frame, business_date)

    def replace_frame(
        self, table: str, frame: pl.DataFrame, where: str, params: dict[str, Any] | None = None
    ) -> int:
        self.delete_where(table, where, params)
        self.con.register("_frame_rows", frame.to_arrow())  # straight in, no temp copy
        try:
            row = self.con.execute(
                f"insert into {table} by name select * from _frame_rows"
            ).fetchone()
        finally:
            self.con.unregister("_frame_rows")
        return int(row[0]) if row else 0

    def read(self, query: str, params: dict[str, Any] | None = None) -> pl.DataFrame:
        return self.con.execute(query, params or {}).pl()

    def map_frame(
        self,
        table: str,
        query: str,
        params: dict[str, Any] | None,
        fn: Callable[[pl.DataFrame], pl.DataFrame],
        columns: list[tuple[str, str]],
    ) -> None:
        rows = fn(self.read(query, params_of(query, params)))  # every customer at once
        self.temp_frame(table, conformed(rows, polars_schema(columns)))

    def table_exists(self, table: str) -> bool:
        return table_exists(self.con, table)

    def columns(self, table: str) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self.con.execute(f"describe {table}").fetchall()]

    def drop(self, table: str) -> None:
        kind = self.con.execute(
            "select table_type from information_schema.tables where table_name = ?", [table]
        ).fetchone()
        if kind is not None:
            self.con.execute(f"drop {'view' if kind[0] == 'VIEW' else 'table'} {table}")

    def ensure_table(self, table: str, columns: str, key: str | None = None) -> None:
        self.con.execute(f"create table if not exists {table} ({columns})")
        self.con.execute(f"create or replace temp table _declared ({columns})")
        try:
            declared = self.con.execute("describe _declared").fetchall()
        finally:
            self.con.execute("drop table _declared")
        have = {r[0]: r[2] for r in self.con.execute(f"describe {table}").fetchall()}
        for name, kind, null, *_ in declared:
            if name not in have:
                self.con.execute(f'alter table {table} add column "{name}" {kind}')
            elif null == "YES" and have[name] == "NO":
                self.con.execute(f'alter table {table} alter column "{name}" drop not null')
