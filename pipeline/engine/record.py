"""Record what each SQL file computes during a real DuckDB night, to replay it on Spark.

For every SQL file the night runs (:func:`pipeline.sqlfiles.observe`), one case folder
``<out>/<stage>__<table>/`` holds:

- ``params.json``: the params it ran with, each tagged with its Python type;
- ``inputs/<relation>.parquet``: every relation its body reads (warehouse tables, temp
  tables, registered frames), as they were just before it ran;
- ``result.parquet``: DuckDB's rows of its SELECT, run just before the night runs it;
- ``types.json``: the DuckDB type of every column of the result and of each input.

A file run more than once keeps its last run whose result has rows (its last run when none
has). Recording runs each body twice and copies its inputs: dev tooling, never on in a night.

    python -m pipeline.engine.record --out var/spark-record
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq
from sqlglot import exp

from pipeline import sqlfiles
from pipeline.engine.translate import parse_body
from pipeline.warehouse import SQL_DIR

REPO = Path(__file__).resolve().parents[2]
YOUNG_HISTORY = "min_days: {merchants: 1, tiers: 1, export: 1}"
"""history.min_days for a zone of a few days (as tests/conftest.py's young_config): merchants,
tiers and export otherwise refuse a warehouse younger than their windows."""
BEFORE_LAST = "before-last.duckdb"
"""The recording's warehouse as the last night found it (beside ``cvp.duckdb``)."""


def encode_params(args: dict[str, Any]) -> dict[str, Any]:
    """``args`` as JSON: each value a ``[type, text]`` pair (lists a list of them)."""

    def one(value: Any) -> Any:
        if isinstance(value, list | tuple):
            return ["list", [one(v) for v in value]]
        if value is None or isinstance(value, bool | int | str):
            return [type(value).__name__, value]
        if isinstance(value, float | Decimal | datetime | date):
            return [
                type(value).__name__,
                value.isoformat() if isinstance(value, date) else str(value),
            ]
        raise TypeError(f"cannot record a param of type {type(value).__name__}")

    return {name: one(value) for name, value in args.items()}


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "float": float,
    "Decimal": Decimal,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
}


def decode_params(encoded: dict[str, Any]) -> dict[str, Any]:
    """The inverse of :func:`encode_params`."""

    def one(pair: list[Any]) -> Any:
        kind, value = pair
        if kind == "list":
            return [one(v) for v in value]
        decoder = _DECODERS.get(kind)
        return decoder(value) if decoder else value

    return {name: one(pair) for name, pair in encoded.items()}


def relations_read(body: str) -> list[str]:
    """The tables, views and frames ``body`` reads: its FROM/JOIN names that are not its CTEs."""
    tree = parse_body(body)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    names = {t.name.lower() for t in tree.find_all(exp.Table) if t.name and not t.args.get("db")}
    return sorted(names - ctes)


def _types(con: duckdb.DuckDBPyConnection, relation: str, args: dict[str, Any]) -> list[list[str]]:
    return [[r[0], r[1]] for r in con.execute(f"describe {relation}", args).fetchall()]


class Recorder:
    """An observer of :mod:`pipeline.sqlfiles` writing one case folder per SQL file."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.runs: dict[str, int] = {}

    def __call__(
        self, con: duckdb.DuckDBPyConnection, model: sqlfiles.SqlModel, args: dict[str, Any]
    ) -> None:
        name = f"{model.path.parent.name}__{model.table}"
        self.runs[name] = self.runs.get(name, 0) + 1
        case = self.out / name
        query = f"select * from ({model.body})"
        result = con.execute(query, args).to_arrow_table()
        if case.exists():
            if result.num_rows == 0:
                return  # keep an earlier run that had rows
            shutil.rmtree(case)
        (case / "inputs").mkdir(parents=True)
        types: dict[str, Any] = {"result": _types(con, f"({query})", args), "inputs": {}}
        for relation in relations_read(model.body):
            try:
                rows = con.execute(f"select * from {relation}").to_arrow_table()
            except duckdb.CatalogException:
                continue  # a name the body defines otherwise (a lateral alias, a function)
            pq.write_table(rows, case / "inputs" / f"{relation}.parquet")
            types["inputs"][relation] = _types(con, relation, {})
        pq.write_table(result, case / "result.parquet")
        (case / "types.json").write_text(json.dumps(types, indent=1), encoding="utf-8")
        (case / "params.json").write_text(
            json.dumps(
                {"file": str(model.path.relative_to(SQL_DIR)), "params": encode_params(args)},
                indent=1,
            ),
            encoding="utf-8",
        )


@contextmanager
def recording(out: Path) -> Iterator[Recorder]:
    """Record every SQL file run inside the ``with`` block into ``out``."""
    recorder = Recorder(out)
    sqlfiles.OBSERVERS.append(recorder)
    try:
        yield recorder
    finally:
        sqlfiles.OBSERVERS.remove(recorder)


def record_night(out: Path, landing: Path, first: str, last: str) -> Recorder:
    """Ingest ``first`` into a new warehouse under ``out`` and run every night to ``last``
    (the default config, history.min_days lowered) with the recorder on; the cases go to
    ``out/cases``, a copy of the warehouse before the last night to ``BEFORE_LAST``."""
    from pipeline.cli import app

    work = out / "warehouse"
    work.mkdir(parents=True, exist_ok=True)
    config = work / "young.yaml"
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("min_days: {}", YOUNG_HISTORY, 1), encoding="utf-8")
    os.environ.update(  # the paths of this recording's warehouse (this process only)
        CVP_LANDING_DIR=str(landing),
        CVP_WAREHOUSE=str(work / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(work / "exports"),
    )
    common = ["--config", str(config), "--log-format", "json"]
    before_last = (date.fromisoformat(last) - timedelta(days=1)).isoformat()
    with recording(out / "cases") as recorder:
        for words in (
            ["ingest", "--new", "--date", first],
            ["run", "--from", first, "--to", before_last],
            ["run", "--date", last],
        ):
            if words[1] == "--date":  # the state the last night starts from, for a whole night
                shutil.copy(work / "cvp.duckdb", work / BEFORE_LAST)
            try:
                code = app([*words, *common], standalone_mode=False)
            except SystemExit as exc:
                code = exc.code
            if code:
                raise RuntimeError(f"cvp {' '.join(words)} failed (exit {code}): see its log")
    return recorder


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the recording")
    parser.add_argument("--landing", type=Path, default=REPO / "data_samples" / "landing")
    parser.add_argument("--first", default="2026-11-23", help="first business date")
    parser.add_argument("--last", default="2026-11-27", help="last business date")
    args = parser.parse_args(argv)
    recorder = record_night(args.out, args.landing, args.first, args.last)
    print(f"{len(recorder.runs)} SQL files recorded in {args.out / 'cases'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
