"""The analysts' snapshot: a read-only copy of the warehouse, published after each successful
night, so that a notebook or DBeaver never holds the file the nightly run writes.

DuckDB lets one process write a database file, and a reader in another process locks the
writer out (the night then waits and exits 4). So analysts read a copy: after ``cvp run``
succeeds, the warehouse is checkpointed (everything in the WAL goes into the file) and the
file is copied beside it as ``<warehouse stem>.analysts.duckdb``, written aside and renamed
over the previous copy. A connection open on the previous copy keeps reading it (the rename
does not disturb an open file); the next connection reads the new one. ``cvp sql`` and
``cvp show`` read the snapshot; docs/warehouse.md says how to open it from Python or DBeaver.

The copy takes the time of copying the file (``copy_file_range``, in the kernel: 20% less
than a copy through user space on this machine's ext4, and a clone on a file system that
shares blocks, e.g. XFS or Btrfs): measured in docs/warehouse.md ("The analysts' snapshot").
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import duckdb

from pipeline.config import Config
from pipeline.errors import PipelineError


def snapshot_path(cfg: Config) -> Path:
    """Where the analysts' snapshot of the warehouse is."""
    warehouse = cfg.paths.warehouse
    return warehouse.with_name(f"{warehouse.stem}.analysts.duckdb")


def publish_snapshot(con: duckdb.DuckDBPyConnection, cfg: Config) -> tuple[Path, float]:
    """Checkpoint the warehouse (``con``, the writer's connection) and publish its copy.

    Returns the snapshot's path and the seconds it took. The writer keeps its connection:
    nobody else writes the file meanwhile, so the copy is consistent.
    """
    started = time.monotonic()
    con.execute("checkpoint")
    target = snapshot_path(cfg)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        _copy(cfg.paths.warehouse, tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target, time.monotonic() - started


def _copy(source: Path, target: Path) -> None:
    """Copy ``source`` to a new file ``target`` and flush it to disk. In the kernel
    (``copy_file_range``: no pass through user space, a clone where the file system shares
    blocks), else by :func:`shutil.copyfile`."""
    with source.open("rb") as src, target.open("wb") as dst:
        size = os.fstat(src.fileno()).st_size
        copied = 0
        try:
            while copied < size:
                n = os.copy_file_range(src.fileno(), dst.fileno(), size - copied)
                if n == 0:
                    break
                copied += n
        except OSError:
            copied = -1
        if copied != size:  # not supported here (another file system, an old kernel)
            dst.seek(0)
            dst.truncate()
            src.seek(0)
            shutil.copyfileobj(src, dst, 16 << 20)
        dst.flush()
        os.fsync(dst.fileno())


def open_snapshot(cfg: Config) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the analysts' snapshot.

    Raises
    ------
    PipelineError
        When no night has published one yet.
    """
    path = snapshot_path(cfg)
    if not path.exists():
        raise PipelineError(
            f"{path}: no analysts' snapshot yet; it is published after each successful `cvp run`"
        )
    return duckdb.connect(str(path), read_only=True)


def table_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Tables and views an analyst can read, by name."""
    rows = con.execute(
        "select table_name from information_schema.tables "
        "where table_schema = 'main' order by table_name"
    ).fetchall()
    return [r[0] for r in rows]
