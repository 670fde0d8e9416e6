"""Incremental maintenance of the features and contribution stages gives the full rebuild's
answer, stores only the closed part of each window, and stores sums in narrow types."""

from __future__ import annotations

from datetime import date

import duckdb

from pipeline.config import Config
from pipeline.stages.contribution import STAGE as CONTRIBUTION
from pipeline.stages.features import STAGE as FEATURES
from tests.test_contribution import D, add_txn, build_scenario, run

RESULTS = (
    "int_customer_features",
    "int_customer_contribution",
    "int_customer_product_contribution",
)
DERIVED = FEATURES.writes + CONTRIBUTION.writes
"""Every table the two stages write: dropped for the rebuild from scratch."""


def _rows(
    con: duckdb.DuckDBPyConnection, table: str, day: date | None = D
) -> set[tuple[object, ...]]:
    """The rows of ``table`` for ``day`` (None: all of them), every column as text."""
    cols = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    select = ", ".join(f'"{c}"::varchar' for c in cols)  # maps compare as text
    if day is None:
        return set(con.execute(f"select {select} from {table}").fetchall())
    return set(
        con.execute(f"select {select} from {table} where business_date = ?", [day]).fetchall()
    )


def test_night_by_night_equals_a_rebuild_from_scratch(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    build_scenario(con)
    add_txn(con, "C1", "A1", "POS", "POS", "80.00", date(2026, 10, 29))  # a closed month's card
    for night in (date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 5), D):
        run(con, cfg, "features", "contribution", day=night)
    nightly = {t: _rows(con, t) for t in RESULTS}
    assert all(nightly.values())
    for table in DERIVED:
        con.execute(f"drop table if exists {table}")
    run(con, cfg, "features", "contribution", day=D)
    assert {t: _rows(con, t) for t in RESULTS} == nightly


def test_only_closed_parts_are_stored_and_sums_are_narrow(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    build_scenario(con)
    add_txn(con, "C1", "A1", "POS", "POS", "80.00", date(2026, 10, 29))
    run(con, cfg, "features", "contribution")
    stored = {
        "agg_customer_feature_parts": [("closed",)],
        "agg_customer_card_spend_parts": [("closed",)],
        # and the month before the window, taken pro rata into the rolling year
        "agg_customer_contribution_parts": [("closed",), ("oldest",)],
    }
    for table, expected in stored.items():
        parts = con.execute(f"select distinct part from {table} order by 1").fetchall()
        assert parts == expected, table
    kinds = {r[1] for r in con.execute("describe agg_customer_feature_parts").fetchall()}
    assert kinds == {"DATE", "VARCHAR", "BIGINT", "DECIMAL(18,2)"}
    kinds = {r[1] for r in con.execute("describe agg_customer_txn_month").fetchall()}
    assert "HUGEINT" not in kinds and "DECIMAL(38,2)" not in kinds


RANGED = (
    *RESULTS,
    "chk_contribution_reconciliation",
    "agg_customer_feature_parts",
    "agg_customer_card_spend_parts",
    "agg_customer_contribution_parts",
)
"""The tables written one range of customers at a time, and the check that reads them."""


def test_ranges_of_one_customer_give_the_rows_of_one_pass(cfg: Config) -> None:
    """warehouse.chunk_customers splits the per-customer queries (the window parts, the
    customer view, the contribution) into ranges of customer ids, for memory. Rebuilt from
    scratch in ranges of one customer each, a month-end night and a mid-month night (whose
    month to date is a scratch table built range by range) give one pass's rows."""
    con = duckdb.connect(":memory:")
    build_scenario(con)
    add_txn(con, "C1", "A1", "POS", "POS", "80.00", date(2026, 10, 29))
    add_txn(con, "C1", "K1", "POS", "POS", "35.50", date(2026, 11, 12))
    ranged = cfg.model_copy(
        update={"warehouse": cfg.warehouse.model_copy(update={"chunk_customers": 1})}
    )
    for day in (D, date(2026, 11, 20)):
        results = {}
        for config in (cfg, ranged):
            for table in (*DERIVED, "agg_customer_contribution_month"):
                con.execute(f"drop table if exists {table}")
            run(con, config, "features", "contribution", day=day)
            results[config.warehouse.chunk_customers] = {t: _rows(con, t, None) for t in RANGED}
        one_pass, by_customer = results[cfg.warehouse.chunk_customers], results[1]
        customers = con.execute(
            "select count(distinct customer_id) from int_customer_features where business_date = ?",
            [day],
        ).fetchone()
        assert customers and customers[0] >= 3  # so ranges of one are several passes
        assert all(one_pass.values())
        assert by_customer == one_pass, day


MID = date(2026, 11, 20)
"""A night inside the month: its month to date is a temp table of the run, never stored."""
MTD_RESULTS = (*RESULTS, "chk_contribution_reconciliation")


def _rows_of(con: duckdb.DuckDBPyConnection, day: date) -> dict[str, set[tuple[object, ...]]]:
    return {table: _rows(con, table, day) for table in MTD_RESULTS}


def _from_scratch(cfg: Config, con: duckdb.DuckDBPyConnection, day: date) -> dict[str, set]:
    """The date's results computed on a new connection after dropping every derived table."""
    fresh = con.cursor()  # a connection of its own: no temp table of the other
    for table in (*DERIVED, "agg_customer_contribution_month"):
        fresh.execute(f"drop table if exists main.{table}")
    run(fresh, cfg, "features", "contribution", day=day)
    return _rows_of(fresh, day)


def test_the_month_to_date_lives_in_the_run_and_stages_alone_recompute_it(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    build_scenario(con)
    run(con, cfg, "features", "contribution", day=MID)
    night = _rows_of(con, MID)
    assert all(night.values())
    for table in ("agg_account_balance_month", "agg_customer_txn_month", "agg_card_cycle_month"):
        stored = con.execute(
            f"select count(*) from {table} where as_of_date <> last_day(month_start)"
        ).fetchone()
        assert stored == (0,), table
        held = con.execute(f"select count(*) from {table}_current where as_of_date = ?", [MID])
        assert held.fetchone() != (0,), table
        logged = con.execute(
            "select count(*) from agg_refresh_log where table_name = ? "
            "and as_of_date <> last_day(month_start)",
            [table],
        ).fetchone()
        assert logged == (0,), table
    # month-to-date rows an earlier version stored (without a refresh-log entry) are not read
    for table in ("agg_account_balance_month", "agg_customer_txn_month"):
        con.execute(f"insert into {table} select * from {table}_current")
    run(con, cfg, "features", "contribution", day=MID)
    assert _rows_of(con, MID) == night
    # contribution alone on another connection (a process of its own) computes the month again
    alone = con.cursor()
    run(alone, cfg, "contribution", day=MID)
    assert _rows_of(alone, MID) == night
    # an earlier date of the month after it, on the same connection: its own month to date
    earlier = date(2026, 11, 10)
    run(con, cfg, "features", "contribution", day=earlier)
    got = _rows_of(con, earlier)
    run(con, cfg, "contribution", day=MID)  # the run holds 11-10: MID's month again
    assert _rows_of(con, MID) == night
    assert got == _from_scratch(cfg, con, earlier)


def test_a_late_delivery_after_the_features_stage_is_seen_by_contribution(cfg: Config) -> None:
    con = duckdb.connect(":memory:")
    build_scenario(con)
    run(con, cfg, "features", "contribution", day=MID)
    before = _rows_of(con, MID)
    # a late counter posting for an earlier day of the month, delivered after the features
    # stage ran: the run's month to date is out of date and contribution must not reuse it
    add_txn(con, "C1", "A1", "CTR", "WDL", "300.00", date(2026, 11, 12))
    con.execute(
        "insert into file_ledger (file_name, feed, business_date, outcome, received_at) "
        "values ('TXN_CTR_20261112.dat', 'TXN', date '2026-11-12', 'replaced', now() + "
        "interval 1 second)"
    )
    run(con, cfg, "contribution", day=MID)
    after = _rows_of(con, MID)
    assert after != before
    want = _from_scratch(cfg, con, MID)
    contribution = MTD_RESULTS[1:]  # the customer view is the features stage's, not re-run
    assert {t: after[t] for t in contribution} == {t: want[t] for t in contribution}
