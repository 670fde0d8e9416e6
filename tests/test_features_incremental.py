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


def _rows(con: duckdb.DuckDBPyConnection, table: str) -> set[tuple[object, ...]]:
    cols = [r[0] for r in con.execute(f"describe {table}").fetchall()]
    select = ", ".join(f'"{c}"::varchar' for c in cols)  # maps compare as text
    return set(con.execute(f"select {select} from {table} where business_date = ?", [D]).fetchall())


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


def test_the_customer_view_by_ranges_of_one_customer_equals_one_pass(cfg: Config) -> None:
    """warehouse.chunk_customers splits int_customer_features into ranges of customer ids
    (for memory); ranges of one customer each give the rows of one pass over everyone."""
    con = duckdb.connect(":memory:")
    build_scenario(con)
    add_txn(con, "C1", "A1", "POS", "POS", "80.00", date(2026, 10, 29))
    run(con, cfg, "features")
    one_pass = _rows(con, "int_customer_features")
    customers = con.execute(
        "select count(*) from int_customer_features where business_date = ?", [D]
    ).fetchone()
    assert customers and customers[0] >= 3
    ranged = cfg.model_copy(
        update={"warehouse": cfg.warehouse.model_copy(update={"chunk_customers": 1})}
    )
    run(con, ranged, "features")
    assert _rows(con, "int_customer_features") == one_pass
