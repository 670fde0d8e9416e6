"""SQL files: one derived table per file, with a header that says what it is.

A file ``sql/<stage>/<table>.sql`` starts with comment lines::

    -- table:  int_customer_features
    -- grain:  customer_id, business_date
    -- inputs: stg_transactions, hist_accounts
    -- params: business_date, window_months
    -- materialize: partition
    -- Free text: what the table means, where its rules come from.

followed by one SELECT. The loader checks that the table name equals the file stem and that
the declared params are exactly the ``$params`` the body uses, then materialises the SELECT:
``table`` replaces the whole table; ``partition`` replaces the rows of ``$business_date`` (so a
re-run replaces rather than appends); ``view`` creates a view. A partitioned file whose params
include ``customer_from`` and ``customer_to`` reads one range of customer ids at a time, so its
memory is a range's (``warehouse.chunk_customers``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline.errors import SqlError
from pipeline.warehouse import SQL_DIR, table_exists

if TYPE_CHECKING:
    import polars as pl

_HEADER = re.compile(r"^--\s*(table|grain|inputs|params|materialize):\s*(.*)$")
_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_MODES = {"table", "partition", "view"}


@dataclass(frozen=True)
class SqlModel:
    path: Path
    table: str
    grain: tuple[str, ...]
    inputs: tuple[str, ...]
    params: tuple[str, ...]
    materialize: str
    body: str


def _split(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def load_sql(path: Path) -> SqlModel:
    """Parse and check one SQL file.

    Raises
    ------
    SqlError
        When the header is missing a field or disagrees with the body.
    """
    text = path.read_text(encoding="utf-8")
    meta: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("--"):
            break
        match = _HEADER.match(line)
        if match:
            meta[match.group(1)] = match.group(2).strip()
    for field in ("table", "grain", "inputs", "params"):
        if field not in meta:
            raise SqlError(f"{path}: header line '-- {field}:' missing")
    if meta["table"] != path.stem:
        raise SqlError(f"{path}: header names table {meta['table']!r}, file is {path.stem!r}")
    mode = meta.get("materialize", "table")
    if mode not in _MODES:
        raise SqlError(f"{path}: materialize must be one of {sorted(_MODES)}, not {mode!r}")
    body_lines = [ln for ln in text.splitlines() if not ln.lstrip().startswith("--")]
    body = "\n".join(body_lines).strip().rstrip(";")
    declared = set(_split(meta["params"]))
    used = set(_PARAM.findall(body))
    if declared != used:
        raise SqlError(
            f"{path}: params declared {sorted(declared)} but the body uses {sorted(used)}"
        )
    if mode == "partition" and "business_date" not in declared:
        raise SqlError(f"{path}: a partitioned table needs the param business_date")
    return SqlModel(
        path=path,
        table=meta["table"],
        grain=_split(meta["grain"]),
        inputs=_split(meta["inputs"]),
        params=tuple(sorted(declared)),
        materialize=mode,
        body=body,
    )


OBSERVERS: list[Callable[[duckdb.DuckDBPyConnection, SqlModel, dict[str, Any]], None]] = []
"""Called with a file, its connection and the params it runs with, just before it runs: the
recorder of pipeline/engine/record.py (dev tooling) appends itself. Empty in a nightly run."""


def observe(con: duckdb.DuckDBPyConnection, model: SqlModel, args: dict[str, Any]) -> None:
    """Tell the :data:`OBSERVERS` (none in a nightly run) that ``model`` runs with ``args``."""
    for observer in OBSERVERS:
        observer(con, model, args)


def sql_path(name: str) -> Path:
    """The file of a derived table: ``name`` is ``<stage>/<table>``."""
    return SQL_DIR / f"{name}.sql"


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    rows: str,
    business_date: date,
    args: dict[str, Any] | None = None,
    key: str = "business_date",
    where: str | None = None,
    where_args: dict[str, Any] | None = None,
) -> int:
    """Replace ``table``'s rows of ``business_date`` with the relation ``rows`` (a temp table,
    a registered frame, or a parenthesised SELECT with its ``args``, inserted straight into the
    table); return how many rows it has. A missing table is created; a column new in ``rows``
    is added to the table (null for older dates). ``key`` is the partition column (a monthly
    table's ``month_start``). With ``where`` (a predicate over the table's columns, with its
    ``where_args``) only the date's rows for which it is true are replaced, the others kept."""
    columns = con.execute(f"describe select * from {rows}", args or {}).fetchall()
    if not table_exists(con, table):
        con.execute(
            f"create table {table} (" + ", ".join(f'"{n}" {k}' for n, k, *_ in columns) + ")"
        )
    else:
        have = {r[0] for r in con.execute(f"describe {table}").fetchall()}
        for name, kind, *_ in columns:
            if name not in have:
                con.execute(f'alter table {table} add column "{name}" {kind}')
    if where is None:
        con.execute(f"delete from {table} where {key} = $d", {"d": business_date})
    else:
        con.execute(
            f"delete from {table} where {key} = $partition_value and ({where})",
            {**(where_args or {}), "partition_value": business_date},
        )
    return _append(con, table, rows, args)


def _append(
    con: duckdb.DuckDBPyConnection, table: str, rows: str, args: dict[str, Any] | None
) -> int:
    row = con.execute(f"insert into {table} by name select * from {rows}", args or {}).fetchone()
    return int(row[0]) if row else 0


def write_partition(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, business_date: date
) -> int:
    """Replace ``table``'s rows of ``business_date`` with a polars ``frame`` (its
    ``business_date`` column set to the date), as :func:`run_sql` does for a SQL file."""
    import polars as pl

    frame = frame.with_columns(business_date=pl.lit(business_date, dtype=pl.Date))
    con.register("_frame_rows", frame.to_arrow())
    try:
        replace_partition(con, table, "_frame_rows", business_date)
    finally:
        con.unregister("_frame_rows")
    return frame.height


def temp_table(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> None:
    """Materialise ``sql/<name>.sql`` as a temp table of this connection: a run's scratch,
    never written to the warehouse file. Only the parameters the file declares are passed."""
    model = load_sql(sql_path(name))
    args = {k: params[k] for k in model.params}
    observe(con, model, args)
    con.execute(f"create or replace temp table {model.table} as {model.body}", args)


def run_sql(con: duckdb.DuckDBPyConnection, name: str, params: dict[str, Any]) -> int:
    """Materialise the table of ``sql/<name>.sql`` and return its row count for this run.

    Only the parameters the file declares are passed on; a missing one is an error. A file
    that declares ``customer_from`` and ``customer_to`` is run once per range of
    ``params["chunk_customers"]`` customers (:func:`customer_ranges`), which supplies them.
    """
    model = load_sql(sql_path(name))
    missing = set(model.params) - set(params) - set(RANGE_PARAMS)
    if missing:
        raise SqlError(f"{model.path}: parameters not supplied: {sorted(missing)}")
    args = {k: params[k] for k in model.params if k not in RANGE_PARAMS}
    if RANGE_PARAMS[0] in model.params:
        return _run_in_ranges(con, model, args, params["business_date"], params["chunk_customers"])
    observe(con, model, args)
    try:
        if model.materialize == "view":
            con.execute(f"create or replace view {model.table} as {model.body}", args)
            return 0
        if model.materialize == "table":
            con.execute(f"create or replace table {model.table} as {model.body}", args)
            row = con.execute(f"select count(*) from {model.table}").fetchone()
            return int(row[0]) if row else 0
        return replace_partition(con, model.table, f"({model.body})", params["business_date"], args)
    except duckdb.Error as exc:
        raise SqlError(f"{model.path}: {exc}") from None


RANGE_PARAMS = ("customer_from", "customer_to")
"""The params of a file computed one range of customers at a time (see :func:`run_sql`)."""


def customer_ranges(
    con: duckdb.DuckDBPyConnection, business_date: date, per_range: int
) -> list[tuple[str, str | None]]:
    """Ranges of ``per_range`` customers valid at ``business_date``, in customer_id order:
    (from, before) pairs covering every string, the first from '' and the last open."""
    starts = [
        r[0]
        for r in con.execute(
            """
            select customer_id from (
                select customer_id, row_number() over (order by customer_id) - 1 as n
                from hist_customers where valid_from <= $d and valid_to > $d
            ) where n > 0 and n % $per = 0 order by customer_id
            """,
            {"d": business_date, "per": per_range},
        ).fetchall()
    ]
    bounds: list[str | None] = ["", *starts, None]
    return [(str(bounds[i]), bounds[i + 1]) for i in range(len(bounds) - 1)]


def _run_in_ranges(
    con: duckdb.DuckDBPyConnection,
    model: SqlModel,
    args: dict[str, Any],
    business_date: date,
    per_range: int,
) -> int:
    """Materialise a partitioned file that reads one range of customers at a time
    (``customer_id >= $customer_from and ($customer_to is null or customer_id < $customer_to)``
    on each of its inputs), so the query's memory is a range's: the date's rows are replaced by
    the first range's and the others are appended, in the caller's transaction."""
    if model.materialize != "partition":
        raise SqlError(f"{model.path}: only a partitioned table is computed by customer ranges")
    rows = 0
    try:
        ranges = customer_ranges(con, business_date, per_range)
        for i, (first, before) in enumerate(ranges):
            part = {**args, "customer_from": first, "customer_to": before}
            observe(con, model, part)
            if i == 0:
                rows += replace_partition(con, model.table, f"({model.body})", business_date, part)
            else:
                rows += _append(con, model.table, f"({model.body})", part)
    except duckdb.Error as exc:
        raise SqlError(f"{model.path}: {exc}") from None
    return rows
