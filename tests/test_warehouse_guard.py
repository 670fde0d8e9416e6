"""The warehouse path is trusted, not invented; corruption is told from contention (issue 14,
items 5 and 7): a wrong path exits 1 naming it and creates nothing; only `cvp init` and
`cvp ingest --new` on the zone's first date make a warehouse; `~` and `$VAR` are expanded
once, in the config; a corrupt or truncated file is exit 1 with how to restore, never "busy";
a second cvp is "busy" (exit 4) naming the holder's pid and start time."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import load_config
from pipeline.errors import ConfigError
from pipeline.warehouse import hold_warehouse
from tests.conftest import REPO

LANDING = REPO / "data_samples" / "landing"
FIRST, SECOND = "2026-11-23", "2026-11-24"


def cvp(tmp: Path, *words: str, config: Path | None = None) -> tuple[int, str]:
    env = {
        "CVP_LANDING_DIR": str(LANDING),
        "CVP_WAREHOUSE": str(tmp / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp / "exports"),
    }
    args = [*words, "--config", str(config or REPO / "configs" / "default.yaml")]
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


def test_a_wrong_path_is_refused_and_nothing_is_created(tmp_path: Path) -> None:
    for words in (
        ("run", "--date", FIRST),
        ("ingest", "--date", FIRST),
        ("features", "--date", FIRST),
        ("status",),
        ("waive", "--date", FIRST, "--reason", "x"),
    ):
        code, output = cvp(tmp_path, *words)
        assert code == 1, (words, output)
        assert f"{tmp_path / 'cvp.duckdb'}: no warehouse there" in output, words
        assert "Traceback" not in output
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no file, no export folder


def test_only_init_or_ingest_new_on_the_first_date_make_one(tmp_path: Path) -> None:
    code, output = cvp(tmp_path, "ingest", "--new", "--date", SECOND)
    assert code == 1 and f"has dates before {SECOND}" in output
    assert not (tmp_path / "cvp.duckdb").exists()
    code, output = cvp(tmp_path, "ingest", "--new", "--date", FIRST)
    assert code == 0, output
    code, output = cvp(tmp_path, "ingest", "--new", "--date", SECOND)
    assert code == 1 and "exists already; drop --new" in output
    assert cvp(tmp_path, "ingest", "--date", SECOND)[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    assert cvp(other, "init") == (0, f"created {other / 'cvp.duckdb'}\n")
    assert cvp(other, "init")[1].endswith("exists already; left as is\n")


def test_home_and_variables_are_expanded_once_in_the_config(tmp_path: Path) -> None:
    config = tmp_path / "cvp.yaml"
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    config.write_text(text, encoding="utf-8")
    cfg = load_config(
        config,
        {"warehouse": "~/db/cvp.duckdb", "export_dir": "${DATA}/exports"},
        environ={"HOME": str(tmp_path / "home"), "DATA": "/srv/cvp"},
    )
    assert cfg.paths.warehouse == tmp_path / "home" / "db" / "cvp.duckdb"
    assert cfg.paths.export_dir == Path("/srv/cvp/exports")
    with pytest.raises(ConfigError, match=r"paths.export_dir: \$DATA is not set"):
        load_config(config, {"export_dir": "$DATA/exports"}, environ={})


def test_a_corrupt_or_truncated_warehouse_is_not_busy(tmp_path: Path) -> None:
    assert cvp(tmp_path, "ingest", "--new", "--date", FIRST)[0] == 0
    db = tmp_path / "cvp.duckdb"
    shutil.copy(db, tmp_path / "good.duckdb")
    data = db.read_bytes()
    for damaged in (data[: len(data) // 3], b"\x00" * 4096 + data[4096:], b"not a database"):
        db.write_bytes(damaged)
        code, output = cvp(tmp_path, "run", "--date", FIRST)
        assert code == 1, output
        assert "warehouse file is corrupt or unreadable" in output
        assert "restore it from your latest backup" in output
        assert "Traceback" not in output and len(output.strip().splitlines()) == 1


def test_a_second_cvp_is_busy_and_names_the_holder(tmp_path: Path) -> None:
    assert cvp(tmp_path, "init")[0] == 0
    config = tmp_path / "quick.yaml"
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    assert "lock_wait_seconds: 10" in text
    config.write_text(text.replace("lock_wait_seconds: 10", "lock_wait_seconds: 0.5"))
    cfg = load_config(config, {"warehouse": tmp_path / "cvp.duckdb"}, environ={})
    with hold_warehouse(cfg, "cvp run 2026-11-23 (the test)"):
        code, output = cvp(tmp_path, "run", "--date", FIRST, config=config)
    assert code == 4, output
    assert "another cvp process is using the warehouse" in output
    assert "held by pid" in output and "(cvp run 2026-11-23 (the test))" in output
    # released: the next one runs
    assert cvp(tmp_path, "ingest", "--date", FIRST, config=config)[0] == 0
    con = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    assert con.execute("select count(*) from file_ledger").fetchone() != (0,)
    con.close()


def test_a_stage_refuses_below_its_minimum_history(tmp_path: Path) -> None:
    """Merchants need their window, tiers the features window of the date (the defaults);
    each refuses with exit 1 naming the history held and needed; nothing is exported."""
    assert cvp(tmp_path, "init")[0] == 0
    code, output = cvp(tmp_path, "run", "--date", FIRST)
    assert code == 1
    assert (
        f"stage merchants for {FIRST} refuses: 1 day(s) of history (from {FIRST}), it needs "
        "365 (merchants.window_days)" in output
    )
    config = tmp_path / "merchants_only.yaml"
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("min_days: {}", "min_days: {merchants: 1}", 1))
    code, output = cvp(tmp_path, "run", "--date", FIRST, config=config)
    assert code == 1
    assert (
        f"stage tiers for {FIRST} refuses: 1 day(s) of history (from {FIRST}), it needs 358 "
        f"(the features window 2025-12-01 to {FIRST})" in output
    )
    assert not (tmp_path / "exports").exists()


def test_every_writing_command_waits_for_the_lock_then_exits_4(tmp_path: Path) -> None:
    """accept, clv backtest and init (on an existing warehouse: the schema update) write to
    the warehouse, so each takes the sidecar lock: a second process, while another cvp holds
    it (between its DuckDB connections, as `cvp run` does around the analysts' snapshot),
    is busy, not let in."""
    import os
    import subprocess
    import sys

    assert cvp(tmp_path, "init")[0] == 0
    config = tmp_path / "quick.yaml"
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    config.write_text(text.replace("lock_wait_seconds: 10", "lock_wait_seconds: 0.5"))
    cfg = load_config(config, {"warehouse": tmp_path / "cvp.duckdb"}, environ={})
    env = dict(os.environ, CVP_WAREHOUSE=str(tmp_path / "cvp.duckdb"))
    commands = [
        ["accept", "--file", f"CUST_{FIRST.replace('-', '')}.dat"],
        ["clv", "backtest", "--calibration-end", FIRST, "--holdout-end", SECOND],
        ["init"],
    ]
    with hold_warehouse(cfg, "cvp run 2026-11-23 (the test)"):
        for words in commands:
            done = subprocess.run(
                [sys.executable, "-m", "pipeline", *words, "--config", str(config)],
                env=env, capture_output=True, text=True, cwd=REPO, timeout=120, check=False,
            )  # fmt: skip
            assert done.returncode == 4, (words, done.stderr)
            assert "held by pid" in done.stderr and "Traceback" not in done.stderr


def test_the_analysts_snapshot_is_the_checkpointed_warehouse_byte_for_byte(
    tmp_path: Path,
) -> None:
    """publish_snapshot checkpoints, then copies the file in the kernel: the copy has the
    warehouse's bytes (a table committed to the WAL only included) and replaces the old one."""
    from pipeline.snapshot import open_snapshot, publish_snapshot, snapshot_path

    warehouse = tmp_path / "cvp.duckdb"
    cfg = load_config(REPO / "configs" / "default.yaml", overrides={"warehouse": warehouse})
    con = duckdb.connect(str(warehouse))
    con.execute("create table t as select range as n, repeat('x', 100) as s from range(300000)")
    snapshot_path(cfg).write_bytes(b"last night's copy")
    publish_snapshot(con, cfg)
    con.close()
    assert snapshot_path(cfg).read_bytes() == warehouse.read_bytes()
    reader = open_snapshot(cfg)
    assert reader.execute("select count(*), sum(n) from t").fetchone() == (300000, 44999850000)
    reader.close()


def test_release_cache_evicts_table_blocks_and_keeps_the_limit(tmp_path: Path) -> None:
    """Before the tiers' frames, the stage runner gives DuckDB's cached blocks back: the
    buffer pool holds (almost) nothing of the table afterwards, the configured limit is back,
    and the table still reads."""
    from pipeline.warehouse import release_cache

    with duckdb.connect(str(tmp_path / "w.duckdb")) as writer:
        writer.execute(
            "create table t as "
            "select range as n, hash(range) as h, hash(range + 1) as s from range(6000000)"
        )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set memory_limit = '1GB'")
    con.execute("select sum(h), sum(s), sum(n) from t").fetchall()

    def cached_mb() -> int:
        row = con.execute(
            "select sum(memory_usage_bytes) // 1048576 from duckdb_memory() "
            "where tag = 'BASE_TABLE'"
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    assert cached_mb() > 64
    release_cache(con, "1GB")
    assert cached_mb() <= 32
    assert con.execute("select current_setting('memory_limit')").fetchone() == ("953.6 MiB",)
    assert con.execute("select count(*) from t").fetchone() == (6000000,)


def test_release_cache_that_cannot_evict_leaves_the_stage_transaction_alive(
    tmp_path: Path,
) -> None:
    """When what DuckDB holds cannot be evicted (here a result still pending on another
    cursor), lowering the limit fails; inside a stage's transaction that failure must not
    abort it: the stage's writes still commit and the configured limit is back (a tiers
    stage at 2M customers failed with "Current transaction is aborted")."""
    from pipeline.warehouse import release_cache

    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute("set memory_limit = '1GB'")
    con.execute("create table t as select range as n, 'name ' || range as s from range(3000000)")
    con.execute("begin transaction")
    con.execute("insert into t select n + 3000000, s from t")
    pending = con.cursor().execute("select s, count(*) from t group by s")  # holds its groups
    release_cache(con, "1GB")
    con.execute("commit")
    del pending
    assert con.execute("select count(*) from t").fetchone() == (6000000,)
    assert con.execute("select current_setting('memory_limit')").fetchone() == ("953.6 MiB",)
