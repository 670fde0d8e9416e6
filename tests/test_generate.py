"""The synthetic landing zone honours the extract spec and carries the behaviour later stages
are judged on (merchants, decoys, channel habits, balances that follow transactions, arrears,
cures and card cycles), and its ground truth says what the files show."""

from __future__ import annotations

import io
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from pipeline.generate import accounts_truth_path_for, generate_landing_zone, truth_path_for
from pipeline.generate.identity import id_check_char
from pipeline.generate.ledger import DIRECTION
from pipeline.generate.world import build_world

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


def test_merchant_turnover_in_files_matches_truth(
    zone: Path, txns: pl.DataFrame, truth: pl.DataFrame
) -> None:
    merchants = truth.filter(pl.col("is_merchant"))
    # top-ups from the merchant's own account elsewhere (funding a loan instalment the deposit
    # cannot carry) are not sales: the counterparty is the customer under their own name
    names = (
        _frame(sorted(zone.glob("*/CUST_*.dat")), CUST_COLUMNS)
        .select("customer_id", own_name="name")
        .unique("customer_id")
    )
    inflow = (
        txns.filter(pl.col("txn_code").is_in(["TRI", "DEP"]))
        .join(names, on="customer_id", how="left")
        .filter(
            pl.col("counterparty_name").is_null()
            | (pl.col("counterparty_name") != pl.col("own_name"))
        )
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
        for truth in (truth_path_for(out), accounts_truth_path_for(out)):
            files[truth.name] = pl.read_parquet(truth).write_csv().encode()
        return files

    first = snapshot(tmp_path / "a" / "landing", 11)
    again = snapshot(tmp_path / "b" / "landing", 11)
    other = snapshot(tmp_path / "c" / "landing", 12)
    assert first == again
    assert first.keys() == other.keys()
    # (an empty file, e.g. a day without phone-banking rows, is the same under any seed)
    data = [k for k in first if k.endswith(".dat") and (first[k] or other[k])]
    assert data and all(first[k] != other[k] for k in data)


def test_empty_channel_file_still_delivered(tmp_path: Path) -> None:
    out = tmp_path / "landing"
    generate_landing_zone(out, 60, START, 1, seed=1)
    counts = Counter()
    for ok in out.glob("*/TXN_*.ok"):
        counts[ok.name.split("_")[1]] = int(ok.read_text().split("|")[1])
    assert set(counts) == set(CHANNELS)
    # 60 customers for one day leave at least one quiet channel, still delivered with count 0.
    assert min(counts.values()) == 0


# A longer zone for credit behaviour: 240 days hold seven card cycles, defaults and cures.
CREDIT_START = date(2026, 1, 1)
CREDIT_DAYS = 240
CREDIT_LAST = CREDIT_START + timedelta(days=CREDIT_DAYS - 1)
CREDIT_PRODUCTS = ["CCD", "PLN", "MTG", "BLN"]


def _load(paths: list[Path], columns: list[str]) -> pl.DataFrame:
    """Spec files as strings (empty field = null), with their business date."""
    frames = []
    for path in paths:
        text = path.read_bytes().decode("gb18030")
        if text:
            frame = pl.read_csv(
                io.StringIO(text), separator="|", has_header=False, new_columns=columns,
                infer_schema=False, quote_char=None,
            )  # fmt: skip
            day = date.fromisoformat(path.parent.name)
            frames.append(frame.with_columns(business_date=pl.lit(day)))
    return pl.concat(frames)


def _cents(column: str) -> pl.Expr:
    return pl.col(column).str.replace(".", "", literal=True).cast(pl.Int64)


@pytest.fixture(scope="module")
def credit_zone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("credit") / "landing"
    generate_landing_zone(out, 900, CREDIT_START, CREDIT_DAYS, seed=3)
    return out


@pytest.fixture(scope="module")
def credit_acct(credit_zone: Path) -> pl.DataFrame:
    return _load(sorted(credit_zone.glob("*/ACCT_*.dat")), ACCT_COLUMNS).with_columns(
        cents=_cents("balance"), dpd=pl.col("days_past_due").cast(pl.Int64)
    )


@pytest.fixture(scope="module")
def credit_txn(credit_zone: Path) -> pl.DataFrame:
    return _load(sorted(credit_zone.glob("*/TXN_*.dat")), TXN_COLUMNS).with_columns(
        cents=_cents("amount")
    )


@pytest.fixture(scope="module")
def acct_truth(credit_zone: Path) -> pl.DataFrame:
    return pl.read_parquet(accounts_truth_path_for(credit_zone))


@pytest.fixture(scope="module")
def cycles(credit_acct: pl.DataFrame, credit_txn: pl.DataFrame) -> pl.DataFrame:
    """Card statement cycles by the contribution model's rule, recomputed from the files.

    Statement on a month's last day (balance at its end), due 25 days later, both inside the
    zone, positive balance; repayments: LRP rows naming the card, or credits on the card.
    """
    statements = credit_acct.filter(
        (pl.col("product_code") == "CCD")
        & (pl.col("business_date").dt.month_end() == pl.col("business_date"))
        & (pl.col("business_date") + timedelta(days=25) <= CREDIT_LAST)
        & (pl.col("cents") > 0)
    ).select("account_id", statement_date="business_date", statement_cents="cents")
    repaid = pl.concat([
        credit_txn.filter(pl.col("txn_code") == "LRP").select(
            "business_date", "cents", card="counterparty_account"
        ),
        credit_txn.filter(pl.col("direction") == "C").select(
            "business_date", "cents", card="account_id"
        ),
    ])  # fmt: skip
    window = (pl.col("business_date") > pl.col("statement_date")) & (
        pl.col("business_date") <= pl.col("statement_date") + timedelta(days=25)
    )
    return (
        statements.join(repaid, left_on="account_id", right_on="card", how="left")
        .group_by("account_id", "statement_date", "statement_cents")
        .agg(
            paid=pl.when(window).then(pl.col("cents")).otherwise(0).sum(),
            payments=pl.when(window).then(pl.col("cents")).drop_nulls(),
        )
        .with_columns(revolved=pl.col("paid") < pl.col("statement_cents"))
    )


def test_account_truth_matches_the_files(
    credit_zone: Path, credit_acct: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    assert (
        accounts_truth_path_for(credit_zone)
        == credit_zone.parent / "landing.accounts_truth.parquet"
    )
    assert acct_truth["account_id"].is_unique().all()
    seen = credit_acct.group_by("account_id").agg(
        pl.col("customer_id", "product_code", "open_date", "maturity_date").last(),
        closed=pl.col("business_date").filter(pl.col("status") == "C").min(),
        close_text=pl.col("close_date").drop_nulls().first(),
        last_seen=pl.col("business_date").max(),
    )
    joined = acct_truth.join(seen, on="account_id", suffix="_file")
    assert joined.height == acct_truth.height == seen.height
    for column in ("customer_id", "product_code"):
        assert (joined[column] == joined[f"{column}_file"]).all()
    assert (joined["open_date"].dt.strftime("%Y%m%d") == joined["open_date_file"]).all()
    maturity = joined["maturity_date"].dt.strftime("%Y%m%d")
    assert (maturity.fill_null("") == joined["maturity_date_file"].fill_null("")).all()
    assert joined["closed_date"].equals(joined["closed"], check_names=False)
    closed = joined.filter(pl.col("closed_date").is_not_null())
    assert closed.height >= 20 and (closed["last_seen"] == CREDIT_LAST).all()
    assert (closed["closed_date"].dt.strftime("%Y%m%d") == closed["close_text"]).all()
    closed_rows = credit_acct.filter(pl.col("status") == "C")
    assert closed_rows.height > 0 and (closed_rows["cents"] == 0).all()
    term = acct_truth.filter(pl.col("product_code").is_in(["TDA", "PLN", "MTG", "BLN"]))
    assert term["original_term_months"].is_not_null().all()
    other = acct_truth.filter(~pl.col("product_code").is_in(["TDA", "PLN", "MTG", "BLN"]))
    assert other["original_term_months"].is_null().all()
    tda_terms = set(acct_truth.filter(pl.col("product_code") == "TDA")["original_term_months"])
    assert tda_terms == {3, 6, 12, 24, 36, 60}
    cards = acct_truth.filter(pl.col("product_code") == "CCD")
    assert set(cards["card_behaviour"]) == {"transactor", "revolver"}
    assert other.filter(pl.col("product_code") != "CCD")["card_behaviour"].is_null().all()
    assert (credit_acct.filter(pl.col("product_code") == "CCD")["interest_rate"] == "18.25").all()


def test_customer_truth_flags_defaulted_accounts(
    credit_zone: Path, acct_truth: pl.DataFrame
) -> None:
    customers = pl.read_parquet(truth_path_for(credit_zone))
    expected = set(acct_truth.filter(pl.col("default_date").is_not_null())["customer_id"])
    assert len(expected) >= 8
    assert set(customers.filter(pl.col("has_defaulted_account"))["customer_id"]) == expected


def test_status_is_delinquent_from_90_days_past_due(credit_acct: pl.DataFrame) -> None:
    credit = credit_acct.filter(
        pl.col("product_code").is_in(CREDIT_PRODUCTS) & pl.col("status").is_in(["A", "D"])
    )
    assert credit["dpd"].is_not_null().all()
    assert ((credit["status"] == "D") == (credit["dpd"] >= 90)).all()
    watch = credit.filter((pl.col("dpd") >= 30) & (pl.col("dpd") < 90))
    assert watch["account_id"].n_unique() >= 8 and (watch["status"] == "A").all()
    assert credit.filter(pl.col("status") == "D")["account_id"].n_unique() >= 8
    assert credit_acct.filter(~pl.col("product_code").is_in(CREDIT_PRODUCTS))["dpd"].is_null().all()


def test_the_legacy_bad_book_holds_only_accounts_open_on_the_first_date() -> None:
    """A loan drawn inside the history cannot be months past due the day it opens. The world
    alone (no days simulated) of 20,000 customers over 425 days draws ~380 new loans and
    cards; before the fix ~14 of them were born in arrears."""
    accounts = build_world(20_000, date(2025, 9, 29), 425, 42, "102").acct
    opened_later = accounts.is_credit & (accounts.open_day > 0)
    assert opened_later.sum() > 300
    assert not (opened_later & accounts.legacy_arrears).any()


def test_defaulted_accounts_stay_past_due_and_frozen_until_cured(
    credit_acct: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    defaulted = acct_truth.filter(pl.col("default_date").is_not_null())
    entering = defaulted.filter(~pl.col("is_legacy_default"))
    assert entering.height >= 4 and (entering["default_date"] > CREDIT_START).all()
    legacy = defaulted.filter(pl.col("is_legacy_default"))
    assert legacy.height >= 4 and (legacy["default_date"] == CREDIT_START).any()
    assert (defaulted["watch_date"] <= defaulted["default_date"]).all()
    rows = credit_acct.join(
        defaulted.select("account_id", "watch_date", "default_date", "cure_date"), on="account_id"
    )
    until_cure = pl.col("cure_date").is_null() | (pl.col("business_date") < pl.col("cure_date"))
    in_default = rows.filter((pl.col("business_date") >= pl.col("default_date")) & until_cure)
    assert (in_default["dpd"] >= 90).all() and (in_default["status"] == "D").all()
    before = rows.filter(pl.col("business_date") < pl.col("default_date"))
    assert (before["dpd"] < 90).all() and (before["status"] == "A").all()
    on_day = rows.filter(pl.col("business_date") == pl.col("default_date"))
    assert on_day.height == defaulted.height
    assert (on_day.filter(pl.col("default_date") > CREDIT_START)["dpd"] == 90).all()
    watched = rows.filter(pl.col("business_date") == pl.col("watch_date"))
    assert (watched.filter(pl.col("watch_date") > CREDIT_START)["dpd"] == 30).all()
    # From watch to cure (or the end): one more day past due each day, and nothing moves.
    arrears = rows.filter((pl.col("business_date") >= pl.col("watch_date")) & until_cure)
    per = arrears.group_by("account_id").agg(
        days=pl.len(),
        dpd_span=pl.col("dpd").max() - pl.col("dpd").min(),
        balances=pl.col("cents").n_unique(),
        balance=pl.col("cents").first(),
    )
    assert (per["dpd_span"] == per["days"] - 1).all()
    assert (per["balances"] == 1).all() and (per["balance"] > 0).all()


def test_cured_accounts_repay_their_arrears_and_perform_again(
    credit_acct: pl.DataFrame, credit_txn: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    cured = acct_truth.filter(pl.col("cure_date").is_not_null())
    assert cured.filter(pl.col("default_date").is_not_null()).height >= 1
    assert (
        cured.filter(pl.col("default_date").is_null() & pl.col("watch_date").is_not_null()).height
        >= 1
    )
    rows = credit_acct.join(cured.select("account_id", "cure_date"), on="account_id")
    after = rows.filter(pl.col("business_date") >= pl.col("cure_date"))
    assert (after["dpd"] == 0).all() and (after["status"] == "A").all()
    eve = rows.filter(pl.col("business_date") == pl.col("cure_date") - timedelta(days=1))
    assert eve.height == cured.height and (eve["dpd"] >= 30).all()
    dda = credit_acct.filter(pl.col("product_code") == "DDA").select("account_id").unique()
    repaid = credit_txn.filter(pl.col("txn_code") == "LRP").join(
        cured.select("customer_id", "cure_date", card="account_id"),
        left_on=["counterparty_account", "business_date"],
        right_on=["card", "cure_date"],
        suffix="_owner",
    )
    assert repaid.height == cured.height
    assert (repaid["customer_id"] == repaid["customer_id_owner"]).all()
    assert (repaid["direction"] == "D").all() and (
        repaid["txn_date"] == repaid["business_date"].dt.strftime("%Y%m%d")
    ).all()
    assert repaid["account_id"].is_in(dda["account_id"].implode()).all()
    day = rows.filter(pl.col("business_date") == pl.col("cure_date")).join(
        eve.select("account_id", eve_cents="cents"), on="account_id"
    )
    assert (day["cents"] < day["eve_cents"]).all()
    # Regular repayments resume after the cure day.
    later = (
        credit_txn.filter(pl.col("txn_code") == "LRP")
        .join(
            cured.select(card="account_id", cure="cure_date"),
            left_on="counterparty_account",
            right_on="card",
        )
        .filter(pl.col("business_date") > pl.col("cure"))
    )
    resumed = set(later["counterparty_account"])
    due_again = cured.filter(pl.col("cure_date") <= CREDIT_LAST - timedelta(days=40))
    assert due_again.height >= 1 and set(due_again["account_id"]) <= resumed


def test_card_cycles_in_the_files_match_the_truth(
    cycles: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    cards = acct_truth.filter(pl.col("product_code") == "CCD")
    counted = cycles.group_by("account_id").agg(n=pl.len(), revolved=pl.col("revolved").sum())
    joined = cards.join(counted, on="account_id", how="left").with_columns(pl.col("n").fill_null(0))
    assert (joined["statement_cycle_count"] == joined["n"]).all()
    judged = joined.filter(pl.col("n") > 0)
    assert (
        judged.height > 150
        and joined.filter(pl.col("n") == 0)["revolved_cycle_share"].is_null().all()
    )
    share = judged["revolved"] / judged["n"]
    assert ((share - judged["revolved_cycle_share"]).abs() < 1e-3).all()
    switched = judged.filter(
        pl.col("watch_date").is_null() & ~pl.col("revolved_cycle_share").is_in([0.0, 1.0])
    )
    assert switched.height >= 3


def test_transactors_repay_each_statement_in_full_and_revolvers_the_minimum(
    cycles: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    performing = acct_truth.filter(
        (pl.col("product_code") == "CCD")
        & pl.col("watch_date").is_null()
        & ~pl.col("is_legacy_default")
    )
    habit = cycles.join(
        performing.select("account_id", "card_behaviour", "revolved_cycle_share"), on="account_id"
    )
    transactors = habit.filter(
        (pl.col("card_behaviour") == "transactor") & (pl.col("revolved_cycle_share") == 0)
    )
    assert transactors["account_id"].n_unique() >= 80
    assert (transactors["payments"].list.len() == 1).all()
    assert (transactors["paid"] == transactors["statement_cents"]).all()
    revolvers = habit.filter(
        (pl.col("card_behaviour") == "revolver") & (pl.col("revolved_cycle_share") == 1)
    )
    assert revolvers["account_id"].n_unique() >= 30
    minimum = pl.min_horizontal(
        pl.col("statement_cents"), pl.max_horizontal(pl.col("statement_cents") // 10, 10000)
    )
    assert (revolvers["payments"].list.len() == 1).all()
    assert (revolvers.select(ok=pl.col("paid") == minimum)["ok"]).all()
    assert (revolvers["paid"] < revolvers["statement_cents"]).all()


def test_card_balances_follow_purchases_fees_repayments_and_interest(
    credit_acct: pl.DataFrame,
    credit_txn: pl.DataFrame,
    cycles: pl.DataFrame,
    acct_truth: pl.DataFrame,
) -> None:
    cards = credit_acct.filter(pl.col("product_code") == "CCD").sort("account_id", "business_date")
    cards = cards.with_columns(
        moved=pl.col("cents") - pl.col("cents").shift(1).over("account_id"),
        rate=pl.col("interest_rate").cast(pl.Float64),
    ).filter(pl.col("business_date") > CREDIT_START)
    spent = (
        credit_txn.filter(pl.col("txn_code").is_in(["POS", "FEE"]))
        .group_by("account_id", "business_date")
        .agg(spent=pl.col("cents").sum())
    )
    repaid = (
        credit_txn.filter(pl.col("txn_code") == "LRP")
        .group_by("counterparty_account", "business_date")
        .agg(repaid=pl.col("cents").sum())
    )
    due = cycles.select(
        "account_id", "statement_cents", "revolved",
        business_date=pl.col("statement_date") + timedelta(days=25),
    )  # fmt: skip
    rows = (
        cards.join(spent, on=["account_id", "business_date"], how="left")
        .join(
            repaid,
            left_on=["account_id", "business_date"],
            right_on=["counterparty_account", "business_date"],
            how="left",
        )
        .join(due, on=["account_id", "business_date"], how="left")
        .with_columns(
            interest=pl.col("moved") - pl.col("spent").fill_null(0) + pl.col("repaid").fill_null(0),
            expected=pl.when(pl.col("revolved") & (pl.col("dpd") == 0))
            .then((pl.col("statement_cents") * pl.col("rate") / 1200).round(0))
            .otherwise(0),
        )
    )
    assert (
        credit_txn.filter(pl.col("txn_code") == "POS")["account_id"]
        .is_in(cards["account_id"].implode())
        .sum()
        > 1000
    )
    assert ((rows["interest"] - rows["expected"]).abs() <= 1).all()
    assert rows.filter(pl.col("expected") > 0).height >= 100
    defaulted = acct_truth.filter(
        pl.col("watch_date").is_not_null() & (pl.col("product_code") == "CCD")
    )
    assert defaulted.height >= 3


def test_card_repayments_fall_inside_the_grace_period(
    credit_txn: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    cards = acct_truth.filter(pl.col("product_code") == "CCD").select("account_id", "cure_date")
    repaid = credit_txn.filter(pl.col("txn_code") == "LRP").join(
        cards, left_on="counterparty_account", right_on="account_id"
    )
    assert repaid.height > 500
    regular = repaid.filter(
        pl.col("cure_date").is_null() | (pl.col("business_date") != pl.col("cure_date"))
    )
    assert regular["business_date"].dt.day().max() <= 20
    assert (regular["channel"] == "NET").all() and (
        regular["txn_date"] == regular["business_date"].dt.strftime("%Y%m%d")
    ).all()


def test_fees_are_charged_as_amounts_on_deposits_and_cards(
    credit_txn: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    fees = credit_txn.filter(pl.col("txn_code") == "FEE").join(
        acct_truth.select("account_id", "product_code", "open_date"), on="account_id"
    )
    assert (fees["fee"] == "0.00").all() and (fees["direction"] == "D").all()
    sms = fees.filter(pl.col("product_code") == "DDA")
    assert sms.height > 500 and (sms["amount"] == "2.00").all()
    assert (sms["business_date"].dt.day() == 1).all()
    annual = fees.filter(pl.col("product_code") == "CCD")
    assert set(fees["product_code"]) == {"DDA", "CCD"}
    assert (annual["amount"] == "100.00").all() and annual["account_id"].is_unique().all()
    assert (
        annual["business_date"].dt.strftime("%m%d") == annual["open_date"].dt.strftime("%m%d")
    ).all()
    cards = acct_truth.filter((pl.col("product_code") == "CCD") & pl.col("watch_date").is_null())
    # About half the cards carry a fee; in 240 days about two thirds of anniversaries pass.
    assert 0.2 * cards.height < annual.height < 0.5 * cards.height


def test_takeup_is_recorded_with_its_date_and_driven_by_the_trait(
    credit_zone: Path, credit_acct: pl.DataFrame, credit_txn: pl.DataFrame, acct_truth: pl.DataFrame
) -> None:
    truth = pl.read_parquet(truth_path_for(credit_zone))
    taken = acct_truth.filter(pl.col("takeup_trait").is_not_null())
    assert set(taken["product_code"]) == {"TDA", "WMP", "FND", "INS", "CCD", "PLN"}
    assert (taken["open_date"] > CREDIT_START).all()
    # the account first appears in ACCT on its take-up date
    first = credit_acct.group_by("account_id").agg(seen=pl.col("business_date").min())
    joined = taken.join(first, on="account_id")
    assert joined.height == taken.height and (joined["seen"] == joined["open_date"]).all()
    # deposits and investments are funded by a PRB from the demand deposit that day
    funded = taken.filter(pl.col("product_code").is_in(["TDA", "WMP", "FND", "INS"])).join(
        credit_txn.filter(pl.col("txn_code") == "PRB").select(
            "counterparty_account", "business_date"
        ),
        left_on=["account_id", "open_date"],
        right_on=["counterparty_account", "business_date"],
    )
    deposits = taken.filter(pl.col("product_code").is_in(["TDA", "WMP", "FND", "INS"]))
    assert funded.height >= 0.8 * deposits.height
    # the trait drives it: customers high on "spending" take up cards far more often
    cards = taken.filter(pl.col("product_code") == "CCD")["customer_id"]
    high = truth.filter(pl.col("trait_spending") > 1)
    low = truth.filter(pl.col("trait_spending") < -1)
    rate_high = high["customer_id"].is_in(cards.implode()).mean()
    rate_low = low["customer_id"].is_in(cards.implode()).mean()
    assert rate_high > 3 * rate_low  # type: ignore[operator]


def test_churners_drain_before_they_leave(credit_zone: Path, credit_acct: pl.DataFrame) -> None:
    truth = pl.read_parquet(truth_path_for(credit_zone)).filter(
        pl.col("attrition_start_date").is_not_null()
        & (pl.col("lifecycle_date") < CREDIT_LAST)
        & (pl.col("attrition_start_date") > CREDIT_START)
    )
    assert truth.height >= 5
    assert (truth["attrition_start_date"] < truth["lifecycle_date"]).all()
    dda = credit_acct.filter(pl.col("product_code") == "DDA").join(
        truth.select("customer_id", "attrition_start_date", "lifecycle_date"), on="customer_id"
    )
    at_start = dda.filter(pl.col("business_date") == pl.col("attrition_start_date"))
    before_leaving = dda.filter(
        pl.col("business_date") == pl.col("lifecycle_date") - timedelta(days=1)
    )
    both = at_start.join(before_leaving, on="account_id", suffix="_end")
    drained = (both["cents_end"] < both["cents"] * 0.8).mean()
    assert drained > 0.7  # type: ignore[operator]
