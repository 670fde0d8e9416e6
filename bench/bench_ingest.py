"""Ingest throughput on a generated landing zone, beside DuckDB's own read_csv ceiling.

What is measured, in one process and one run:
- cvp's ingest of every transaction file of the landing zone (decode GB18030, split, type,
  validate every row, check control totals, de-duplicate txn_id across days, load), per file
  as ``load_file`` does it, timed file by file; snapshots (CUST/ACCT) are loaded too and their
  time reported apart, and so is the one commit per date (it writes all of the date's files);
- the ceiling: DuckDB ``read_csv`` of the same transaction files re-encoded as UTF-8 (the
  re-encoding is not timed), with every column typed and no validation, into a table; run
  before and after the ingest, the median is quoted.
The landing zone is generated once into ``var/bench/ingest-landing`` and reused.

Run: ``make bench`` or ``.venv/bin/python -m bench.bench_ingest [--customers N --days K]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb

from pipeline.config import load_config
from pipeline.ingest.discover import discover
from pipeline.ingest.load import load_file
from pipeline.warehouse import connect

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


def ceiling(utf8_files: list[Path], db: Path) -> float:
    con = duckdb.connect(str(db))
    con.execute("drop table if exists t")
    files = [str(f) for f in utf8_files]
    started = time.perf_counter()
    con.execute(
        "create table t as select * from read_csv(?, delim = '|', header = false, quote = '', "
        "escape = '', dateformat = '%Y%m%d', columns = ?)",
        [files, TXN_TYPES],
    )
    seconds = time.perf_counter() - started
    con.close()
    return seconds


def main(
    customers: int = 60_000, days: int = 365, limit_days: int | None = None
) -> dict[str, float]:
    """Ingest the landing zone's first ``limit_days`` dates (all when None) and the ceiling."""
    landing = landing_zone(customers, days)
    work = Path(tempfile.mkdtemp(prefix="cvp-bench-ingest-", dir=ROOT))
    cfg = load_config(
        Path("configs/default.yaml"),
        {"landing_dir": landing, "warehouse": work / "cvp.duckdb", "export_dir": work / "x"},
        environ={},
    )
    dates = [START + timedelta(days=i) for i in range(limit_days or days)]
    stamps = {d.strftime("%Y%m%d") for d in dates}
    txn_files = sorted(f for f in landing.glob("*/TXN_*.dat") if f.parent.name in stamps)
    utf8 = work / "utf8"
    utf8.mkdir()
    utf8_files = []
    for f in txn_files:
        target = utf8 / f.name
        target.write_text(f.read_bytes().decode("gb18030"), encoding="utf-8")
        utf8_files.append(target)
    txn_bytes = sum(f.stat().st_size for f in txn_files)

    ceilings = [ceiling(utf8_files, work / "ceiling.duckdb")]
    con = connect(cfg)
    seconds = {"TXN": 0.0, "snapshots": 0.0, "commit": 0.0}
    rows = {"TXN": 0, "snapshots": 0}
    for day in dates:  # as ingest_date does it: one transaction per date, timed per file
        delivered, _ = discover(landing, cfg.ingest, day)
        con.execute("begin transaction")
        for d in delivered:
            started = time.perf_counter()
            outcome = load_file(con, cfg, d)
            kind = "TXN" if d.feed == "TXN" else "snapshots"
            seconds[kind] += time.perf_counter() - started
            rows[kind] += outcome.rows_loaded + outcome.rows_quarantined
        started = time.perf_counter()
        con.execute("commit")  # one per date, for all its files: reported on its own line
        seconds["commit"] += time.perf_counter() - started
    con.close()
    ceilings.append(ceiling(utf8_files, work / "ceiling.duckdb"))
    ceiling_s = statistics.median(ceilings)
    ingest_rate = rows["TXN"] / seconds["TXN"]
    ceiling_rate = rows["TXN"] / ceiling_s
    result = {
        "txn_rows": rows["TXN"],
        "txn_mb": txn_bytes / 1e6,
        "ingest_seconds": seconds["TXN"],
        "ingest_rows_per_s": ingest_rate,
        "ingest_mb_per_s": txn_bytes / 1e6 / seconds["TXN"],
        "ceiling_seconds": ceiling_s,
        "ceiling_rows_per_s": ceiling_rate,
        "ratio": ingest_rate / ceiling_rate,
        "snapshot_rows": rows["snapshots"],
        "snapshot_seconds": seconds["snapshots"],
    }
    print(
        f"ingest  : {rows['TXN']:,} transaction rows, {txn_bytes / 1e6:,.0f} MB GB18030 in "
        f"{seconds['TXN']:.1f} s = {ingest_rate:,.0f} rows/s, {result['ingest_mb_per_s']:.1f} MB/s"
    )
    print(
        f"ceiling : DuckDB read_csv of the same rows as UTF-8, typed, no validation: "
        f"{ceiling_s:.1f} s (median of {len(ceilings)}) = {ceiling_rate:,.0f} rows/s"
    )
    print(f"ratio   : ingest / ceiling = {result['ratio']:.2f} (goal >= 0.5)")
    print(
        f"snapshots: {rows['snapshots']:,} CUST/ACCT/BRCH rows in {seconds['snapshots']:.1f} s "
        f"({rows['snapshots'] / max(seconds['snapshots'], 1e-9):,.0f} rows/s, type-2 history)"
    )
    total = sum(seconds.values())
    print(
        f"commits  : {seconds['commit']:.1f} s for {len(dates)} dates; whole ingest, all feeds "
        f"and commits: {total:.1f} s = {(rows['TXN'] + rows['snapshots']) / total:,.0f} rows/s"
    )
    result["commit_seconds"] = seconds["commit"]
    result["total_seconds"] = total
    shutil.rmtree(work)
    return result


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=60_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--limit-days", type=int, default=None, help="ingest only the first N")
    args = parser.parse_args()
    main(args.customers, args.days, args.limit_days)
