"""``python -m pipeline.evaluate --dir D`` (``make evaluate``): every model against the truth
of a generated zone, on its warehouse (``make demo``'s layout: ``D/cvp.duckdb``,
``D/landing.truth.parquet``, ``D/landing.accounts_truth.parquet``).

Merchants and the potential flags are measured at the warehouse's latest date; take-up and
lifetime value at its earliest date with a run, so the truth has the most months after it."""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

from pipeline.evaluate import DEFAULT_OUT, clv, cross_sell, merchants, potential


def _dates(warehouse: Path, table: str) -> tuple[str, str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        first, last = con.execute(
            f"select min(business_date), max(business_date) from {table}"
        ).fetchone()  # type: ignore[misc]
    finally:
        con.close()
    if first is None:
        raise SystemExit(f"{warehouse}: {table} is empty: run the pipeline first (make demo)")
    return str(first), str(last)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dir", type=Path, default=Path("var/demo"), help="the zone's folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the results")
    args = parser.parse_args()
    warehouse = args.dir / "cvp.duckdb"
    truth = args.dir / "landing.truth.parquet"
    accounts = args.dir / "landing.accounts_truth.parquet"
    for path in (warehouse, truth, accounts):
        if not path.exists():
            raise SystemExit(f"{path}: missing; run `make demo` (or point --dir at a zone)")
    out = ["--out", str(args.out), "--warehouse", str(warehouse)]
    _, last = _dates(warehouse, "int_merchants")
    merchants.main([*out, "--truth", str(truth), "--date", last])
    potential.main([*out, "--truth", str(truth)])
    first, _ = _dates(warehouse, "int_cross_sell_evaluation")
    cross_sell.main([*out, "--accounts-truth", str(accounts), "--date", first])
    first, _ = _dates(warehouse, "clv_fit_runs")
    clv.main([*out, "--truth", str(truth), "--date", first])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
