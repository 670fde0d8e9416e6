"""Ingest throughput on a generated landing zone, beside DuckDB's own read_csv ceiling.

What is measured, in one process and one run:
- the ceiling: DuckDB ``read_csv`` of the zone's transaction files re-encoded as UTF-8 (the
  re-encoding is not timed), all files in one call, every column typed, no validation, into a
  table, then the connection closed (its checkpoint, as the ingest's close); run before and
  after the ingest, the median is quoted;
- cvp's ingest of the same transaction files the way ``cvp ingest --from D1 --to D2`` runs it
  (the backfill path): date by date, committed in groups (``ingest.commit_every_rows``), run
  ledger rows, decode GB18030, split, type, validate every row, check control totals,
  de-duplicate txn_id across all days, load. It runs on a copy of the zone holding only the
  transaction files (hard links), so the figure is transaction ingest alone (the missing
  snapshot feeds make each date "incomplete", which costs nothing; the customers of the last
  snapshot are made current first, untimed, so the check of each transaction's customer runs
  as on a real night);
- apart: the whole zone, all feeds (CUST/ACCT/BRCH snapshots into type-2 history, then the
  transactions), for the first ``--snapshot-days`` dates, with the snapshot files' share.
Wall and process CPU seconds (CPU includes DuckDB's and the reader's threads) are printed.
The landing zone is generated once into ``var/bench/ingest-landing-<customers>x<days>``.

Run: ``make bench`` or ``.venv/bin/python -m bench.bench_ingest [--customers N --days K]``;
on the full 10M-row zone under the bench lock: ``flock /work/bench.lock .venv/bin/python -m
bench.bench_ingest``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipeline.config import Config, load_config
from pipeline.ingest import ingest_dates
from pipeline.warehouse import RunLedger, connect

ROOT = Path("var/bench")
START = date(2026, 1, 1)
TXN_TYPES = {
    "txn_id": "VARCHAR", "txn_date": "DATE", "txn_time": "VARCHAR", "customer_id": "VARCHAR",
    "account_id": "VARCHAR", "channel": "VARCHAR", "txn_code": "VARCHAR", "direction": "VARCHAR",
    "amount": "DECIMAL(18,2)", "currency": "VARCHAR", "fee": "DECIMAL(18,2)",
    "counterparty_account": "VARCHAR", "counterparty_name": "VARCHAR",
    "counterparty_bank": "VARCHAR", "counterparty_customer_id": "VARCHAR", "mcc": "VARCHAR",
    "branch_id": "VARCHAR", "terminal_id": "VARCHAR",
}  # fmt: skip
MEMORY_LIMIT = "6GB"


def landing_zone(customers: int, days: int) -> Path:
    from pipeline.generate import generate_landing_zone

    out = ROOT / f"ingest-landing-{customers}x{days}"
    done = out / "_generated"
    if not done.exists():
        if out.exists():
            shutil.rmtree(out)
        started = time.perf_counter()
        summary = generate_landing_zone(out, customers, START, days, seed=11)
        done.write_text(str(summary))
        seconds = time.perf_counter() - started
        print(f"generated {summary.txn_rows:,} transactions in {seconds:.0f} s")
    return out


def ceiling(utf8_files: list[Path], db: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one bulk typed read_csv of the UTF-8 copies into a table."""
    con = duckdb.connect(str(db))
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    con.execute("drop table if exists t")
    files = [str(f) for f in utf8_files]
    started, cpu = time.perf_counter(), time.process_time()
    con.execute(
        "create table t as select * from read_csv(?, delim = '|', header = false, quote = '', "
        "escape = '', dateformat = '%Y%m%d', columns = ?)",
        [files, TXN_TYPES],
    )
    con.close()  # the checkpoint that makes the table durable, as the ingest's close does
    return time.perf_counter() - started, time.process_time() - cpu


class FileSeconds(logging.Handler):
    """Collects the per-file log records of ingest: seconds and rows by feed."""

    def __init__(self) -> None:
        super().__init__()
        self.seconds: dict[str, float] = {}
        self.rows: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        feed = getattr(record, "feed", None)
        if feed:
            self.seconds[feed] = self.seconds.get(feed, 0.0) + float(getattr(record, "seconds", 0))
            self.rows[feed] = self.rows.get(feed, 0) + int(getattr(record, "rows", 0))


def cron_ingest(cfg: Config, dates: list[date]) -> tuple[float, float, FileSeconds]:
    """Wall and CPU seconds of ``cvp ingest --from dates[0] --to dates[-1]``'s loop."""
    log = logging.getLogger("bench_ingest")
    log.propagate = False
    log.setLevel(logging.INFO)
    files = FileSeconds()
    log.addHandler(files)
    wall, cpu = time.perf_counter(), time.process_time()
    con = connect(cfg)
    con.execute(f"set memory_limit = '{MEMORY_LIMIT}'")
    ingest_dates(con, cfg, dates, RunLedger(con, cfg.fingerprint()), log)  # as pipeline.cli
    con.close()
    log.removeHandler(files)
    return time.perf_counter() - wall, time.process_time() - cpu, files


def seed_customers(cfg: Config, landing: Path, last: date) -> None:
    """Make every customer of the ``last`` date's snapshot current in the warehouse (not
    timed), so that the transactions' customer check finds them as on a real night."""
    from pipeline.ingest.contract import CUST
    from pipeline.ingest.reader import read_fields
    from pipeline.warehouse import FAR_FUTURE

    stamp = last.strftime("%Y%m%d")
    raw = read_fields(landing / stamp / f"CUST_{stamp}.dat", cfg.ingest, list(CUST.column_names))
    con = connect(cfg)
    con.register("customers_file", raw.fields)
    con.execute(
        "insert into hist_customers (customer_id, row_hash, valid_from, valid_to) "
        "select r_customer_id, 0, $first, $far from customers_file",
        {"first": START, "far": FAR_FUTURE},
    )
    con.close()


def _config(landing: Path, work: Path, name: str, commit_every_rows: int | None) -> Config:
    cfg = load_config(
        Path("configs/default.yaml"),
        {"landing_dir": landing, "warehouse": work / f"{name}.duckdb", "export_dir": work / "x"},
        environ={},
    )
    if commit_every_rows is None:
        return cfg
    ingest = cfg.ingest.model_copy(update={"commit_every_rows": commit_every_rows})
    return cfg.model_copy(update={"ingest": ingest})


def main(
    customers: int = 60_000,
    days: int = 365,
    limit_days: int | None = None,
    snapshot_days: int = 30,
    commit_every_rows: int | None = None,
) -> dict[str, float]:
    """Ingest the zone's transactions for its first ``limit_days`` dates (all when None) beside
    the ceiling; then all feeds for the first ``snapshot_days`` dates (0: skip).
    ``commit_every_rows`` overrides the configuration's (group commit of a range)."""
    landing = landing_zone(customers, days)
    work = Path(tempfile.mkdtemp(prefix="cvp-bench-ingest-", dir=ROOT))
    dates = [START + timedelta(days=i) for i in range(limit_days or days)]
    stamps = {d.strftime("%Y%m%d") for d in dates}
    txn_files = sorted(f for f in landing.glob("*/TXN_*.dat") if f.parent.name in stamps)
    txn_only = work / "txn-only"
    utf8 = work / "utf8"
    utf8.mkdir()
    utf8_files = []
    for f in txn_files:
        target = utf8 / f.name
        target.write_text(f.read_bytes().decode("gb18030"), encoding="utf-8")
        utf8_files.append(target)
        folder = txn_only / f.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        for name in (f.name, f.name + ".ok"):  # ingest reads regular files only: hard links
            os.link(f.parent / name, folder / name)
    txn_bytes = sum(f.stat().st_size for f in txn_files)

    ceilings = [ceiling(utf8_files, work / "ceiling.duckdb")]
    cfg = _config(txn_only, work, "txn", commit_every_rows)
    seed_customers(cfg, landing, dates[-1])
    wall, cpu, files = cron_ingest(cfg, dates)
    ceilings.append(ceiling(utf8_files, work / "ceiling.duckdb"))
    txn_rows = (
        duckdb.connect(str(cfg.paths.warehouse), read_only=True)
        .execute("select count(*) from stg_transactions")
        .fetchone()
    )
    rows = int(txn_rows[0]) if txn_rows else 0
    ceiling_s = statistics.median(c for c, _ in ceilings)
    ceiling_cpu = statistics.median(c for _, c in ceilings)
    result = {
        "txn_rows": rows,
        "txn_mb": txn_bytes / 1e6,
        "ingest_seconds": wall,
        "ingest_cpu_seconds": cpu,
        "ingest_rows_per_s": rows / wall,
        "ingest_mb_per_s": txn_bytes / 1e6 / wall,
        "ceiling_seconds": ceiling_s,
        "ceiling_rows_per_s": rows / ceiling_s,
        "ratio": ceiling_s / wall,
        "ceiling_cpu_seconds": ceiling_cpu,
    }
    print(
        f"ingest   : {rows:,} transaction rows, {txn_bytes / 1e6:,.0f} MB GB18030, "
        f"{len(dates)} dates x {len(txn_files) // max(len(dates), 1)} files, "
        f"cvp ingest --from/--to path: {wall:.1f} s wall ({cpu:.1f} s CPU) = "
        f"{rows / wall:,.0f} rows/s, {txn_bytes / 1e6 / wall:.1f} MB/s"
    )
    print(
        f"ceiling  : DuckDB read_csv of the same rows as UTF-8, one call, typed, no validation, "
        f"into a table: {ceiling_s:.1f} s wall ({ceiling_cpu:.1f} s CPU; median of "
        f"{len(ceilings)}: {', '.join(f'{c:.1f}' for c, _ in ceilings)}) = "
        f"{rows / ceiling_s:,.0f} rows/s"
    )
    print(
        f"ratio    : ingest / ceiling = {result['ratio']:.2f} wall (goal >= 0.5), "
        f"{ceiling_cpu / cpu:.2f} CPU"
    )
    if snapshot_days:
        snap_dates = dates[:snapshot_days]
        wall, cpu, files = cron_ingest(_config(landing, work, "all", commit_every_rows), snap_dates)
        snap_s = sum(s for feed, s in files.seconds.items() if feed != "TXN")
        snap_rows = sum(n for feed, n in files.rows.items() if feed != "TXN")
        all_rows = sum(files.rows.values())
        print(
            f"all feeds: {len(snap_dates)} dates, {all_rows:,} rows in {wall:.1f} s wall "
            f"({cpu:.1f} s CPU) = {all_rows / wall:,.0f} rows/s; of which snapshots "
            f"(CUST/ACCT/BRCH into type-2 history): {snap_rows:,} rows in {snap_s:.1f} s = "
            f"{snap_rows / max(snap_s, 1e-9):,.0f} rows/s"
        )
        result |= {"all_seconds": wall, "snapshot_seconds": snap_s, "snapshot_rows": snap_rows}
    shutil.rmtree(work)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--limit-days", type=int, default=None, help="ingest only the first N")
    parser.add_argument(
        "--snapshot-days", type=int, default=30, help="all feeds for the first N dates (0: skip)"
    )
    parser.add_argument(
        "--commit-every-rows", type=int, default=None, help="override ingest.commit_every_rows"
    )
    args = parser.parse_args()
    main(args.customers, args.days, args.limit_days, args.snapshot_days, args.commit_every_rows)
