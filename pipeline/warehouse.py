"""The DuckDB warehouse: connecting (one writer at a time), the schema, and the run ledger."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from pipeline.config import Config
from pipeline.errors import WarehouseBusy

SQL_DIR = Path(str(resources.files("pipeline") / "sql"))
"""The SQL files: ``sql/`` of a checkout (``pipeline/sql`` links to it), inside the package
once installed from a wheel."""
FAR_FUTURE = date(9999, 12, 31)


def code_version() -> str:
    try:
        return version("cvp")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"{path}: another cvp process is using the warehouse "
                    f"(waited {wait_seconds:g} s); try again when it has finished"
                ) from None
            time.sleep(0.2)


def connect(cfg: Config, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to ``lock_wait_seconds`` for another process.

    A writable connection creates the file if needed and brings the schema up to date.

    Raises
    ------
    WarehouseBusy
        When another process still holds the warehouse after the wait.
    """
    path = cfg.paths.warehouse
    if read_only and not path.exists():
        con = duckdb.connect(":memory:")
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = _open(path, read_only, cfg.warehouse.lock_wait_seconds)
    if cfg.warehouse.threads:
        con.execute(f"set threads = {int(cfg.warehouse.threads)}")
    if cfg.warehouse.memory_limit:
        con.execute("set memory_limit = ?", [cfg.warehouse.memory_limit])
    if not read_only or not path.exists():
        migrate(con)
    return con


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create the base tables and views if they are missing."""
    con.execute((SQL_DIR / "warehouse" / "schema.sql").read_text(encoding="utf-8"))


def table_exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    """Whether the warehouse (or this connection's temp schema) has a table ``table``."""
    row = con.execute(
        "select count(*) from information_schema.tables where table_name = $t", {"t": table}
    ).fetchone()
    return bool(row and row[0])


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """All or nothing: commit when the block ends normally, roll back on any error."""
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


class RunLedger:
    """Writes one row per stage run: stage, date, status, times, rows, config and version."""

    def __init__(self, con: duckdb.DuckDBPyConnection, config_hash: str) -> None:
        self.con = con
        self.config_hash = config_hash
        self.run_id = uuid.uuid4().hex[:12]

    def start(self, stage: str, business_date: date, inputs_hash: str | None = None) -> datetime:
        started = datetime.now()
        self.con.execute(
            "insert into run_ledger (run_id, stage, business_date, status, started_at, "
            "config_hash, inputs_hash, code_version) values (?, ?, ?, 'running', ?, ?, ?, ?)",
            [
                self.run_id,
                stage,
                business_date,
                started,
                self.config_hash,
                inputs_hash,
                code_version(),
            ],
        )
        return started

    def record_skip(self, stage: str, business_date: date, inputs_hash: str, reason: str) -> None:
        now = datetime.now()
        self.con.execute(
            "insert into run_ledger values (?, ?, ?, 'skipped', ?, ?, 0, ?, ?, ?, ?)",
            [
                self.run_id,
                stage,
                business_date,
                now,
                now,
                self.config_hash,
                inputs_hash,
                code_version(),
                reason,
            ],
        )

    def set_token(self, stage: str, business_date: date, inputs_hash: str) -> None:
        """Record the inputs token of a run that could only be known after it (ingest)."""
        self.con.execute(
            "update run_ledger set inputs_hash = ? where run_id = ? and stage = ? "
            "and business_date = ? and status <> 'skipped'",
            [inputs_hash, self.run_id, stage, business_date],
        )

    def finish(
        self,
        stage: str,
        business_date: date,
        status: str,
        rows: int | None = None,
        message: str | None = None,
    ) -> None:
        self.con.execute(
            "update run_ledger set status = ?, ended_at = ?, rows = ?, message = ? "
            "where run_id = ? and stage = ? and business_date = ? and status = 'running'",
            [status, datetime.now(), rows, message, self.run_id, stage, business_date],
        )
