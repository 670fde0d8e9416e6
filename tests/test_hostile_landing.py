"""The landing zone is untrusted input: every hostile or broken file is refused or quarantined
with a message that says what and where, through the command an operator runs, and nothing
that was delivered correctly is lost (the other files load; a fixed re-send loads).

Real files, links, FIFOs and devices in tmp_path; the real CLI (in process) and DuckDB.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb
import pytest
import yaml
from typer.testing import CliRunner

from pipeline.cli import app
from tests.conftest import DAY, REPO, deliver_day
from tests.landing import acct_line, cust_line, txn_line, write_feed

runner = CliRunner()
STAMP = DAY.strftime("%Y%m%d")
NEXT = date(2026, 11, 28)


class Zone:
    """A landing zone, a warehouse and a config file in tmp_path, driven through the CLI."""

    def __init__(self, tmp_path: Path) -> None:
        self.root = tmp_path
        self.landing = tmp_path / "landing"
        self.warehouse = tmp_path / "cvp.duckdb"
        self.config = tmp_path / "cvp.yaml"
        self.settings = yaml.safe_load((REPO / "configs" / "default.yaml").read_text("utf-8"))
        self.write_config()
        assert self.cvp("init")[0] == 0  # nothing else creates a warehouse (issue 14)

    def write_config(self, **ingest: object) -> None:
        self.settings["ingest"].update(ingest)
        self.config.write_text(yaml.safe_dump(self.settings, allow_unicode=True), "utf-8")

    def folder(self, day: date = DAY) -> Path:
        return self.landing / day.strftime("%Y%m%d")

    def cvp(self, *args: str) -> tuple[int, str]:
        """``cvp *args`` on this zone's config and warehouse: exit code and output."""
        paths = ["--config", str(self.config), "--warehouse", str(self.warehouse)]
        if args[0] in ("ingest", "status"):
            paths += ["--landing-dir", str(self.landing)]
        result = runner.invoke(app, [*args, *paths])
        return result.exit_code, result.output

    def ingest(self, day: date = DAY) -> tuple[int, str]:
        return self.cvp("ingest", "--date", day.isoformat(), "--log-format", "json")

    def query(self, sql: str) -> list[tuple]:
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def ledger(self, name: str) -> tuple[str, str | None]:
        rows = self.query(
            f"select outcome, message from file_ledger where file_name = '{name}' "
            "order by received_at desc limit 1"
        )
        return rows[0] if rows else ("(none)", None)


@pytest.fixture
def zone(tmp_path: Path) -> Zone:
    return Zone(tmp_path)


TXN_NET = f"TXN_NET_{STAMP}.dat"
NET_LINES = [txn_line("N1", amount="10.00"), txn_line("N2", amount="20.00")]


def deliver_good_day(zone: Zone) -> None:
    deliver_day(zone.landing, txn={"NET": NET_LINES, "CTR": [txn_line("T1", channel="CTR")]})


def loaded_elsewhere(zone: Zone) -> None:
    """The day's other files loaded: customers, accounts, the counter's transaction."""
    assert zone.query("select customer_id from customers order by 1") == [("C1",), ("C2",)]
    assert zone.query("select txn_id from transactions where channel = 'CTR'") == [("T1",)]


def resend_and_load(zone: Zone) -> None:
    """The source system re-sends a proper file: it loads, the date completes."""
    target = zone.folder() / TXN_NET
    if target.is_dir() and not target.is_symlink():
        shutil.rmtree(target)
    elif target.exists() or target.is_symlink():
        target.unlink()
    write_feed(zone.landing, DAY, TXN_NET, NET_LINES, feed="TXN")
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select txn_id from transactions where channel = 'NET' order by 1") == [
        ("N1",),
        ("N2",),
    ]


def _symlink_to(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _device(path: Path) -> None:
    try:
        os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # the kernel's /dev/zero
    except PermissionError:
        pytest.skip("no permission to create a device node here")


def _folder(path: Path) -> None:
    path.mkdir()
    (path / "inside.dat").write_text("x", "ascii")


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (_symlink_to("/etc/passwd"), "is a symbolic link"),
        (_symlink_to("/dev/zero"), "is a symbolic link"),
        (_fifo, "is a FIFO (named pipe)"),
        (_device, "is a device"),
        (_folder, "is a folder"),
    ],
    ids=["symlink-passwd", "symlink-dev-zero", "fifo", "device", "subfolder"],
)
def test_only_regular_files_are_read(zone: Zone, make: Callable[[Path], None], kind: str) -> None:
    deliver_good_day(zone)
    data = zone.folder() / TXN_NET
    data.unlink()
    make(data)  # the .ok beside it agrees with nothing: it must not matter
    code, out = zone.ingest()
    assert code == 3, out
    assert f"{TXN_NET}: rejected: {TXN_NET} {kind}" in out
    assert "only regular files directly in the date folder are read" in out
    assert zone.query("select count(*) from quarantine") == [(0,)]  # nothing of it read
    loaded_elsewhere(zone)
    resend_and_load(zone)


def test_a_date_folder_that_is_a_link_is_refused(zone: Zone) -> None:
    elsewhere = zone.root / "elsewhere"
    deliver_day(elsewhere)
    zone.landing.mkdir()
    zone.folder().symlink_to(elsewhere / STAMP)
    code, out = zone.ingest()
    assert code == 3, out
    assert f"CUST_{STAMP}.dat: rejected: the date folder {STAMP} is a symbolic link" in out
    assert zone.query("select count(*) from file_ledger") == [(0,)]


def test_a_control_file_that_is_a_link_is_refused(zone: Zone) -> None:
    deliver_good_day(zone)
    ok = zone.folder() / (TXN_NET + ".ok")
    real = zone.root / "elsewhere.ok"
    real.write_bytes(ok.read_bytes())
    ok.unlink()
    ok.symlink_to(real)
    code, out = zone.ingest()
    assert code == 3, out
    assert f"{TXN_NET}.ok is a symbolic link" in out
    loaded_elsewhere(zone)


def test_names_match_exactly(zone: Zone) -> None:
    deliver_good_day(zone)
    folder = zone.folder()
    for suffix in ("", ".ok"):
        (folder / f"{TXN_NET}{suffix}").rename(folder / f"{TXN_NET.lower()}{suffix}")
    code, out = zone.ingest()
    assert code == 3, out
    assert f"{TXN_NET}: not delivered" in out


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("../CUST_{date}.dat", "must be a file name directly in the date folder"),
        ("sub/CUST_{date}.dat", "must be a file name directly in the date folder"),
        ("CUST_{dat}.dat", "unknown placeholder {dat}"),
        ("CUST_{date.year}.dat", "unknown placeholder {date.year}"),
        ("CUST_{date!r}.dat", "unknown placeholder {date!r}"),
        ("CUST_{0}.dat", "unknown placeholder {0}"),
        ("CUST_{date:>10}.dat", "unknown placeholder {date:>10}"),
        ("CUST_{date.dat", "expected '}'"),
        ("CUST.dat", "must contain {date}"),
        ("CUST_{channel}_{date}.dat", "CUST pattern: {channel} is for transaction feeds only"),
    ],
)
def test_patterns_are_checked_by_config_check(zone: Zone, pattern: str, message: str) -> None:
    zone.settings["ingest"]["feeds"]["CUST"]["pattern"] = pattern
    zone.write_config()
    result = runner.invoke(app, ["config", "check", "--config", str(zone.config)])
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "ingest.feeds" in result.output


def test_a_byte_order_mark_is_refused_and_nothing_is_lost(zone: Zone) -> None:
    deliver_good_day(zone)
    assert zone.ingest()[0] == 0
    cust = write_feed(
        zone.landing, NEXT, f"CUST_{NEXT:%Y%m%d}.dat", [cust_line("C1"), cust_line("C2", "王東")],
        feed="CUST",
    )  # fmt: skip
    deliver_day(zone.landing, NEXT, customers=[cust_line("C1"), cust_line("C2", "王東")])
    cust.write_bytes(b"\xef\xbb\xbf" + cust.read_bytes())  # the .ok still says 2 records
    code, out = zone.ingest(NEXT)
    assert code == 3, out
    assert f"CUST_{NEXT:%Y%m%d}.dat: rejected: starts with a UTF-8 byte-order mark" in out
    assert "the file is UTF-8, not gb18030" in out
    # the real customer did not disappear and no mojibake id appeared
    current = "select customer_id from hist_customers where valid_to = '9999-12-31' order by 1"
    assert zone.query(current) == [("C1",), ("C2",)]


def test_a_bom_of_the_configured_encoding_is_stripped_when_configured(zone: Zone) -> None:
    deliver_good_day(zone)
    cust = zone.folder() / f"CUST_{STAMP}.dat"
    cust.write_bytes(b"\x84\x31\x95\x33" + cust.read_bytes())  # GB18030's mark
    code, out = zone.ingest()
    assert code == 3, out
    assert "starts with a GB18030 byte-order mark; set ingest.format.bom: strip" in out
    zone.settings["ingest"]["format"]["bom"] = "strip"
    zone.write_config()
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select customer_id, name from customers order by 1") == [
        ("C1", "张弢"),
        ("C2", "王東"),
    ]


def test_utf8_in_a_gb18030_zone_is_refused_not_read_as_mojibake(zone: Zone) -> None:
    deliver_good_day(zone)
    write_feed(
        zone.landing, DAY, f"CUST_{STAMP}.dat", [cust_line("C1", "张伟"), cust_line("C2", "李娜")],
        feed="CUST", encoding="utf-8",
    )  # fmt: skip
    assert "张伟".encode().decode("gb18030")  # the mojibake it would otherwise load
    code, out = zone.ingest()
    assert code == 3, out
    assert f"CUST_{STAMP}.dat: rejected: is UTF-8 text, not gb18030" in out
    assert zone.query("select count(*) from hist_customers") == [(0,)]


def test_an_undecodable_byte_rejects_that_file_only_with_offset_and_line(zone: Zone) -> None:
    deliver_good_day(zone)
    data = zone.folder() / TXN_NET
    first, second = data.read_bytes().split(b"\n")[:2]
    data.write_bytes(first + b"\n" + second[:40] + b"\xff" + second[41:] + b"\n")
    code, out = zone.ingest()
    assert code == 3, out
    offset = len(first) + 1 + 40
    assert f"{TXN_NET}: rejected: not valid gb18030 at byte {offset} (line 2)" in out
    assert zone.ledger(TXN_NET)[0] == "rejected"
    loaded_elsewhere(zone)
    resend_and_load(zone)


def test_a_huge_line_rejects_that_file_only(zone: Zone) -> None:
    deliver_good_day(zone)
    huge = txn_line("N3", cp_name="x" * (5 << 20))
    write_feed(zone.landing, DAY, TXN_NET, [*NET_LINES, huge], feed="TXN")
    code, out = zone.ingest()
    assert code == 3, out
    start = sum(len(line.encode("gb18030")) + 1 for line in NET_LINES)
    assert f"{TXN_NET}: rejected: line 3 (from byte {start}) is longer than 65536 bytes" in out
    loaded_elsewhere(zone)
    resend_and_load(zone)


def test_extra_or_missing_field_is_quarantined_with_the_right_message(zone: Zone) -> None:
    zone.write_config(max_bad_row_fraction=1.0)
    extra = txn_line("N3", amount="5.00") + "|extra"
    missing = txn_line("N4", amount="7.00").rsplit("|", 1)[0]
    deliver_day(zone.landing, txn={"NET": [*NET_LINES, extra, missing]})
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select line_number, reason from quarantine order by 1") == [
        (3, "expected 18 fields, found 19"),
        (4, "expected 18 fields, found 17"),
    ]
    assert zone.ledger(TXN_NET)[0] == "loaded"
    assert zone.query("select count(*) from transactions") == [(2,)]


def test_a_trailing_blank_line_is_not_a_record(zone: Zone) -> None:
    deliver_good_day(zone)
    data = zone.folder() / TXN_NET
    data.write_bytes(data.read_bytes() + b"\n\r\n")  # .ok says 2 records
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select count(*) from quarantine") == [(0,)]
    assert zone.query("select count(*) from transactions where channel = 'NET'") == [(2,)]
    empty = zone.folder() / f"TXN_ATM_{STAMP}.dat"  # .ok says 0 records
    empty.write_bytes(b"\r\n")
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.ledger(empty.name)[0] == "replaced"


def test_an_absurd_balance_is_quarantined_not_loaded(zone: Zone) -> None:
    deliver_day(
        zone.landing,
        accounts=[acct_line("A1", "C1", "1000.50"), acct_line("A2", "C2", "9999999999999999.99")],
    )
    zone.write_config(max_bad_row_fraction=1.0)
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select line_number, reason from quarantine") == [
        (2, "balance: over 10000000000 (ingest.limits.max_amount)")
    ]
    assert zone.query("select account_id from accounts") == [("A1",)]


CUSTOMERS = [cust_line(f"C{i:03d}") for i in range(1, 21)]
ACCOUNTS = [acct_line(f"A{i:03d}", f"C{i:03d}") for i in range(1, 21)]
CURRENT = "select count(*) from hist_customers where valid_to = '9999-12-31' and status = 'A'"


def twenty_customers(zone: Zone) -> None:
    deliver_day(zone.landing, customers=CUSTOMERS, accounts=ACCOUNTS)
    code, out = zone.ingest()
    assert code == 0, out


@pytest.mark.parametrize(
    ("kept", "closes"),
    [
        (CUSTOMERS[:10], "would close 10 of 20 current customers (50.0%"),
        ([], "would close 20 of 20"),
    ],
    ids=["halved", "empty"],
)
def test_a_shrinking_snapshot_is_held_until_accepted(
    zone: Zone, kept: list[str], closes: str
) -> None:
    twenty_customers(zone)
    deliver_day(zone.landing, NEXT, customers=kept, accounts=ACCOUNTS[: len(kept)])
    cust = f"CUST_{NEXT:%Y%m%d}.dat"
    code, out = zone.ingest(NEXT)
    assert code == 3, out
    assert f"{cust}: held: {closes}" in out
    assert f"cvp accept --file {cust}" in out
    assert zone.query(CURRENT) == [(20,)]  # nobody closed
    assert zone.ledger(cust)[0] == "held"
    code, out = zone.ingest(NEXT)  # held again on the next attempt: nothing changed
    assert code == 3, out
    assert zone.query(CURRENT) == [(20,)]

    code, out = zone.cvp("accept", "--file", cust)
    assert code == 0, out
    assert f"accepted {cust} of {NEXT}" in out
    code, out = zone.ingest(NEXT)
    assert code in (0, 3), out  # the accounts snapshot shrinks too, and is held in turn
    assert zone.ledger(cust)[0] == "loaded"
    assert zone.query(CURRENT) == [(len(kept),)]


def test_a_truncated_resend_of_a_loaded_snapshot_is_held(zone: Zone) -> None:
    twenty_customers(zone)
    deliver_day(zone.landing, NEXT, customers=CUSTOMERS, accounts=ACCOUNTS)
    assert zone.ingest(NEXT)[0] == 0
    write_feed(zone.landing, NEXT, f"CUST_{NEXT:%Y%m%d}.dat", CUSTOMERS[:10], feed="CUST")
    code, out = zone.ingest(NEXT)  # the date's versions exist: judged against the day before
    assert code == 3, out
    assert "would close 10 of 20 current customers" in out
    assert zone.query(CURRENT) == [(20,)]


def test_a_snapshot_within_the_allowed_share_loads(zone: Zone) -> None:
    twenty_customers(zone)
    deliver_day(zone.landing, NEXT, customers=CUSTOMERS[1:], accounts=ACCOUNTS[1:])  # 5%
    code, out = zone.ingest(NEXT)
    assert code == 0, out
    assert zone.query(CURRENT) == [(19,)]


def test_accepting_a_file_that_is_not_held_is_refused(zone: Zone) -> None:
    twenty_customers(zone)
    code, out = zone.cvp("accept", "--file", f"CUST_{STAMP}.dat")
    assert code == 1
    assert f"CUST_{STAMP}.dat: no held file of that name" in out


def test_transactions_and_accounts_of_unknown_customers_are_quarantined(zone: Zone) -> None:
    zone.write_config(max_bad_row_fraction=1.0)
    deliver_day(
        zone.landing,
        accounts=[acct_line("A1", "C1"), acct_line("A9", "C9", "601654.00")],
        txn={"NET": [txn_line("N1"), txn_line("N2", "C9", "A9", amount="524.00")]},
    )
    code, out = zone.ingest()
    assert code == 0, out
    why = "customer_id: not a current customer (absent from the customer snapshot)"
    assert zone.query("select file_name, line_number, reason from quarantine order by 1") == [
        (f"ACCT_{STAMP}.dat", 2, why),
        (TXN_NET, 2, why),
    ]
    assert zone.query("select txn_id from transactions") == [("N1",)]
    assert zone.query("select account_id from accounts") == [("A1",)]
    code, out = zone.cvp("status")
    assert "of unknown customers 2" in out
    # the customer arrives in a corrected CUST: the date's accounts and transactions load
    deliver_day(
        zone.landing,
        customers=[cust_line("C1"), cust_line("C2"), cust_line("C9")],
        accounts=[acct_line("A1", "C1"), acct_line("A9", "C9", "601654.00")],
        txn={"NET": [txn_line("N1"), txn_line("N2", "C9", "A9", amount="524.00")]},
    )
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select count(*) from quarantine") == [(0,)]
    assert zone.query("select sum(amount) from transactions where customer_id = 'C9'")[0][0] == 524
    assert zone.query("select account_id from accounts order by 1") == [("A1",), ("A9",)]


def test_unknown_customers_can_be_loaded_and_counted(zone: Zone) -> None:
    zone.write_config(unknown_customer="load")
    deliver_day(
        zone.landing,
        accounts=[acct_line("A1", "C1"), acct_line("A9", "C9")],
        txn={"NET": [txn_line("N1"), txn_line("N2", "C9", "A9")]},
    )
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select count(*) from quarantine") == [(0,)]
    assert zone.query("select count(*) from transactions") == [(2,)]
    assert zone.query("select feed, customer_id from unknown_customer_rows order by 1") == [
        ("ACCT", "C9"),
        ("TXN", "C9"),
    ]
    assert "of unknown customers 2" in zone.cvp("status")[1]
    # a re-sent CUST judges the date's files again: their rows are listed once, not twice
    deliver_day(
        zone.landing,
        customers=[cust_line("C1"), cust_line("C2"), cust_line("C3")],
        accounts=[acct_line("A1", "C1"), acct_line("A9", "C9")],
        txn={"NET": [txn_line("N1"), txn_line("N2", "C9", "A9")]},
    )
    assert zone.ingest()[0] == 0
    assert zone.query("select count(*) from unknown_customer_rows") == [(2,)]


def _bad_row(line: str) -> str:
    fields = line.split("|")
    fields[2] = "X"  # gender: unknown code
    return "|".join(fields)


@pytest.mark.parametrize(
    ("row", "consent", "status"),
    [
        (_bad_row(cust_line("C1", consent="N")), "N", "A"),
        (_bad_row(cust_line("C1", status="C")), "Y", "C"),
        (_bad_row(cust_line("C1", status="F", consent="N")), "N", "F"),
    ],
    ids=["withdraws-consent", "closes", "freezes-and-withdraws"],
)
def test_a_quarantined_customer_row_still_withdraws_or_closes(
    zone: Zone, row: str, consent: str, status: str
) -> None:
    zone.write_config(max_bad_row_fraction=1.0)
    deliver_good_day(zone)
    assert zone.ingest()[0] == 0
    deliver_day(zone.landing, NEXT, customers=[row, cust_line("C2", "王東")])
    code, out = zone.ingest(NEXT)
    assert code == 0, out
    assert zone.query("select reason from quarantine") == [("gender: unknown code X",)]
    assert zone.query(
        "select marketing_consent, status, gender, valid_from from hist_customers "
        "where customer_id = 'C1' and valid_to = '9999-12-31'"
    ) == [(consent, status, "M", NEXT)]  # the rest of the row is the old version's
    assert zone.query(
        "select marketing_consent, status from customers where customer_id = 'C1'"
    ) == [(consent, status)]


def test_an_unreadable_line_of_a_current_customer_rejects_the_snapshot(zone: Zone) -> None:
    zone.write_config(max_bad_row_fraction=1.0)
    deliver_good_day(zone)
    assert zone.ingest()[0] == 0
    withdrawn = cust_line("C1", consent="N") + "|extra"  # 18 fields: which one is consent?
    deliver_day(zone.landing, NEXT, customers=[withdrawn, cust_line("C2", "王東")])
    code, out = zone.ingest(NEXT)
    assert code == 3, out
    assert "line 1 has the wrong number of fields and names a current customer" in out
    assert zone.ledger(f"CUST_{NEXT:%Y%m%d}.dat")[0] == "rejected"
    assert zone.query("select marketing_consent from customers where customer_id = 'C1'") == [
        ("Y",)
    ]  # unchanged until a readable re-send: the date stays incomplete


def test_ids_are_checked_against_the_configured_pattern(zone: Zone) -> None:
    zone.write_config(id_pattern="[0-9A-Za-z]{1,20}", max_bad_row_fraction=1.0)
    mojibake = "Ｃ1"  # a full-width C, as an upstream input method may leave it
    deliver_day(
        zone.landing,
        customers=[cust_line(mojibake), cust_line("C2", "王東")],
        accounts=[acct_line("A2", "C2")],
        txn={"NET": [txn_line("N1", "C2", "A2"), txn_line("N 2", "C2", "A2")]},
    )
    code, out = zone.ingest()
    assert code == 0, out
    assert zone.query("select file_name, line_number, reason from quarantine order by 1") == [
        (f"CUST_{STAMP}.dat", 1, "customer_id: does not match ingest.id_pattern"),
        (TXN_NET, 2, "txn_id: does not match ingest.id_pattern"),
    ]
    assert zone.query("select customer_id from customers") == [("C2",)]


def test_an_id_pattern_that_is_no_regular_expression_is_a_config_mistake(zone: Zone) -> None:
    zone.write_config(id_pattern="([0-9]")
    result = runner.invoke(app, ["config", "check", "--config", str(zone.config)])
    assert result.exit_code == 1
    assert "ingest.id_pattern: '([0-9]' is not a valid regular expression" in result.output
