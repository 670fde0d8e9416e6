"""Ingest with real files in tmp_path: control files, encodings, bad rows, re-runs, re-sends."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Config
from pipeline.ingest import ingest_date
from pipeline.warehouse import connect
from tests.conftest import DAY, deliver_day
from tests.landing import acct_line, cust_line, txn_line, write_feed

LOG = logging.getLogger("test")


def ingest(cfg: Config, day: date = DAY):  # type: ignore[no-untyped-def]
    con = connect(cfg)
    try:
        return ingest_date(con, cfg, day, LOG)
    finally:
        con.close()


def query(cfg: Config, sql: str, params: list[object] | None = None) -> list[tuple]:
    con = duckdb.connect(str(cfg.paths.warehouse), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_chinese_text_round_trips_through_gb18030_even_when_a_byte_is_the_delimiter(
    cfg: Config,
) -> None:
    # 弢 珅 東 億 each have 0x7C ('|') as their second GB18030 byte.
    for ch in "弢珅東億":
        assert ch.encode("gb18030")[1:2] == b"|"
    deliver_day(
        cfg.paths.landing_dir,
        customers=[cust_line("C1", "张弢"), cust_line("C2", "王東億")],
        txn={"NET": [txn_line("N1", cp_name="李珅批发商行")]},
    )
    result = ingest(cfg)
    assert result.incomplete == []
    names = dict(query(cfg, "select customer_id, name from customers"))
    assert names == {"C1": "张弢", "C2": "王東億"}
    assert query(cfg, "select counterparty_name from transactions") == [("李珅批发商行",)]
    assert query(cfg, "select count(*) from quarantine") == [(0,)]


def test_crlf_line_ends_load_like_lf(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir)
    write_feed(
        cfg.paths.landing_dir,
        DAY,
        "TXN_NET_20261127.dat",
        [txn_line("N1", amount="10.00"), txn_line("N2", amount="0.50")],
        feed="TXN",
        newline="\r\n",
    )
    ingest(cfg)
    rows = query(cfg, "select txn_id, amount, terminal_id from transactions order by txn_id")
    assert rows == [("N1", Decimal("10.00"), None), ("N2", Decimal("0.50"), None)]


def test_empty_file_with_control_count_zero_is_a_complete_delivery(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir)  # four channels empty, count 0 in their .ok
    result = ingest(cfg)
    assert result.incomplete == []
    outcomes = query(cfg, "select outcome, rows_loaded from file_ledger where feed = 'TXN'")
    assert outcomes == [("loaded", 0)] * 5


@pytest.mark.parametrize(
    ("count", "amount", "expected"),
    [
        (3, None, "2 records but the control file says 3"),
        (None, "999.99", "sum of amount is 30.00 but the control file says 999.99"),
    ],
)
def test_control_mismatch_rejects_the_file_whole(
    cfg: Config, count: int | None, amount: str | None, expected: str
) -> None:
    deliver_day(cfg.paths.landing_dir)
    write_feed(
        cfg.paths.landing_dir,
        DAY,
        "TXN_NET_20261127.dat",
        [txn_line("N1", amount="10.00"), txn_line("N2", amount="20.00")],
        feed="TXN",
        count=count,
        amount=amount,
    )
    result = ingest(cfg)
    assert any("TXN_NET_20261127.dat" in p and expected in p for p in result.incomplete)
    assert query(cfg, "select count(*) from transactions") == [(0,)]
    (message,) = query(
        cfg, "select message from file_ledger where file_name = 'TXN_NET_20261127.dat'"
    )[0]
    assert expected in message


def test_truncated_file_is_rejected_and_nothing_of_it_loaded(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir)
    lines = [txn_line(f"N{i}", amount="1.00") for i in range(10)]
    data = write_feed(cfg.paths.landing_dir, DAY, "TXN_NET_20261127.dat", lines, feed="TXN")
    data.write_bytes(data.read_bytes()[: len(data.read_bytes()) // 2])  # cut mid-line
    result = ingest(cfg)
    assert [p for p in result.incomplete if "TXN_NET" in p]
    assert query(cfg, "select count(*) from transactions") == [(0,)]


def test_data_file_without_control_file_is_not_delivered(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir)
    (cfg.paths.landing_dir / "20261127" / "TXN_POS_20261127.dat.ok").unlink()
    result = ingest(cfg)
    assert result.incomplete == ["TXN_POS_20261127.dat: no control file (.ok) yet"]
    assert query(
        cfg, "select count(*) from file_ledger where file_name = 'TXN_POS_20261127.dat'"
    ) == [(0,)]


def test_missing_required_feed_is_named(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir)
    for suffix in ("", ".ok"):
        (cfg.paths.landing_dir / "20261127" / f"ACCT_20261127.dat{suffix}").unlink()
    result = ingest(cfg)
    assert result.incomplete == ["ACCT_20261127.dat: not delivered"]


BAD_ROWS = [
    (txn_line("B1", direction="D"), "direction: inconsistent with txn_code"),
    (txn_line("B2", day="20261128"), "txn_date: after the business date"),
    (txn_line("B3", day="20261131"), "txn_date: not a date (YYYYMMDD)"),
    (txn_line("B4", amount="1.234"), "amount: not an amount (non-negative, at most 2 decimals)"),
    (txn_line("B5", amount="-5.00"), "amount: not an amount (non-negative, at most 2 decimals)"),
    (txn_line("B6", code="XXX"), "txn_code: unknown code XXX"),
    (txn_line("B7", channel="POS"), "channel: differs from the file's channel"),
    (txn_line("B8", code="QRY", direction="N", amount="3.00"), "amount: an enquiry (QRY)"),
    (txn_line("B9", cid=""), "customer_id: missing"),
    (txn_line("B10", fee="x"), "fee: not an amount"),
    ("G1|too|few|fields", "expected 18 fields, found 4"),
    (txn_line("G2"), "txn_id: duplicate within the file"),
]


def test_every_kind_of_bad_row_lands_in_quarantine_with_reason_and_line(cfg: Config) -> None:
    good = [txn_line("G1"), txn_line("G2")]
    lines = good + [line for line, _ in BAD_ROWS]
    cfg = cfg.model_copy(
        update={"ingest": cfg.ingest.model_copy(update={"max_bad_row_fraction": 1.0})}
    )
    deliver_day(cfg.paths.landing_dir, txn={"NET": lines})
    result = ingest(cfg)
    assert result.incomplete == []
    quarantined = query(
        cfg, "select line_number, raw_line, reason from quarantine order by line_number"
    )
    assert len(quarantined) == len(BAD_ROWS)
    for (line_number, raw, reason), (line, why) in zip(quarantined, BAD_ROWS, strict=True):
        assert raw == line
        assert lines[line_number - 1] == line
        assert why in reason, (line_number, reason)
    assert query(cfg, "select txn_id from transactions order by txn_id") == [("G1",), ("G2",)]
    assert query(
        cfg,
        "select rows_loaded, rows_quarantined from file_ledger "
        "where file_name = 'TXN_NET_20261127.dat'",
    ) == [(2, len(BAD_ROWS))]


def test_too_many_bad_rows_reject_the_file_but_keep_the_evidence(cfg: Config) -> None:
    lines = [txn_line(f"G{i}") for i in range(10)] + [txn_line("B1", direction="D")]
    deliver_day(cfg.paths.landing_dir, txn={"NET": lines})  # 1 of 11 bad > 1% default
    result = ingest(cfg)
    assert [p for p in result.incomplete if "1 of 11 rows are bad" in p]
    assert query(cfg, "select count(*) from transactions") == [(0,)]
    assert query(cfg, "select line_number from quarantine") == [(11,)]


def test_txn_id_already_loaded_on_another_date_is_quarantined(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir, txn={"NET": [txn_line("N1", day="20261127")]})
    ingest(cfg)
    later = date(2026, 11, 28)
    cfg = cfg.model_copy(
        update={"ingest": cfg.ingest.model_copy(update={"max_bad_row_fraction": 1.0})}
    )
    deliver_day(
        cfg.paths.landing_dir,
        later,
        txn={"NET": [txn_line("N1", day="20261128"), txn_line("N2", day="20261128")]},
    )
    ingest(cfg, later)
    assert query(cfg, "select line_number, raw_line, reason from quarantine") == [
        (1, txn_line("N1", day="20261128"), "txn_id: already loaded for business date 20261127")
    ]
    assert query(cfg, "select txn_id, business_date from transactions order by 1") == [
        ("N1", DAY),
        ("N2", later),
    ]


def snapshot_of_warehouse(cfg: Config) -> list[object]:
    return [
        query(cfg, "select * from stg_transactions order by channel, txn_id"),
        query(cfg, "select * from hist_customers order by customer_id, valid_from"),
        query(cfg, "select * from hist_accounts order by account_id, valid_from"),
        query(cfg, "select file_name, outcome, rows_loaded, sha256 from file_ledger order by 1"),
        query(cfg, "select count(*) from quarantine"),
    ]


def test_rerun_and_identical_redelivery_change_nothing(cfg: Config) -> None:
    deliver_day(
        cfg.paths.landing_dir,
        txn={
            "NET": [txn_line("N1")],
            "CTR": [txn_line("C1", channel="CTR", code="DEP", amount="500.00")],
        },
    )
    ingest(cfg)
    before = snapshot_of_warehouse(cfg)
    ingest(cfg)  # the same date again
    assert snapshot_of_warehouse(cfg) == before
    deliver_day(
        cfg.paths.landing_dir,
        txn={
            "NET": [txn_line("N1")],
            "CTR": [txn_line("C1", channel="CTR", code="DEP", amount="500.00")],
        },
    )  # re-delivered, same bytes
    result = ingest(cfg)
    assert {f.outcome for f in result.files} == {"unchanged"}
    assert snapshot_of_warehouse(cfg) == before


def test_corrected_resend_replaces_the_feed_for_that_date(cfg: Config) -> None:
    deliver_day(cfg.paths.landing_dir, txn={"NET": [txn_line("N1"), txn_line("N2")]})
    ingest(cfg)
    write_feed(
        cfg.paths.landing_dir,
        DAY,
        "TXN_NET_20261127.dat",
        [txn_line("N1", amount="150.00"), txn_line("N3", amount="7.00")],
        feed="TXN",
    )
    result = ingest(cfg)
    assert [(f.file_name, f.outcome) for f in result.files if f.outcome != "unchanged"] == [
        ("TXN_NET_20261127.dat", "replaced")
    ]
    assert query(cfg, "select txn_id, amount from transactions order by 1") == [
        ("N1", Decimal("150.00")),
        ("N3", Decimal("7.00")),
    ]


def test_snapshots_keep_history_and_answer_as_of_a_date(cfg: Config) -> None:
    d1, d2, d3 = DAY, date(2026, 11, 28), date(2026, 11, 29)
    deliver_day(cfg.paths.landing_dir, d1, accounts=[acct_line("A1", "C1", "100.00")])
    deliver_day(cfg.paths.landing_dir, d2, accounts=[acct_line("A1", "C1", "100.00")])
    deliver_day(cfg.paths.landing_dir, d3, accounts=[acct_line("A1", "C1", "250.00")])
    for day in (d1, d2, d3):
        ingest(cfg, day)
    versions = query(
        cfg, "select balance, valid_from, valid_to from hist_accounts order by valid_from"
    )
    assert versions == [
        (Decimal("100.00"), d1, d3),  # unchanged on d2: no new version
        (Decimal("250.00"), d3, date(9999, 12, 31)),
    ]
    as_of_d2 = query(
        cfg, "select balance from hist_accounts where valid_from <= ? and ? < valid_to", [d2, d2]
    )
    assert as_of_d2 == [(Decimal("100.00"),)]
    # a corrected re-send of the latest snapshot replaces that date's version
    write_feed(
        cfg.paths.landing_dir,
        d3,
        "ACCT_20261129.dat",
        [acct_line("A1", "C1", "90.00")],
        feed="ACCT",
    )
    ingest(cfg, d3)
    assert query(
        cfg, "select balance, valid_from, valid_to from hist_accounts order by valid_from"
    ) == [(Decimal("100.00"), d1, d3), (Decimal("90.00"), d3, date(9999, 12, 31))]


def test_a_closed_account_leaves_the_current_view_but_stays_in_history(cfg: Config) -> None:
    # one account of two is half the book: over the shrink guard (test_hostile_landing)
    cfg = cfg.model_copy(
        update={"ingest": cfg.ingest.model_copy(update={"snapshot_max_shrink": 1.0})}
    )
    d1, d2 = DAY, date(2026, 11, 28)
    deliver_day(cfg.paths.landing_dir, d1)
    deliver_day(cfg.paths.landing_dir, d2, accounts=[acct_line("A1", "C1", "1000.50")])
    ingest(cfg, d1)
    ingest(cfg, d2)
    assert query(cfg, "select account_id from accounts") == [("A1",)]
    assert query(cfg, "select valid_to from hist_accounts where account_id = 'A2'") == [(d2,)]


def test_an_older_snapshot_after_a_newer_one_is_refused(cfg: Config) -> None:
    d1, d2 = DAY, date(2026, 11, 28)
    deliver_day(cfg.paths.landing_dir, d1)
    deliver_day(cfg.paths.landing_dir, d2)
    ingest(cfg, d2)
    result = ingest(cfg, d1)
    assert any("snapshot older than the latest loaded (20261128)" in p for p in result.incomplete)


def test_warehouse_totals_equal_control_totals_of_accepted_files(cfg: Config) -> None:
    cfg = cfg.model_copy(
        update={"ingest": cfg.ingest.model_copy(update={"max_bad_row_fraction": 1.0})}
    )
    lines = [txn_line(f"N{i}", amount=f"{i}.{i % 10}5") for i in range(1, 40)]
    lines.append(txn_line("BAD", direction="D", amount="3.00"))
    deliver_day(cfg.paths.landing_dir, txn={"NET": lines})
    ingest(cfg)
    control = Path(cfg.paths.landing_dir / "20261127" / "TXN_NET_20261127.dat.ok").read_text()
    count, total = int(control.split("|")[1]), Decimal(control.split("|")[2])
    loaded = query(cfg, "select count(*), sum(amount) from transactions")[0]
    bad = query(cfg, "select count(*) from quarantine where file_name = 'TXN_NET_20261127.dat'")[0][
        0
    ]
    assert loaded[0] + bad == count
    assert loaded[1] + Decimal("3.00") == total
