"""The synthetic landing zone honours the extract spec and carries the behaviour later stages
are judged on (merchants, decoys, channel habits, balances that follow transactions)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipeline.generate import generate_landing_zone, truth_path_for
from pipeline.generate.identity import id_check_char
from pipeline.generate.ledger import DIRECTION

TXN_COLUMNS = [
    "txn_id", "txn_date", "txn_time", "customer_id", "account_id", "channel", "txn_code",
    "direction", "amount", "currency", "fee", "counterparty_account", "counterparty_name",
    "counterparty_bank", "counterparty_customer_id", "mcc", "branch_id", "terminal_id",
]  # fmt: skip
ACCT_COLUMNS = [
    "account_id", "customer_id", "product_code", "open_date", "maturity_date", "close_date",
    "balance", "credit_limit", "interest_rate", "currency", "branch_id", "status",
    "days_past_due",
]  # fmt: skip
CUST_COLUMNS = [
    "customer_id", "name", "gender", "birth_date", "id_type", "id_number", "mobile",
    "education", "occupation", "industry", "region_code", "home_branch_id", "rm_id",
    "open_date", "business_license", "marketing_consent", "status",
]  # fmt: skip
CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")
START = date(2026, 3, 2)
DAYS = 21


def _records(path: Path) -> list[list[str]]:
    return [line.split("|") for line in path.read_bytes().decode("gb18030").split("\n") if line]


def _frame(paths: list[Path], columns: list[str]) -> pl.DataFrame:
    rows: list[list[str]] = []
    dates: list[str] = []
    for path in paths:
        records = _records(path)
        rows.extend(records)
        dates.extend([path.parent.name] * len(records))
    return pl.DataFrame(rows, schema=columns, orient="row").with_columns(
        business_date=pl.Series(dates)
    )


@pytest.fixture(scope="module")
def zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "landing"
    generate_landing_zone(out, 600, START, DAYS, seed=5)
    return out


@pytest.fixture(scope="module")
def txns(zone: Path) -> pl.DataFrame:
    return _frame(sorted(zone.glob("*/TXN_*.dat")), TXN_COLUMNS).with_columns(
        file_channel=pl.Series([p.name.split("_")[1] for p in sorted(zone.glob("*/TXN_*.dat"))
                                for _ in _records(p)])
    )  # fmt: skip


@pytest.fixture(scope="module")
def truth(zone: Path) -> pl.DataFrame:
    return pl.read_parquet(truth_path_for(zone))


def test_every_business_date_has_every_feed(zone: Path) -> None:
    folders = sorted(p.name for p in zone.iterdir())
    expected = [(START + timedelta(days=d)).strftime("%Y%m%d") for d in range(DAYS)]
    assert folders == expected
    for ymd in expected:
        names = {p.name for p in (zone / ymd).glob("*.dat")}
        assert {f"CUST_{ymd}.dat", f"ACCT_{ymd}.dat"} <= names
        assert {f"TXN_{ch}_{ymd}.dat" for ch in CHANNELS} <= names
    assert (zone / expected[0] / f"BRCH_{expected[0]}.dat").exists()


def test_control_files_match_recomputed_counts_and_totals(zone: Path) -> None:
    data_files = sorted(zone.glob("*/*.dat"))
    assert len(data_files) > DAYS * 7
    for path in data_files:
        ok = path.with_name(path.name + ".ok").read_text(encoding="ascii")
        assert ok.endswith("\n") and ok.count("\n") == 1
        name, count, total, ymd = ok.strip().split("|")
        records = _records(path)
        if path.name.startswith("TXN_"):
            expected = sum(Decimal(r[8]) for r in records)
        elif path.name.startswith("ACCT_"):
            expected = sum(Decimal(r[6]) for r in records)
        else:
            expected = Decimal("0.00")
        assert (name, int(count), ymd) == (path.name, len(records), path.parent.name)
        assert Decimal(total) == expected and len(total.split(".")[1]) == 2
        assert b"\r" not in path.read_bytes()


def test_names_with_pipe_second_byte_round_trip(zone: Path) -> None:
    path = sorted(zone.glob("*/CUST_*.dat"))[-1]
    raw = path.read_bytes()
    records = _records(path)
    assert all(len(r) == 17 for r in records)
    tricky = [r for r in records if any(ch in r[1] for ch in "弢珅東億")]
    assert len(tricky) >= 5
    # Splitting bytes before decoding would break exactly these lines.
    naive = [line.split(b"|") for line in raw.split(b"\n") if line]
    assert sum(len(parts) != 17 for parts in naive) >= len(tricky)
    for r in tricky:
        assert r[1].encode("gb18030").decode("gb18030") == r[1]


def test_customers_look_like_a_provincial_capital(zone: Path) -> None:
    cust = _frame(sorted(zone.glob("*/CUST_*.dat"))[-1:], CUST_COLUMNS)
    resident = cust.filter(pl.col("id_type") == "01")
    assert resident.height > 0.95 * cust.height
    for number, birth in zip(resident["id_number"], resident["birth_date"], strict=True):
        assert len(number) == 18 and number[6:14] == birth
        assert number[17] == id_check_char(number[:17])
    assert cust["mobile"].str.contains(r"^1[3-9]\d{9}$").all()
    assert cust["region_code"].str.starts_with("43").all()
    assert set(cust["education"]) <= {"PRI", "SEC", "JC", "BA", "MA", "PHD", "UNK"}
    assert 0.5 < (cust["marketing_consent"] == "Y").mean() < 0.7  # type: ignore[operator]
    students = cust.filter(pl.col("occupation") == "STU")
    assert students.height > 10 and (students["industry"] == "").all()


def test_direction_channel_and_dates_are_consistent(txns: pl.DataFrame) -> None:
    expected = txns["txn_code"].replace_strict(DIRECTION)
    assert (txns["direction"] == expected).all()
    assert (txns["channel"] == txns["file_channel"]).all()
    assert (txns["txn_date"] <= txns["business_date"]).all()
    assert (txns["txn_date"] < txns["business_date"]).sum() > 0  # some late postings
    assert (txns.filter(pl.col("txn_code") == "QRY")["amount"] == "0.00").all()
    assert txns["amount"].str.contains(r"^\d+\.\d{2}$").all()
    pos = txns.filter(pl.col("channel") == "POS")
    assert (pos["mcc"].str.len_chars() == 4).all() and (pos["terminal_id"] != "").all()
    assert (txns.filter(pl.col("channel") != "POS")["mcc"] == "").all()
    branch_rows = txns.filter(pl.col("channel").is_in(["CTR", "ATM"]))
    assert (branch_rows["branch_id"] != "").all() and (branch_rows["terminal_id"] != "").all()


def test_txn_ids_unique_per_channel_across_days(txns: pl.DataFrame) -> None:
    assert (
        txns.group_by("channel").agg(dup=pl.len() - pl.col("txn_id").n_unique())["dup"].to_list()
        == [0] * txns["channel"].n_unique()
    )
    assert txns["channel"].n_unique() == 5


def test_own_customer_counterparties_carry_our_bank_code(txns: pl.DataFrame) -> None:
    ours = txns.filter(pl.col("counterparty_customer_id") != "")
    assert ours.height > 0 and (ours["counterparty_bank"] == "102").all()
    assert txns["counterparty_bank"].n_unique() > 8


def test_demand_deposit_balances_follow_their_transactions(zone: Path, txns: pl.DataFrame) -> None:
    acct = _frame(sorted(zone.glob("*/ACCT_*.dat")), ACCT_COLUMNS)
    assert not acct["balance"].str.starts_with("-").any()
    dda = acct.filter(pl.col("product_code") == "DDA").select(
        "account_id", "business_date", cents=pl.col("balance").str.replace(".", "", literal=True)
        .cast(pl.Int64),
    )  # fmt: skip
    cents = pl.col("amount").str.replace(".", "", literal=True).cast(pl.Int64)
    fee = pl.col("fee").str.replace(".", "", literal=True).cast(pl.Int64)
    sign = pl.when(pl.col("direction") == "C").then(1).when(pl.col("direction") == "D").then(-1)
    flows = txns.group_by("account_id", "business_date").agg(
        flow=(sign.otherwise(0) * cents - fee).sum()
    )
    dates = sorted(dda["business_date"].unique())
    first, second = dates[-2], dates[-1]
    before = dda.filter(pl.col("business_date") == first).select("account_id", before="cents")
    after = dda.filter(pl.col("business_date") == second)
    joined = after.join(before, on="account_id").join(
        flows.filter(pl.col("business_date") == second), on="account_id", how="left"
    )
    moved = joined.filter(pl.col("flow").is_not_null())
    assert moved.height > 50
    diff = joined["cents"] - joined["before"] - joined["flow"].fill_null(0)
    assert (diff == 0).all()


def test_truth_sits_beside_the_landing_zone(zone: Path, truth: pl.DataFrame) -> None:
    assert truth_path_for(zone) == zone.parent / "landing.truth.parquet"
    assert not list(zone.rglob("*.parquet"))
    assert truth.height == 600 and truth["customer_id"].is_unique().all()
    merchants = truth.filter(pl.col("is_merchant"))
    assert 5 <= merchants.height <= 15
    assert merchants["merchant_turnover_amount"].is_not_null().all()
    assert merchants["market_cluster_id"].is_not_null().any()
    decoys = truth.filter(pl.col("is_decoy"))
    assert set(decoys["persona"]) == {
        "decoy_flat_sale", "decoy_inheritance", "decoy_high_salary", "decoy_own_transfer",
    }  # fmt: skip
    assert not (decoys["is_merchant"]).any()
    assert {"stable", "growing", "dormant", "churned"} <= set(truth["lifecycle"])


def test_merchant_turnover_in_files_matches_truth(txns: pl.DataFrame, truth: pl.DataFrame) -> None:
    merchants = truth.filter(pl.col("is_merchant"))
    inflow = (
        txns.filter(pl.col("txn_code").is_in(["TRI", "DEP"]))
        .group_by("customer_id")
        .agg(
            yearly=pl.col("amount").cast(pl.Float64).sum() * 365 / DAYS,
            payers=pl.col("counterparty_account").n_unique(),
        )
    )
    joined = merchants.join(inflow, on="customer_id")
    ratio = joined["yearly"] / joined["merchant_turnover_amount"]
    assert joined.height == merchants.height
    assert 0.85 < ratio.median() < 1.15  # type: ignore[operator]
    assert ratio.min() > 0.6 and ratio.max() < 1.6  # type: ignore[operator]
    assert joined["payers"].min() >= 20  # type: ignore[operator]


def test_merchants_pass_money_on_to_few_suppliers(txns: pl.DataFrame, truth: pl.DataFrame) -> None:
    ids = truth.filter(pl.col("is_merchant"))["customer_id"]
    out = txns.filter(pl.col("customer_id").is_in(ids.implode()) & (pl.col("txn_code") == "TRO"))
    inflow = txns.filter(pl.col("customer_id").is_in(ids.implode()) & (pl.col("direction") == "C"))
    amount_out = out["amount"].cast(pl.Float64).sum()
    assert amount_out > 0.6 * inflow["amount"].cast(pl.Float64).sum()
    per_merchant = out.group_by("customer_id").agg(pl.col("counterparty_account").n_unique())
    assert per_merchant["counterparty_account"].max() <= 12  # type: ignore[operator]


def test_older_customers_use_the_counter_more(txns: pl.DataFrame, truth: pl.DataFrame) -> None:
    rows = txns.join(truth.select("customer_id", "age", "is_merchant"), on="customer_id")
    rows = rows.filter(~pl.col("is_merchant"))
    old = rows.filter(pl.col("age") >= 60)
    young = rows.filter(pl.col("age") < 35)
    old_share = (old["channel"] == "CTR").mean()
    young_share = (young["channel"] == "CTR").mean()
    assert old_share > 2 * young_share  # type: ignore[operator]
    assert (young["channel"] == "NET").mean() > (old["channel"] == "NET").mean()  # type: ignore[operator]


def test_leavers_end_with_closed_empty_accounts(zone: Path, truth: pl.DataFrame) -> None:
    last = sorted(zone.iterdir())[-1]
    gone = truth.filter(
        (pl.col("lifecycle") == "churned")
        & (pl.col("lifecycle_date") <= START + timedelta(DAYS - 1))
    )["customer_id"]
    assert len(gone) > 0
    cust = _frame([last / f"CUST_{last.name}.dat"], CUST_COLUMNS)
    acct = _frame([last / f"ACCT_{last.name}.dat"], ACCT_COLUMNS)
    assert (cust.filter(pl.col("customer_id").is_in(gone.implode()))["status"] == "C").all()
    theirs = acct.filter(pl.col("customer_id").is_in(gone.implode()))
    assert (theirs["status"] == "C").all() and (theirs["balance"] == "0.00").all()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    def snapshot(out: Path, seed: int) -> dict[str, bytes]:
        generate_landing_zone(out, 120, START, 2, seed=seed)
        files = {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*.dat*"))}
        return files

    first = snapshot(tmp_path / "a" / "landing", 11)
    again = snapshot(tmp_path / "b" / "landing", 11)
    other = snapshot(tmp_path / "c" / "landing", 12)
    assert first == again
    assert first.keys() == other.keys()
    data = [k for k in first if k.endswith(".dat")]
    assert all(first[k] != other[k] for k in data)


def test_empty_channel_file_still_delivered(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    generate_landing_zone(out, 60, START, 1, seed=1)
    counts = Counter()
    for ok in out.glob("*/TXN_*.ok"):
        counts[ok.name.split("_")[1]] = int(ok.read_text().split("|")[1])
    assert set(counts) == set(CHANNELS)
    # 60 customers for one day leave at least one quiet channel, still delivered with count 0.
    assert min(counts.values()) == 0
