"""A commit torn by a kill is recovered whole or not at all.

DuckDB 1.5 writes a bulk insert's row groups to the database file before the commit
(optimistic writes) and logs only pointers to them; when a kill tears the log after those
pointers but before the commit's end, its crash recovery keeps the rows and drops the rest of
the transaction (seen in CI: a night's 200,000 transactions without their file ledger rows).
The warehouse's writable connection turns optimistic writes off
(:data:`pipeline.warehouse.WRITER_SETTINGS`). The kill is reproduced exactly here: a process
commits through the log and exits without a checkpoint, and the log is cut short byte by byte
from its end, as a kill during the commit leaves it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import REPO

ROWS = 300_000
"""Over two of DuckDB's 122,880-row row groups: enough for an optimistic write."""

COMMIT_THEN_DIE = f"""
import os, sys
from pathlib import Path
from pipeline.config import load_config
from pipeline.warehouse import connect
cfg = load_config(None, {{"warehouse": Path(sys.argv[1])}})
con = connect(cfg)
con.execute("create table bulk (i bigint, s varchar)")
con.execute("create table ledger (name varchar)")
con.execute("checkpoint")
# another connection's open write keeps DuckDB from checkpointing at the commit: the
# transaction goes through the write-ahead log, as it does when a night's commit cannot
# take the checkpoint lock
other = con.cursor()
other.execute("begin")
other.execute("insert into ledger values ('other')")
con.execute("begin")
con.execute("insert into bulk select range, 'row ' || range from range({ROWS})")
con.execute("insert into ledger values ('bulk loaded')")
con.execute("commit")
os._exit(0)  # no close, no checkpoint: the commit is in the log only
"""


def _state(db: Path) -> tuple[int, int]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        bulk = con.execute("select count(*) from bulk").fetchone()
        ledger = con.execute("select count(*) from ledger").fetchone()
        assert bulk is not None and ledger is not None
        return bulk[0], ledger[0]
    finally:
        con.close()


def test_a_commit_cut_short_anywhere_near_its_end_leaves_none_of_its_rows(
    tmp_path: Path,
) -> None:
    db = tmp_path / "committed" / "cvp.duckdb"
    db.parent.mkdir()
    subprocess.run(
        [sys.executable, "-c", COMMIT_THEN_DIE, str(db)], cwd=REPO, check=True, timeout=120
    )
    wal = Path(f"{db}.wal")
    assert _state(db) == (ROWS, 1), "the whole commit is recovered from an intact log"
    size = wal.stat().st_size
    torn = tmp_path / "torn" / "cvp.duckdb"
    seen = set()
    for cut in range(1, 129):  # the commit's last entries: the end mark and what precedes it
        shutil.rmtree(torn.parent, ignore_errors=True)
        torn.parent.mkdir()
        shutil.copy(db, torn)
        shutil.copy(wal, f"{torn}.wal")
        os.truncate(f"{torn}.wal", size - cut)
        seen.add(_state(torn))
    assert seen == {(0, 0)}, f"a torn commit recovered in part: (bulk rows, ledger rows) {seen}"
