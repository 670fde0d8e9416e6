"""A range of dates (`cvp ingest --from --to`) commits dates in groups: the warehouse ends as
one commit per date would leave it, a failure keeps the dates before it, a kill loses nothing
that the next run does not redo."""

from __future__ import annotations

import logging
import shutil
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Config
from pipeline.errors import ExtractError
from pipeline.ingest import ingest_dates, readahead
from pipeline.ingest.discover import Delivery
from pipeline.warehouse import RunLedger, connect
from tests.conftest import REPO
from tests.landing import acct_line, cust_line, write_feed
from tests.test_ingest_process import cvp_env, killed_after, run_cvp

LOG = logging.getLogger("test")
SAMPLES = REPO / "data_samples" / "landing"
FIRST = date(2026, 11, 23)
DATES = [FIRST + timedelta(days=i) for i in range(5)]  # the five dates of data_samples

# Every table ingest writes, without the columns that record when.
TABLES = {
    "stg_transactions": "select * from stg_transactions",
    "hist_customers": "select * from hist_customers",
    "hist_accounts": "select * from hist_accounts",
    "hist_branches": "select * from hist_branches",
    "ingest_txn_id_ranges": "select * from ingest_txn_id_ranges",
    "quarantine": "select * exclude (quarantined_at) from quarantine",
    "file_ledger": "select * exclude (received_at) from file_ledger",
    "run_ledger": "select stage, business_date, status, rows, message from run_ledger",
}


def with_commit_every(cfg: Config, rows: int, warehouse: Path) -> Config:
    ingest = cfg.ingest.model_copy(update={"commit_every_rows": rows})
    paths = cfg.paths.model_copy(update={"warehouse": warehouse})
    return cfg.model_copy(update={"ingest": ingest, "paths": paths})


def ingest_range(cfg: Config, dates: list[date]) -> None:
    con = connect(cfg)
    try:
        ingest_dates(con, cfg, dates, RunLedger(con, cfg.fingerprint()), LOG)
    finally:
        con.close()


def differences(a: Path, b: Path) -> dict[str, int]:
    """Rows in one warehouse's ingest tables and not the other's, either way, by table."""
    con = duckdb.connect(str(a), read_only=True)
    con.execute(f"attach '{b}' as other (read_only)")
    out = {}
    for table, sql in TABLES.items():
        theirs = sql.replace(f"from {table}", f"from other.{table}")
        row = con.execute(
            f"select (select count(*) from ({sql} except all {theirs})) "
            f"+ (select count(*) from ({theirs} except all {sql}))"
        ).fetchone()
        out[table] = row[0] if row else -1
    con.close()
    return out


def count_rows(db: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@pytest.fixture
def samples(cfg: Config) -> Config:
    """The configuration on a copy of data_samples' landing zone (five generated dates)."""
    shutil.copytree(SAMPLES, cfg.paths.landing_dir)
    return cfg


def test_a_range_committed_in_groups_equals_one_commit_per_date(
    samples: Config, tmp_path: Path
) -> None:
    ok = samples.paths.landing_dir / "20261125" / "TXN_ATM_20261125.dat.ok"
    name, count, amount, day = ok.read_text(encoding="ascii").strip().split("|")
    ok.write_text(f"{name}|{int(count) + 1}|{amount}|{day}\n", encoding="ascii")  # rejected
    grouped = with_commit_every(samples, 10**9, tmp_path / "grouped.duckdb")
    by_date = with_commit_every(samples, 0, tmp_path / "by_date.duckdb")
    ingest_range(grouped, DATES)
    ingest_range(by_date, DATES)
    assert differences(grouped.paths.warehouse, by_date.paths.warehouse) == dict.fromkeys(TABLES, 0)
    statuses = count_rows(
        grouped.paths.warehouse,
        "select business_date, status from run_ledger order by business_date",
    )
    # the range stops at the incomplete date (issue 14, item 4: its late files must still load)
    assert statuses == [
        (d, "failed" if d == date(2026, 11, 25) else "succeeded")
        for d in DATES
        if d <= date(2026, 11, 25)
    ]
    assert count_rows(grouped.paths.warehouse, "select count(*) from stg_transactions")[0][0] > 0


def test_a_failing_date_keeps_the_dates_before_it_and_is_recorded(
    samples: Config, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A file that cannot be decoded is only rejected (exit 3, test_hostile_landing): the
    # date fails here as on an I/O error while its files are read.
    failing = {DATES[2]}
    real_read = readahead.read_part

    def read_part(cfg: Config, deliveries: list[Delivery], threads: int | None) -> readahead.Part:
        if deliveries[0].business_date in failing and deliveries[0].feed == "TXN":
            raise ExtractError("TXN_NET_20261125.dat: Input/output error")
        return real_read(cfg, deliveries, threads)

    monkeypatch.setattr(readahead, "read_part", read_part)
    grouped = with_commit_every(samples, 10**9, tmp_path / "grouped.duckdb")
    with pytest.raises(ExtractError, match=r"TXN_NET_20261125\.dat: Input/output error"):
        ingest_range(grouped, DATES)
    db = grouped.paths.warehouse
    runs = count_rows(db, "select business_date, status from run_ledger order by business_date")
    assert runs == [(DATES[0], "succeeded"), (DATES[1], "succeeded"), (DATES[2], "failed")]
    loaded = count_rows(db, "select distinct business_date from file_ledger order by 1")
    assert loaded == [(DATES[0],), (DATES[1],)]
    staged = count_rows(db, "select distinct business_date from stg_transactions order by 1")
    assert staged == [(DATES[0],), (DATES[1],)]

    by_date = with_commit_every(samples, 0, tmp_path / "by_date.duckdb")
    with pytest.raises(ExtractError):
        ingest_range(by_date, DATES)
    assert differences(db, by_date.paths.warehouse) == dict.fromkeys(TABLES, 0)

    failing.clear()
    ingest_range(grouped, DATES)  # the next run completes the range
    clean = with_commit_every(samples, 0, tmp_path / "clean.duckdb")
    ingest_range(clean, DATES)
    succeeded = "select distinct business_date from run_ledger where status = 'succeeded'"
    assert count_rows(db, succeeded + " order by 1") == [(d,) for d in DATES]
    assert differences(db, clean.paths.warehouse)["stg_transactions"] == 0


def big_range(landing: Path, days: list[date], rows: int) -> dict[tuple[date, str], tuple]:
    """``rows`` transactions per channel and date; returns each file's control totals."""
    controls = {}
    for day in days:
        stamp = day.strftime("%Y%m%d")
        write_feed(landing, day, f"CUST_{stamp}.dat", [cust_line("C1")], feed="CUST")
        write_feed(landing, day, f"ACCT_{stamp}.dat", [acct_line("A1", "C1")], feed="ACCT")
        for ch, code, direction, mcc in (
            ("CTR", "DEP", "C", ""),
            ("ATM", "WDL", "D", ""),
            ("TEL", "TRO", "D", ""),
            ("NET", "TRI", "C", ""),
            ("POS", "POS", "D", "5411"),
        ):
            amounts = [f"{(i % 5000) + 1}.{i % 100:02d}" for i in range(rows)]
            lines = [
                f"{ch}{stamp}{i:07d}|{stamp}|101500|C1|A1|{ch}|{code}|{direction}|{a}|CNY|0.00"
                f"|6222000011112222|李珅|103||{mcc}||"
                for i, a in enumerate(amounts)
            ]
            write_feed(landing, day, f"TXN_{ch}_{stamp}.dat", lines, feed="TXN")
            controls[(day, ch)] = (rows, sum((Decimal(a) for a in amounts), Decimal(0)))
    return controls


def test_a_range_killed_part_way_then_rerun_gives_exactly_the_control_totals(
    tmp_path: Path,
) -> None:
    days = DATES[:4]
    controls = big_range(tmp_path / "landing", days, rows=6_000)
    env = cvp_env(tmp_path)
    args = ["ingest", "--from", str(days[0]), "--to", str(days[-1])]
    scratch = dict(env, CVP_WAREHOUSE=str(tmp_path / "scratch.duckdb"))
    for where in (scratch, env):
        assert run_cvp(["init"], where).returncode == 0
    started = time.monotonic()
    assert run_cvp(args, scratch).returncode == 0
    whole = time.monotonic() - started
    db = tmp_path / "cvp.duckdb"
    ledger = (
        "select business_date, channel, rows_loaded from file_ledger "
        "where feed = 'TXN' and outcome in ('loaded', 'replaced')"
    )
    staged = "select business_date, channel, count(*) from stg_transactions group by all"
    consistent = (
        f"select (select count(*) from ({ledger} except all {staged})) "
        f"+ (select count(*) from ({staged} except all {ledger}))"
    )
    kills = 0
    for fraction in (0.4, 0.6, 0.8, 0.95):
        kills += killed_after(args, env, whole * fraction)
        if db.exists():
            assert count_rows(db, consistent) == [(0,)]
    assert kills > 0, "every load finished before its kill"
    done = run_cvp(args, env)
    assert done.returncode == 0, done.stderr
    totals = count_rows(
        db,
        "select business_date, channel, count(*), sum(amount) from stg_transactions group by all",
    )
    assert {(d, ch): (n, s) for d, ch, n, s in totals} == controls
