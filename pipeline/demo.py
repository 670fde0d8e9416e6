"""``make demo``: a synthetic landing zone, a year of nightly ingest, the nightly run, a report.

Every step is a real ``cvp`` command, printed before it runs, so the demo doubles as a
walkthrough: generate (skipped when the landing zone is already there), ingest every business
date in order (the warehouse's history), ``cvp run`` for the last business dates of the last
months and for the final date (tiers and scorecards compare with the previous month), then
``cvp report``. The ingest's JSON log goes to ``<dir>/ingest.log.jsonl``; ``cvp status`` shows
every date. Paths are printed at the end.

Run: ``.venv/bin/python -m pipeline.demo --dir var/demo``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

END = date(2026, 11, 27)


def month_ends(first: date, last: date, count: int) -> list[date]:
    """The last ``count`` month-end dates strictly before ``last``'s month, then ``last``."""
    out: list[date] = []
    day = last.replace(day=1) - timedelta(days=1)
    while len(out) < count and day >= first:
        out.append(day)
        day = day.replace(day=1) - timedelta(days=1)
    return [*sorted(out), last]


def main() -> int:
    parser = argparse.ArgumentParser(description="cvp demo")
    parser.add_argument("--dir", type=Path, default=Path("var/demo"))
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--days", type=int, default=425)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    root: Path = args.dir
    start = END - timedelta(days=args.days - 1)
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(root / "landing"),
        CVP_WAREHOUSE=str(root / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(root / "exports"),
    )
    started = time.monotonic()

    def cvp(*words: str, log: Path | None = None) -> None:
        print(f"\n$ cvp {' '.join(words)}" + (f" 2> {log}" if log else ""), flush=True)
        with open(log, "w") if log else open(os.devnull, "w") as sink:
            done = subprocess.run(
                [sys.executable, "-m", "pipeline", *words],
                env=env, check=False, stderr=sink if log else None,
            )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"demo: `cvp {' '.join(words)}` exited {done.returncode}")

    print(
        f"cvp demo in {root}: CVP_LANDING_DIR, CVP_WAREHOUSE and CVP_EXPORT_DIR point there",
        flush=True,
    )
    if not (root / "landing" / END.strftime("%Y%m%d")).exists():
        cvp(
            "generate", "--out", str(root / "landing"), "--customers", str(args.customers),
            "--start", start.isoformat(), "--days", str(args.days), "--seed", str(args.seed),
        )  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    cvp("init")  # nothing else creates a warehouse
    cvp(
        "ingest", "--from", start.isoformat(), "--to", END.isoformat(), "--log-format", "json",
        log=root / "ingest.log.jsonl",
    )  # fmt: skip
    for day in month_ends(start, END, 2):
        cvp("run", "--date", day.isoformat(), "--log-format", "text")
    cvp("report", "--date", END.isoformat())
    print(
        f"\ndemo done in {time.monotonic() - started:.0f} s\n"
        f"  landing zone : {root / 'landing'} (ground truth {root / 'landing.truth.parquet'}, "
        f"{root / 'landing.accounts_truth.parquet'})\n"
        f"  warehouse    : {root / 'cvp.duckdb'}  (try: duckdb {root / 'cvp.duckdb'})\n"
        f"  exports      : {root / 'exports' / END.strftime('%Y%m%d')}/\n"
        f"  report       : {root / 'exports' / ('report_' + END.strftime('%Y%m%d') + '.html')}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
