"""Write a landing zone: one folder per business date with every feed and its control file,
and the ground truth beside it: ``<out>.truth.parquet`` (one row per customer) and
``<out>.accounts_truth.parquet`` (one row per account; columns of both in ``truth``)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np

from pipeline.generate import activity, ledger, schedule, trade, writer
from pipeline.generate.ledger import CH, CHANNELS
from pipeline.generate.truth import accounts_truth_frame, truth_frame
from pipeline.generate.world import World, build_world

# Time-of-day windows per channel, seconds after midnight.
_HOURS = {
    "CTR": (9 * 3600, 17 * 3600),
    "ATM": (6 * 3600, 23 * 3600),
    "TEL": (8 * 3600, 21 * 3600),
    "NET": (0, 86400),
    "POS": (7 * 3600, 22 * 3600 + 1800),
}
BRANCH_EVERY_DAYS = 30


@dataclass
class GenerationSummary:
    """What ``generate_landing_zone`` wrote."""

    landing_dir: Path
    truth_path: Path
    accounts_truth_path: Path
    first_date: date
    last_date: date
    customers: int
    rows_per_feed: dict[str, int] = field(default_factory=dict)
    txn_rows: int = 0
    files_written: int = 0
    bytes_written: int = 0
    seconds: float = 0.0


def truth_path_for(out: Path) -> Path:
    """The ground-truth file sits beside the landing zone: ``<out>.truth.parquet``."""
    return out.with_name(out.name + ".truth.parquet")


def accounts_truth_path_for(out: Path) -> Path:
    """The account ground truth sits beside it: ``<out>.accounts_truth.parquet``."""
    return out.with_name(out.name + ".accounts_truth.parquet")


def _active(w: World, day: int) -> np.ndarray:
    c = w.cust
    leaving = (c.lifecycle == 2) | (c.lifecycle == 3)
    stopped = leaving & (day >= c.lifecycle_day)
    return (c.open_day <= day) & (c.status == "A") & ~stopped


def _times(rng: np.random.Generator, channel: np.ndarray) -> np.ndarray:
    seconds = np.zeros(len(channel), dtype=np.int64)
    for name, (lo, hi) in _HOURS.items():
        rows = np.flatnonzero(channel == CH[name])
        if name == "NET":
            day_time = rng.integers(7 * 3600, 86400, len(rows))
            night = rng.integers(0, 7 * 3600, len(rows))
            seconds[rows] = np.where(rng.random(len(rows)) < 0.93, day_time, night)
        else:
            seconds[rows] = rng.integers(lo, hi, len(rows))
    return seconds


def simulate_day(w: World, day: int, seed: int) -> tuple[ledger.Batch, np.ndarray, np.ndarray]:
    """Play one business day: draw the rows, settle them against balances, move balances.

    Returns
    -------
    tuple
        The kept rows, their late-posting offsets (days) and their times (seconds).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2, day]))
    active = _active(w, day)
    chunks = [
        *activity.ordinary_events(rng, w, day, active),
        *schedule.income_events(w, day, active),
        *schedule.credit_events(rng, w, day, active),
        *schedule.product_events(rng, w, day, active),
        *schedule.takeup_events(rng, w, day, active),
        *schedule.fee_events(w, day, active),
        *schedule.arrival_events(w, day),
        *schedule.planned_events(w, day),
        *schedule.leaving_events(w, day),
        *trade.merchant_events(rng, w, day, active),
    ]
    batch = ledger.add_mirrors(ledger.concat(chunks), w.acct.cust)
    keep = active[batch.cust] | batch.system
    is_credit = w.acct.is_credit
    limit = np.where(w.acct.product == "CCD", w.acct.limit_cents, 0)
    keep = ledger.settle(batch, keep, w.acct.balance, is_credit, limit)
    ledger.apply(batch, keep, w.acct.balance, is_credit)
    schedule.revalue(rng, w)
    kept = batch.take(np.flatnonzero(keep))
    schedule.close_card_cycles(w, day, kept)
    late = np.where(rng.random(len(kept)) < 0.016, rng.choice([1, 1, 1, 2], len(kept)), 0)
    # Direct debits and their top-ups post on the day they are made.
    late = np.where(kept.forced, 0, late)
    return kept, late, _times(rng, kept.channel)


def _career_changes(w: World, day: int) -> np.ndarray:
    """Graduates who start work today become employees (CUST changes)."""
    c = w.cust
    who = np.flatnonzero((w.income.job_start_day == day) & (c.occupation == "STU"))
    c.occupation[who] = "EMP"
    c.industry[who] = np.array(list("IJCFML"))[np.arange(len(who)) % 6]
    return who


def generate_landing_zone(
    out: Path, customers: int, start: date, days: int, seed: int, bank_code: str = "102"
) -> GenerationSummary:
    """Write a synthetic landing zone for ``days`` business dates from ``start``.

    Parameters
    ----------
    out
        Landing directory; ``<out>/<YYYYMMDD>/`` folders are created in it.
    customers
        Number of personal customers (including those who open during the window).
    start
        First business date.
    days
        Number of consecutive business dates.
    seed
        Random seed: the same arguments and seed give byte-identical files.
    bank_code
        The bank's own code, used in ``counterparty_bank``.

    Returns
    -------
    GenerationSummary
        Paths, rows per feed, transaction rows, bytes and seconds.

    Examples
    --------
    >>> from datetime import date
    >>> s = generate_landing_zone(Path("/tmp/lz"), 300, date(2026, 11, 23), 5, seed=7)
    >>> s.truth_path.name
    'lz.truth.parquet'
    """
    if customers < 50:
        raise ValueError("customers must be at least 50")
    if days < 1:
        raise ValueError("days must be at least 1")
    began = time.perf_counter()
    out = Path(out)
    w = build_world(customers, start, days, seed, bank_code)
    summary = GenerationSummary(
        landing_dir=out,
        truth_path=truth_path_for(out),
        accounts_truth_path=accounts_truth_path_for(out),
        first_date=start,
        last_date=start + timedelta(days=days - 1),
        customers=customers,
    )
    feeds = ["CUST", "ACCT", "BRCH", *(f"TXN_{ch}" for ch in CHANNELS)]
    summary.rows_per_feed = dict.fromkeys(feeds, 0)
    lines = writer.customer_lines(w, np.arange(w.cust.n))
    accounts = writer.AccountFormatter(w)
    transactions = writer.TransactionFormatter(w)
    for day in range(days):
        ymd = (start + timedelta(days=day)).strftime("%Y%m%d")
        folder = out / ymd
        folder.mkdir(parents=True, exist_ok=True)
        kept, late, seconds = simulate_day(w, day, seed)
        written: list[writer.Written] = []
        for channel, (data, rows, total) in transactions.files(kept, day, late, seconds).items():
            written.append(
                writer.write_feed(folder, f"TXN_{channel}_{ymd}.dat", data, rows, total, ymd)
            )
            summary.rows_per_feed[f"TXN_{channel}"] += rows
            summary.txn_rows += rows
        data, rows, total = accounts.snapshot(day)
        written.append(writer.write_feed(folder, f"ACCT_{ymd}.dat", data, rows, total, ymd))
        summary.rows_per_feed["ACCT"] += rows
        changed = np.union1d(
            _career_changes(w, day),
            np.flatnonzero((w.cust.lifecycle == 3) & (w.cust.lifecycle_day == day)),
        )
        for i, line in zip(changed, writer.customer_lines(w, changed), strict=True):
            lines[i] = line
        n_open = int(np.searchsorted(w.cust.open_day, day, side="right"))
        written.append(
            writer.write_feed(folder, f"CUST_{ymd}.dat", b"".join(lines[:n_open]), n_open, 0, ymd)
        )
        summary.rows_per_feed["CUST"] += n_open
        if day % BRANCH_EVERY_DAYS == 0:
            data, rows = writer.branch_file(w)
            written.append(writer.write_feed(folder, f"BRCH_{ymd}.dat", data, rows, 0, ymd))
            summary.rows_per_feed["BRCH"] += rows
        summary.files_written += 2 * len(written)
        summary.bytes_written += sum(f.bytes for f in written)
    summary.truth_path.parent.mkdir(parents=True, exist_ok=True)
    for frame, path in (
        (truth_frame(w), summary.truth_path),
        (accounts_truth_frame(w), summary.accounts_truth_path),
    ):
        frame.write_parquet(path)
        summary.bytes_written += path.stat().st_size
        summary.files_written += 1
    summary.seconds = time.perf_counter() - began
    return summary
