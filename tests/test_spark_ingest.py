"""Ingest on Spark (issue 18): the same deliveries ingested into a DuckDB warehouse and into a
warehouse file with a lake (docs/scale.md, "Ingest on Spark") give the same outcomes, the same
verdicts in the warehouse file (quarantine, file ledger, unknown customers) and the same rows
in the tables the stages read (the histories and the transactions, DuckDB's against the
lake's), after each of the things a night's delivery can do:

1. a first date: every feed, a bad amount, a customer the snapshot does not know;
2. the next date: a customer changed, one gone, one new, one whose row is quarantined but
   withdraws consent (a restriction kept); an account changed, one gone; a txn_id loaded the
   day before (the probe of other dates, which on Spark reads the lake);
3. a corrected re-send of that date's NET file, then of its CUST file (the type-2 history
   redone; accounts and transactions judged again);
4. the same date once more: nothing changes.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from pipeline.config import Config, load_config
from pipeline.engine.duckdb_engine import DuckDBEngine
from pipeline.ingest import ingest_date
from pipeline.warehouse import connect
from tests.conftest import REPO, deliver_day
from tests.landing import acct_line, cust_line, txn_line, write_feed
from tests.stage_parity import differences

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from pipeline.engine.spark_engine import SparkEngine

FIRST, SECOND = date(2026, 11, 26), date(2026, 11, 27)
DATA = ("hist_customers", "hist_accounts", "stg_transactions")
CONTROL = {
    "file_ledger": ("received_at",),
    "quarantine": ("quarantined_at",),
    "unknown_customer_rows": (),
}
"""Ingest's verdicts in the warehouse file, and the clocks in them (when they were made)."""
LOG = logging.getLogger("test")
POS = {"channel": "POS", "code": "POS", "direction": "D"}


def _config(tmp_path: Path, name: str) -> Config:
    cfg = load_config(
        REPO / "configs" / "default.yaml",
        {
            "landing_dir": tmp_path / "landing",
            "warehouse": tmp_path / f"{name}.duckdb",
            "export_dir": tmp_path / "exports",
        },
        environ={},
    )
    # a handful of rows: a bad one must not reject its file, a gone one not hold its snapshot
    update = {"max_bad_row_fraction": 1.0, "snapshot_max_shrink": 1.0}
    return cfg.model_copy(update={"ingest": cfg.ingest.model_copy(update=update)})


def _first_date(landing: Path) -> None:
    day = "20261126"
    deliver_day(
        landing,
        FIRST,
        customers=[cust_line("C1"), cust_line("C2", "王東"), cust_line("C3", "赵億")],
        accounts=[
            acct_line("A1", "C1", "1000.50"),
            acct_line("A2", "C2", "20.00"),
            acct_line("A3", "C3", "3.00"),
        ],
        txn={
            "NET": [txn_line("N1", day=day), txn_line("N2", day=day, amount="2.50")],
            "POS": [txn_line("P1", "C2", "A2", **POS, day=day, mcc="5411")],
            "CTR": [
                txn_line("K1", channel="CTR", day=day, code="DEP", amount="500.00"),
                txn_line("K2", channel="CTR", day=day, amount="12.3x"),
            ],
            "ATM": [txn_line("M1", "C9", "A9", channel="ATM", day=day, code="WDL", direction="D")],
        },
    )


def _second_date(landing: Path) -> None:
    day = "20261127"
    withdrawn = cust_line("C2", "王東", consent="N").replace("19800101", "19801301")
    deliver_day(
        landing,
        SECOND,
        customers=[cust_line("C1", "张弢弢"), withdrawn, cust_line("C4", "钱㐀")],
        accounts=[
            acct_line("A1", "C1", "900.00"),
            acct_line("A2", "C2", "20.00"),
            acct_line("A4", "C4", "4.00"),
        ],
        txn={
            "NET": [txn_line("N1", day=day), txn_line("N3", day=day, amount="30.00")],
            "POS": [txn_line("P2", "C2", "A2", **POS, day=day, mcc="5812")],
        },
    )


def _resend_net(landing: Path) -> None:
    day = "20261127"
    lines = [txn_line("N3", day=day, amount="31.00"), txn_line("N4", day=day, amount="4.00")]
    write_feed(landing, SECOND, "TXN_NET_20261127.dat", lines, feed="TXN")


def _resend_cust(landing: Path) -> None:
    lines = [cust_line("C1", "张弢弢"), cust_line("C2", "王東"), cust_line("C4", "钱㐀", "C")]
    write_feed(landing, SECOND, "CUST_20261127.dat", lines, feed="CUST")


STEPS = (
    (FIRST, _first_date),
    (SECOND, _second_date),
    (SECOND, _resend_net),
    (SECOND, _resend_cust),
    (SECOND, lambda landing: None),
)


def _outcomes(con: duckdb.DuckDBPyConnection, cfg: Config, day: date, lake: SparkEngine | None):
    result = ingest_date(con, cfg, day, LOG, lake=lake)
    return [(f.file_name, f.outcome, f.rows_loaded, f.rows_quarantined) for f in result.files]


def test_ingest_on_spark_gives_duckdbs_outcomes_verdicts_and_rows(
    spark: SparkSession, tmp_path: Path
) -> None:
    from pipeline.engine.spark_engine import SparkEngine

    duck_cfg, spark_cfg = _config(tmp_path, "duck"), _config(tmp_path, "spark")
    duck_con, spark_con = connect(duck_cfg), connect(spark_cfg)
    duck, kept = DuckDBEngine(duck_con), DuckDBEngine(spark_con)
    lake = SparkEngine(spark, tmp_path / "lake")
    seen: list[list[tuple[object, ...]]] = []
    for day, deliver in STEPS:
        deliver(duck_cfg.paths.landing_dir)
        outcomes = _outcomes(duck_con, duck_cfg, day, None)
        assert _outcomes(spark_con, spark_cfg, day, lake) == outcomes, day
        seen.append(outcomes)
        problems = [d for t in DATA if (d := differences(duck, lake, t))]
        problems += [d for t, c in CONTROL.items() if (d := differences(duck, kept, t, c))]
        assert not problems, f"after {deliver.__name__} of {day}: " + "\n".join(problems)
        # the transactions are the lake's alone: published, then gone from the file
        assert kept.read("select count(*) as n from stg_transactions").item() == 0

    # what each step did, so that the equality above is of the cases named
    changed = [[o for o in step if o[1] != "unchanged"] for step in seen]
    assert ("TXN_CTR_20261126.dat", "loaded", 1, 1) in changed[0]
    assert ("TXN_ATM_20261126.dat", "loaded", 0, 1) in changed[0]  # C9 unknown
    assert ("TXN_NET_20261127.dat", "loaded", 1, 1) in changed[1]  # N1 seen the day before
    assert changed[2] == [("TXN_NET_20261127.dat", "replaced", 2, 0)]
    assert ("CUST_20261127.dat", "replaced", 3, 0) in changed[3]
    assert ("TXN_POS_20261127.dat", "replaced", 1, 0) in changed[3]  # judged again
    assert changed[4] == []
    assert duck.read(
        "select reason from quarantine where file_name = 'TXN_NET_20261127.dat'"
    ).is_empty()  # the re-send replaced the first version's verdict
    assert lake.read(
        "select txn_id, amount from stg_transactions "
        "where business_date = date '2026-11-27' and channel = 'NET' order by txn_id"
    ).rows() == [("N3", 31), ("N4", 4)]
    versions = lake.read(
        "select customer_id, marketing_consent, status, valid_from, valid_to "
        "from hist_customers order by customer_id, valid_from"
    ).rows()
    assert ("C3", "Y", "A", FIRST, SECOND) in versions  # gone on the 27th
    assert ("C4", "Y", "C", SECOND, date(9999, 12, 31)) in versions  # the re-send's status


def test_cvp_ingest_with_engine_spark_publishes_to_the_lake(
    spark: SparkSession, tmp_path: Path
) -> None:
    """``cvp ingest --engine spark`` (a range, group-committed) publishes each date as the
    night's ingest stage does: the lake's transactions and histories are the DuckDB
    warehouse's."""
    import yaml

    from pipeline.cli import app
    from pipeline.engine.spark_engine import SparkEngine

    duck_cfg = _config(tmp_path, "duck")
    _first_date(duck_cfg.paths.landing_dir)
    _second_date(duck_cfg.paths.landing_dir)
    con = connect(duck_cfg)
    for day in (FIRST, SECOND):
        ingest_date(con, duck_cfg, day, LOG)
    text = (REPO / "configs" / "default.yaml").read_text(encoding="utf-8")
    config = yaml.safe_load(text)
    config["ingest"].update(max_bad_row_fraction=1.0, snapshot_max_shrink=1.0)
    config["paths"] = {
        "landing_dir": str(duck_cfg.paths.landing_dir),
        "warehouse": str(tmp_path / "spark.duckdb"),
        "export_dir": str(tmp_path / "exports"),
    }
    config["engine"] = {"spark": {"lake": str(tmp_path / "lake")}}
    path = tmp_path / "spark.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    words = ["ingest", "--new", "--from", "2026-11-26", "--to", "2026-11-27", "--engine", "spark"]
    try:
        code = app([*words, "--config", str(path)], standalone_mode=False)
    except SystemExit as exc:
        code = exc.code
    assert not code
    lake = SparkEngine(spark, tmp_path / "lake")
    problems = [d for t in DATA if (d := differences(DuckDBEngine(con), lake, t))]
    assert not problems, "\n".join(problems)
    assert lake.read("select count(*) as n from stg_transactions").item() == 6  # 4 and 2
