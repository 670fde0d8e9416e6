"""A date's transaction files load together, yet each keeps its own outcome; read-ahead and
the thread setting leave no trace."""

from __future__ import annotations

import logging
from datetime import timedelta

import duckdb

from pipeline.config import Config
from pipeline.ingest import ingest_date
from pipeline.ingest.discover import discover, load_threads
from pipeline.warehouse import connect
from tests.conftest import DAY, deliver_day
from tests.landing import acct_line, txn_line, write_feed

LOG = logging.getLogger("test")
STAMP = DAY.strftime("%Y%m%d")


def query(cfg: Config, sql: str) -> list[tuple]:
    con = duckdb.connect(str(cfg.paths.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def lenient(cfg: Config) -> Config:
    """At most half a file's rows may be bad, so that a tiny file with one bad row loads; a
    snapshot may lose any share of a tiny book (the shrink guard: test_hostile_landing)."""
    ingest = cfg.ingest.model_copy(update={"max_bad_row_fraction": 0.5, "snapshot_max_shrink": 1.0})
    return cfg.model_copy(update={"ingest": ingest})


def test_each_file_of_a_date_keeps_its_own_outcome_lines_and_quarantine(cfg: Config) -> None:
    cfg = lenient(cfg)
    landing = cfg.paths.landing_dir
    deliver_day(
        landing,
        txn={
            "NET": [txn_line("N1"), txn_line("N2", code="XXX"), txn_line("N3")],
            "CTR": [txn_line("K1", channel="CTR"), txn_line("K2", channel="CTR")],
            # the same txn_id on another channel is not a duplicate
            "TEL": [txn_line("N1", channel="TEL")],
        },
    )
    # POS: the control count is wrong; ATM: every row bad (over the strictness limit)
    pos = [txn_line("P1", channel="POS", code="POS", direction="D", mcc="5411")]
    write_feed(landing, DAY, f"TXN_POS_{STAMP}.dat", pos, feed="TXN", count=2)
    atm = [txn_line("M1", channel="NET"), txn_line("M2", channel="NET")]
    write_feed(landing, DAY, f"TXN_ATM_{STAMP}.dat", atm, feed="TXN")
    con = connect(cfg)
    result = ingest_date(con, cfg, DAY, LOG)
    con.close()
    outcomes = {f.file_name: (f.outcome, f.rows_loaded, f.rows_quarantined) for f in result.files}
    assert outcomes[f"TXN_NET_{STAMP}.dat"] == ("loaded", 2, 1)
    assert outcomes[f"TXN_CTR_{STAMP}.dat"] == ("loaded", 2, 0)
    assert outcomes[f"TXN_TEL_{STAMP}.dat"] == ("loaded", 1, 0)
    assert outcomes[f"TXN_POS_{STAMP}.dat"] == ("rejected", 0, 0)
    assert outcomes[f"TXN_ATM_{STAMP}.dat"] == ("rejected", 0, 2)
    assert query(cfg, "select channel, txn_id, line_number from stg_transactions order by all") == [
        ("CTR", "K1", 1), ("CTR", "K2", 2), ("NET", "N1", 1), ("NET", "N3", 3), ("TEL", "N1", 1),
    ]  # fmt: skip
    assert query(cfg, "select file_name, line_number, reason from quarantine order by all") == [
        (f"TXN_ATM_{STAMP}.dat", 1, "channel: differs from the file's channel"),
        (f"TXN_ATM_{STAMP}.dat", 2, "channel: differs from the file's channel"),
        (f"TXN_NET_{STAMP}.dat", 2, "txn_code: unknown code XXX"),
    ]
    ledger = query(
        cfg, "select file_name, outcome, rows_loaded from file_ledger where feed = 'TXN' order by 1"
    )
    assert ledger == [
        (f"TXN_ATM_{STAMP}.dat", "rejected", 0),
        (f"TXN_CTR_{STAMP}.dat", "loaded", 2),
        (f"TXN_NET_{STAMP}.dat", "loaded", 2),
        (f"TXN_POS_{STAMP}.dat", "rejected", 0),
        (f"TXN_TEL_{STAMP}.dat", "loaded", 1),
    ]


def test_a_file_resent_after_it_was_read_ahead_loads_as_resent(cfg: Config) -> None:
    landing = cfg.paths.landing_dir
    later = DAY + timedelta(days=1)
    day2 = later.strftime("%Y%m%d")
    deliver_day(landing, DAY, txn={"NET": [txn_line("N1")]})
    deliver_day(landing, later, txn={"NET": [txn_line("N2", day=day2, amount="5.00")]})
    con = connect(cfg)
    ingest_date(con, cfg, DAY, LOG)  # starts reading the next date ahead
    # a corrected re-send of the next date's file, the same size, before that date loads
    write_feed(
        landing, later, f"TXN_NET_{day2}.dat", [txn_line("N2", day=day2, amount="7.00")], feed="TXN"
    )
    ingest_date(con, cfg, later, LOG)
    con.close()
    assert query(cfg, "select txn_id, amount from transactions order by 1") == [
        ("N1", 100),
        ("N2", 7),
    ]


def test_the_warehouse_thread_setting_is_restored(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir, txn={"NET": [txn_line("N1")]})
    assert cfg.ingest.one_thread_below_mb > 0  # a tiny date loads on one thread
    con = connect(cfg)
    con.execute("set threads = 3")
    ingest_date(con, cfg, DAY, LOG)
    assert con.execute("select current_setting('threads')").fetchone() == (3,)
    con.close()


def test_a_small_date_loads_on_one_thread_and_a_large_one_on_the_warehouse_setting(
    cfg: Config,
) -> None:
    deliver_day(cfg.paths.landing_dir, txn={"NET": [txn_line("N1")]})
    delivered, _ = discover(cfg.paths.landing_dir, cfg.ingest, DAY)
    assert delivered
    assert load_threads(cfg.ingest, delivered) == 1
    size_mb = sum(d.data_path.stat().st_size for d in delivered) / 2**20
    smaller = cfg.ingest.model_copy(update={"one_thread_below_mb": size_mb * 0.99})
    assert load_threads(smaller, delivered) is None


def test_a_txn_id_of_another_channel_on_an_earlier_date_is_no_duplicate(cfg: Config) -> None:
    cfg = lenient(cfg)
    landing = cfg.paths.landing_dir
    first = DAY - timedelta(days=1)
    deliver_day(landing, first, txn={"NET": [txn_line("T1", day=first.strftime("%Y%m%d"))]})
    deliver_day(
        landing,
        DAY,
        txn={"TEL": [txn_line("T1", channel="TEL")], "NET": [txn_line("T1"), txn_line("T2")]},
    )
    con = connect(cfg)
    ingest_date(con, cfg, first, LOG)
    result = ingest_date(con, cfg, DAY, LOG)
    con.close()
    loaded = {f.file_name: (f.rows_loaded, f.rows_quarantined) for f in result.files}
    assert loaded[f"TXN_TEL_{STAMP}.dat"] == (1, 0)
    assert loaded[f"TXN_NET_{STAMP}.dat"] == (1, 1)
    assert query(cfg, "select reason from quarantine") == [
        (f"txn_id: already loaded for business date {first:%Y%m%d}",)
    ]


def test_a_snapshot_touches_only_changed_appeared_and_vanished_keys(cfg: Config) -> None:
    cfg = lenient(cfg)
    d2 = DAY + timedelta(days=1)
    landing = cfg.paths.landing_dir
    deliver_day(
        landing,
        DAY,
        accounts=[acct_line("A1", "C1", "100.00"), acct_line("A2", "C1", "20.00"),
                  acct_line("A3", "C2", "5.00")],
    )  # fmt: skip
    deliver_day(
        landing,
        d2,
        accounts=[
            acct_line("A1", "C1", "100.00"),  # unchanged
            acct_line("A2", "C1", "30.00", product="XXX"),  # quarantined: keeps its version
            acct_line("A4", "C2", "50.00"),  # new; A3 vanished
            acct_line("A4", "C2", "60.00"),  # a duplicate line: quarantined
            acct_line("A5", "C2", "1.00"),
        ],
    )
    con = connect(cfg)
    ingest_date(con, cfg, DAY, LOG)
    ingest_date(con, cfg, d2, LOG)
    con.close()
    far = DAY.replace(year=9999, month=12, day=31)
    assert query(
        cfg, "select account_id, balance, valid_from, valid_to from hist_accounts order by all"
    ) == [
        ("A1", 100, DAY, far),
        ("A2", 20, DAY, far),
        ("A3", 5, DAY, d2),
        ("A4", 50, d2, far),
        ("A5", 1, d2, far),
    ]


def test_txn_ids_of_earlier_dates_are_found_without_the_range_table_and_after_a_resend(
    cfg: Config,
) -> None:
    cfg = lenient(cfg)
    landing = cfg.paths.landing_dir
    d1, d2 = DAY - timedelta(days=1), DAY
    s1 = d1.strftime("%Y%m%d")
    deliver_day(landing, d1, txn={"NET": [txn_line(t, day=s1) for t in ("T1", "T5", "T9")]})
    deliver_day(landing, d2, txn={"NET": [txn_line("T1"), txn_line("T5"), txn_line("T7")]})
    con = connect(cfg)
    ingest_date(con, cfg, d1, LOG)
    # a corrected re-send of d1 without T5: T5 is free again, T1 is not
    write_feed(
        landing, d1, f"TXN_NET_{s1}.dat", [txn_line(t, day=s1) for t in ("T1", "T9")], feed="TXN"
    )
    ingest_date(con, cfg, d1, LOG)
    # a warehouse loaded before the ranges existed: they are built from the transactions
    con.execute("drop table ingest_txn_id_ranges")
    ingest_date(con, cfg, d2, LOG)
    con.close()
    assert query(cfg, "select txn_id, business_date from stg_transactions order by all") == [
        ("T1", d1), ("T5", d2), ("T7", d2), ("T9", d1),
    ]  # fmt: skip
    assert query(cfg, "select line_number, reason from quarantine") == [
        (1, f"txn_id: already loaded for business date {s1}")
    ]
