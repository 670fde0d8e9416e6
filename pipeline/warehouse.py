"""The DuckDB warehouse: connecting (one writer at a time), the schema, and the run ledger."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import date, datetime
from importlib import resources
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

from pipeline.config import Config
from pipeline.errors import WarehouseBusy, WarehouseMissing, WarehouseUnreadable

SQL_DIR = Path(str(resources.files("pipeline") / "sql"))
"""The SQL files: ``sql/`` of a checkout (``pipeline/sql`` links to it), inside the package
once installed from a wheel."""
FAR_FUTURE = date(9999, 12, 31)


def code_version() -> str:
    try:
        return version("cvp")
    except PackageNotFoundError:  # running from a checkout that is not installed
        return "0+unknown"


WRITER_SETTINGS: dict[str, str | bool | int | float | list[str]] = {
    "enable_optimistic_write": False
}
"""Settings of a writable warehouse connection. Bulk inserts are not written to the database file
ahead of their commit (DuckDB's optimistic writes): when a kill tears a commit's log after the
pointers to such rows but before the commit's end, DuckDB 1.5's crash recovery keeps those rows
and drops the rest of the transaction (tests/test_torn_commit.py; seen in CI as a night's
transactions without their file ledger rows). Held until the commit (spilling under the memory
limit), they are committed or lost with the rest. The 250k-customer night costs the same either
way (bench_night, 2 runs each: 67-76 s wall, 99-106 s CPU, 4.5 GB peak)."""

_LOCK_CONFLICT = "could not set lock on file"
"""DuckDB's words when another process holds the file: the only open error that means busy
(a checksum error says "in block at ...", which contains "lock" too)."""


def _open(path: Path, read_only: bool, wait_seconds: float) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if read_only:
                return duckdb.connect(str(path), read_only=True)
            return duckdb.connect(str(path), config=WRITER_SETTINGS)
        except duckdb.Error as exc:
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if _LOCK_CONFLICT not in text.lower():
                raise WarehouseUnreadable(
                    f"warehouse file is corrupt or unreadable: {path}: {text[:300]}; restore "
                    f"it from your latest backup or the analysts' copy beside it "
                    f"({path.stem}.analysts.duckdb, as of the last good night), or move it "
                    "aside and rebuild: `cvp init`, then `cvp run --from <first date> --to "
                    "<last>` (docs/warehouse.md, Recovery)"
                ) from None
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"{path}: another cvp process is using the warehouse "
                    f"(waited {wait_seconds:g} s){_holder(path)}; try again when it has finished"
                ) from None
            time.sleep(0.2)


def lock_path(cfg: Config) -> Path:
    """The sidecar lock file of the warehouse (``<warehouse>.lock``), and beside it
    ``<warehouse>.lock.json``: who holds it."""
    return cfg.paths.warehouse.with_name(cfg.paths.warehouse.name + ".lock")


def _holder(path: Path) -> str:
    info = path.with_name(path.name + ".lock.json")
    try:
        who = json.loads(info.read_text(encoding="utf-8"))
        return f": held by pid {who['pid']} since {who['started_at']} ({who['command']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""


def require_warehouse(cfg: Config) -> None:
    """Refuse a warehouse path where there is none (before touching anything there).

    Raises
    ------
    WarehouseMissing
        Naming the path and the two commands that make a warehouse.
    """
    path = cfg.paths.warehouse
    if not path.exists():
        raise WarehouseMissing(
            f"{path}: no warehouse there; check the path (a typo? a volume not mounted?). "
            "A new warehouse is made only on purpose: `cvp init`, or `cvp ingest --new "
            "--date <the landing zone's first date>`"
        )


@contextmanager
def hold_warehouse(cfg: Config, command: str, create: bool = False) -> Iterator[None]:
    """Hold the warehouse's sidecar lock for a whole command (``filelock``: released when the
    block ends or the process dies, kill -9 included), so a second cvp says "busy" (exit 4)
    with the holder's pid and start time instead of failing half-way.

    Raises
    ------
    WarehouseBusy
        When another process still holds it after ``warehouse.lock_wait_seconds``.
    WarehouseMissing
        When there is no warehouse and ``create`` is False.
    """
    from filelock import FileLock, Timeout

    if not create:
        require_warehouse(cfg)
    path = lock_path(cfg)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), timeout=cfg.warehouse.lock_wait_seconds)
    try:
        lock.acquire()
    except Timeout:
        raise WarehouseBusy(
            f"{cfg.paths.warehouse}: another cvp process is using the warehouse (waited "
            f"{cfg.warehouse.lock_wait_seconds:g} s){_holder(cfg.paths.warehouse)}; try again "
            "when it has finished"
        ) from None
    info = path.with_name(path.name + ".json")
    try:
        info.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": datetime.now().isoformat(timespec="seconds"),
                    "command": command,
                }
            ),
            encoding="utf-8",
        )
        yield
    finally:
        with suppress(OSError):
            info.unlink()
        lock.release()


def connect(cfg: Config, read_only: bool = False, create: bool = True) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting up to ``lock_wait_seconds`` for another process.

    A writable connection brings the schema up to date; it creates the file only with
    ``create`` (the command line passes False but for ``cvp init`` and ``cvp ingest --new``:
    a typo or an unmounted volume must not make an empty warehouse that then publishes one
    day's numbers). A read-only connection to a missing file, with ``create``, is an empty
    in-memory warehouse.

    Raises
    ------
    WarehouseMissing
        When the file does not exist and ``create`` is False.
    WarehouseUnreadable
        When DuckDB cannot open the file for any reason but another process's lock.
    WarehouseBusy
        When another process still holds the warehouse after the wait.
    """
    path = cfg.paths.warehouse
    if not create:
        require_warehouse(cfg)
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


def release_cache(con: duckdb.DuckDBPyConnection, memory_limit: str | None) -> None:
    """Give the memory of DuckDB's cached table blocks back to the system, before Python builds
    large frames beside it: the configured ``memory_limit`` (``warehouse.memory_limit``) is
    lowered for a moment (DuckDB evicts what it can; blocks of tables are read again from the
    file when needed), then set back. Nothing is done without a configured limit.

    The limit is the database's, set here on a cursor of its own: when what is pinned cannot
    be evicted, the failed lowering aborts that cursor's statement only, not the transaction
    of the stage that called (a tiers stage at 2M failed so)."""
    if not memory_limit:
        return
    cursor = con.cursor()
    try:
        cursor.execute("set memory_limit = '32MB'")
    except duckdb.Error:  # what is pinned cannot be evicted: keep what could be
        pass
    finally:
        cursor.execute("set memory_limit = ?", [memory_limit])
        cursor.close()


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

    def __init__(
        self, con: duckdb.DuckDBPyConnection, config_hash: str, run_id: str | None = None
    ) -> None:
        self.con = con
        self.config_hash = config_hash
        self.run_id = run_id or uuid.uuid4().hex[:12]
        """The command's run id (its log lines carry it too: :mod:`pipeline.logs`)."""

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
