"""Next product = take-up (models/cross_sell.py, sql/lists/int_cross_sell_inputs.sql): the
rules pinned on small data: no leakage through the features, labels out of time, training only
on what was known by the test cut-off, calibration on data the classifier did not see, no
probability for a look-alike."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from models.cross_sell import (
    customer_folds,
    evaluate_out_of_time,
    fit_lookalike,
    fit_takeup_model,
    rank_products,
    takeup_metrics,
    top_decile_lift,
)
from pipeline.config import Config
from pipeline.config.lists import CrossSellConfig
from pipeline.sampling import sample_md5_below
from pipeline.sqlfiles import load_sql, run_sql, sql_path
from pipeline.stages.cross_sell import (
    current_cutoff,
    cutoffs,
    label_end,
    run_cross_sell,
)

CUTOFF = date(2026, 6, 30)
BUSINESS = date(2026, 11, 27)


def test_top_decile_lift_by_hand() -> None:
    # 20 customers, 4 takers (base rate 0.2); top decile = 2 best scores: one taker -> 0.5.
    y = np.array([1, 0] + [1, 1, 1] + [0] * 15)
    s = np.array([0.9, 0.8] + [0.1] * 3 + [0.0] * 15)
    assert top_decile_lift(y, s) == pytest.approx(0.5 / 0.2)
    assert top_decile_lift(np.zeros(5, dtype=int), np.zeros(5)) is None


def test_brier_against_the_base_rate_by_hand() -> None:
    y = np.array([1, 0, 0, 0])
    m = takeup_metrics(y, np.array([0.5, 0.5, 0.0, 0.0]), base_rate=0.25)
    assert m["brier_score"] == pytest.approx((0.25 + 0.25) / 4)
    assert m["brier_base_rate"] == pytest.approx((0.75**2 + 3 * 0.25**2) / 4)
    assert m["auc"] == pytest.approx(0.5 * (1 + 2 / 3))  # 1 beats 2 zeros, ties 1 of 3


def test_cutoffs_are_month_ends_with_a_full_window() -> None:
    assert current_cutoff(date(2026, 11, 27)) == date(2026, 10, 31)
    assert current_cutoff(date(2026, 10, 31)) == date(2026, 10, 31)
    assert label_end(date(2026, 6, 30), 3) == date(2026, 9, 30)
    got = cutoffs(date(2026, 1, 1), date(2026, 6, 15), window=3, history=12)
    assert got == [date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31)]


# ---- the SQL: features as of the cut-off, labels after it --------------------------------


def input_tables() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the (empty) tables ``int_cross_sell_inputs`` reads."""
    con = duckdb.connect()
    con.execute(
        "create table hist_customers (customer_id varchar, birth_date date, occupation varchar, "
        "education varchar, open_date date, status varchar, valid_from date, valid_to date)"
    )
    con.execute(
        "create table hist_accounts (account_id varchar, customer_id varchar, "
        "product_code varchar, open_date date, close_date date, status varchar, "
        "valid_from date, valid_to date)"
    )
    con.execute(
        "create table agg_customer_txn_month (customer_id varchar, month_start date, "
        "as_of_date date, channel varchar, txn_code varchar, txn_count bigint, "
        "amount decimal(18, 2))"
    )
    con.execute(
        "create table agg_account_balance_month (account_id varchar, customer_id varchar, "
        "product_code varchar, month_start date, as_of_date date, balance_days decimal(18, 2))"
    )
    return con


@pytest.fixture
def wh() -> duckdb.DuckDBPyConnection:
    con = input_tables()
    for cid in ("A", "B", "C"):
        con.execute(
            "insert into hist_customers values (?, date '1980-05-01', 'EMP', 'BA', "
            "date '2020-01-01', 'A', date '2025-01-01', date '9999-12-31')",
            [cid],
        )
        con.execute(
            "insert into hist_accounts values (?, ?, 'DDA', date '2020-01-01', null, 'A', "
            "date '2025-01-01', date '9999-12-31')",
            [f"{cid}-DDA", cid],
        )
    # A takes up WMP inside the horizon, B after it, C held WMP before the cut-off.
    for acct, cid, product, opened in [
        ("A-WMP", "A", "WMP", date(2026, 8, 10)),
        ("B-WMP", "B", "WMP", date(2026, 10, 5)),
        ("C-WMP", "C", "WMP", date(2026, 2, 1)),
    ]:
        con.execute(
            "insert into hist_accounts values (?, ?, ?, ?, null, 'A', ?, date '9999-12-31')",
            [acct, cid, product, opened, opened],
        )
    for month in (date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1)):
        last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
        for cid in ("A", "B", "C"):
            con.execute(
                "insert into agg_customer_txn_month values (?, ?, ?, 'POS', 'POS', 5, 500)",
                [cid, month, last],
            )
            con.execute(
                "insert into agg_customer_txn_month values (?, ?, ?, 'NET', 'QRY', 2, 0)",
                [cid, month, last],
            )
            con.execute(
                "insert into agg_account_balance_month values (?, ?, 'DDA', ?, ?, 30000)",
                [f"{cid}-DDA", cid, month, last],
            )
    return con


def _inputs(con: duckdb.DuckDBPyConnection, permille: int = 1000) -> pl.DataFrame:
    con.execute("create or replace temp table cross_sell_cutoffs (cutoff_date date)")
    con.execute("insert into cross_sell_cutoffs values (?)", [CUTOFF])
    params = {
        "business_date": BUSINESS,
        "window_months": 3,
        "horizon_months": 3,
        "sample_permille": permille,
        "sample_md5_below": sample_md5_below(permille),
    }
    run_sql(con, "lists/int_cross_sell_inputs", params)
    return con.execute("select * from int_cross_sell_inputs order by customer_id").pl()


def test_the_training_sample_is_taken_by_md5_of_the_customer(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    # md5 (hashlib): A 7fc56270…, B 9d5ed678…, C 0d61f837…; half the ids sort below 80000000
    assert _inputs(wh, 500)["customer_id"].to_list() == ["A", "C"]
    assert _inputs(wh, 60)["customer_id"].to_list() == ["C"]  # below 0f5c28f5
    assert _inputs(wh, 0).height == 0
    assert _inputs(wh, 1000)["customer_id"].to_list() == ["A", "B", "C"]


def test_labels_are_take_up_after_the_cut_off(wh: duckdb.DuckDBPyConnection) -> None:
    got = _inputs(wh)
    assert got["took_wmp"].to_list() == [True, False, False]  # B: after the horizon
    assert got["holds_wmp"].to_list() == [False, False, True]  # C held it: not a taker
    assert got["label_complete"].all() and (got["label_end_date"] == date(2026, 9, 30)).all()
    assert got["pos_txn_count"].to_list() == [15, 15, 15]
    assert got["dda_balance_amount"][0] == pytest.approx(90000 / 91)


def test_no_feature_moves_with_product_loan_or_later_transactions(
    wh: duckdb.DuckDBPyConnection,
) -> None:
    before = _inputs(wh)
    # product and loan transactions inside the window: the take-up itself, a loan drawn and
    # repaid, a redemption, a fee ...
    for code, channel in [("PRB", "NET"), ("PRR", "CTR"), ("LDR", "NET"), ("LRP", "ATM")]:
        wh.execute(
            "insert into agg_customer_txn_month values "
            "('A', date '2026-06-01', date '2026-06-30', ?, ?, 7, 90000)",
            [channel, code],
        )
    wh.execute(
        "insert into agg_customer_txn_month values "
        "('A', date '2026-06-01', date '2026-06-30', 'NET', 'FEE', 1, 2)"
    )
    # ... and anything after the cut-off: the next months, a partial month, balances
    for month, as_of in [
        (date(2026, 7, 1), date(2026, 7, 31)),
        (date(2026, 8, 1), date(2026, 8, 14)),
    ]:
        wh.execute(
            "insert into agg_customer_txn_month values ('A', ?, ?, 'POS', 'POS', 99, 9999)",
            [month, as_of],
        )
        wh.execute(
            "insert into agg_account_balance_month values ('A-DDA', 'A', 'DDA', ?, ?, 1e9)",
            [month, as_of],
        )
    after = _inputs(wh)
    assert after.equals(before)


# ---- the model: out of time, calibrated out of fold --------------------------------------


def _history(n: int = 800, cut: list[date] | None = None, seed: int = 3) -> pl.DataFrame:
    """Customers at monthly cut-offs; takers are the high spenders (P = sigmoid(2x - 3))."""
    rng = np.random.default_rng(seed)
    cut = cut or [date(2026, m, 28) for m in range(1, 9)]
    frames = []
    for c in cut:
        x = rng.normal(0, 1, n)
        p = 1 / (1 + np.exp(-(2 * x - 3)))
        frames.append(
            pl.DataFrame(
                {
                    "customer_id": [f"C{i:05d}" for i in range(n)],
                    "cutoff_date": [c] * n,
                    "label_end_date": [date(c.year, c.month + 3, 28) if c.month <= 9 else c] * n,
                    "label_complete": [True] * n,
                    "holds_wmp": [False] * n,
                    "took_wmp": rng.random(n) < p,
                    "spend": x,
                    "noise": rng.normal(0, 1, n),
                    "occupation": rng.choice(["EMP", "RET"], n),
                }
            )
        )
    return pl.concat(frames)


SETTINGS = CrossSellConfig(products=["WMP"], max_iter=30, min_takers=20)


def test_calibrated_probabilities_match_observed_rates() -> None:
    train = _history()
    model = fit_takeup_model(train, "WMP", SETTINGS)
    fresh = _history(n=6000, cut=[date(2026, 9, 28)], seed=11)
    p = model.predict(fresh)
    truth = 1 / (1 + np.exp(-(2 * fresh["spend"].to_numpy() - 3)))
    y = fresh["took_wmp"].to_numpy()
    assert abs(p.mean() - y.mean()) < 0.02
    order = np.argsort(p)
    for part in np.array_split(order, 5):  # reliability by quintile of P
        assert abs(p[part].mean() - truth[part].mean()) < 0.05


def test_out_of_fold_calibration_does_not_trust_a_memorising_classifier() -> None:
    # labels are pure noise; a unique id-like feature lets a boosted tree memorise its training
    # rows. Calibrated on rows it did not see, the probabilities stay at the base rate.
    data = _history(n=1000).with_columns(
        took_wmp=pl.Series(np.random.default_rng(5).random(8000) < 0.1),
        spend=pl.Series(np.random.default_rng(6).normal(0, 1, 8000)),
    )
    model = fit_takeup_model(data, "WMP", SETTINGS)
    p = model.predict(data)
    assert p.max() < 0.25 and abs(p.mean() - 0.1) < 0.02


def test_out_of_time_trains_only_on_outcomes_known_by_the_test_cut_off() -> None:
    history = _history()
    run = evaluate_out_of_time(history, "WMP", SETTINGS)
    test_cut = date(2026, 8, 28)
    assert run["test_cutoff_date"] == test_cut
    # label windows ending by the test cut-off: cut-offs 2026-01..05 (ending 04..08-28)
    assert run["train_cutoffs"] == 5 and run["train_rows"] == 5 * 800
    assert run["test_rows"] == 800 and run["status"] == "validated"
    assert run["auc"] > 0.8 and run["top_decile_lift"] > 3
    assert run["brier_score"] < run["brier_base_rate"]


def test_too_few_takers_is_said_and_never_a_probability() -> None:
    history = _history().with_columns(took_wmp=pl.lit(False))
    run = evaluate_out_of_time(history, "WMP", SETTINGS)
    assert run["status"].startswith("too few takers")
    scores = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "product_code": ["WMP", "CCD", "WMP"],
            "score_kind": ["lookalike", "takeup", "lookalike"],
            "propensity_score": [None, 0.2, None],
            "lookalike_rank": [0.99, None, 0.5],
        },
        schema_overrides={"propensity_score": pl.Float64, "lookalike_rank": pl.Float64},
    )
    ranked = rank_products(scores, {"WMP": 1000.0, "CCD": 100.0}, call_cost=15.0, top_k=3)
    a = ranked.filter(pl.col("customer_id") == "A")
    # the take-up product comes first (0.2 x 100 - 15 = 5 CNY); the look-alike after, no value
    assert a["product_code"].to_list() == ["CCD", "WMP"]
    assert a["expected_value_amount"][0] == pytest.approx(5.0)
    look = ranked.filter(pl.col("score_kind") == "lookalike")
    assert look["propensity_score"].is_null().all()
    assert look["expected_value_amount"].is_null().all()


def _resembling(n: int = 4000) -> pl.DataFrame:
    """``n`` customers at a cut-off; holding WMP follows the feature ``saving`` (plus noise)."""
    rng = np.random.default_rng(5)
    saving = rng.normal(size=n)
    return pl.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(n)],
            "saving": saving,
            "noise": rng.normal(size=n),
            "holds_wmp": saving + rng.normal(scale=0.5, size=n) > 1.0,
        }
    )


def _md5_sample(current: pl.DataFrame, permille: int) -> pl.DataFrame:
    """The customers whose md5 (hashlib's, lowercase hex) sorts below the sample's bound."""
    bound = sample_md5_below(permille)
    ids = [c for c in current["customer_id"] if hashlib.md5(c.encode()).hexdigest() < bound]
    return current.filter(pl.col("customer_id").is_in(ids))


def test_lookalike_learns_from_a_sample_and_scores_everyone_out_of_fold() -> None:
    """4,000 customers; the look-alike learns from the md5 sample of about 1,200 of them
    (about 600 a fold), scores all 4,000 in batches of 1,000, each with the model of the other
    fold, and still orders non-holders by ``saving``."""
    current = _resembling()
    sample = _md5_sample(current, 300)
    assert 1100 < sample.height < 1300
    settings = SETTINGS.model_copy(update={"score_batch_rows": 1000})
    raw = fit_lookalike(sample, "WMP", settings).predict(current, settings.score_batch_rows)
    assert len(raw) == 4000 and ((raw > 0) & (raw < 1)).all()
    non_holders = ~current["holds_wmp"].to_numpy()
    saving = current["saving"].to_numpy()
    rho = np.corrcoef(
        np.argsort(np.argsort(raw[non_holders])), np.argsort(np.argsort(saving[non_holders]))
    )[0, 1]
    assert rho > 0.7


def test_a_lookalike_never_scores_a_customer_with_a_model_that_saw_them() -> None:
    # a sample customer's own row changed (holding, features): their score does not move (the
    # model of their fold never saw them); another fold's customers' scores do
    current = _resembling(600)
    first = fit_lookalike(current, "WMP", SETTINGS).predict(current)
    who = current["customer_id"][0]
    changed = current.with_columns(
        holds_wmp=pl.when(pl.col("customer_id") == who)
        .then(~pl.col("holds_wmp"))
        .otherwise(pl.col("holds_wmp")),
        saving=pl.when(pl.col("customer_id") == who).then(9.0).otherwise(pl.col("saving")),
    )
    again = fit_lookalike(changed, "WMP", SETTINGS).predict(current)
    fold = customer_folds(current["customer_id"], SETTINGS.calibration_folds)
    mine = fold == fold[0]
    assert (again[mine] == first[mine]).all()
    assert (again[~mine] != first[~mine]).any()


def test_a_lookalike_scores_a_customer_the_same_in_any_part() -> None:
    current = _resembling(900)
    model = fit_lookalike(current, "WMP", SETTINGS)
    whole = model.predict(current, 1000)
    parts = [model.predict(current.slice(start, 300), 1000) for start in (0, 300, 600)]
    assert (np.concatenate(parts) == whole).all()


def test_lookalike_ranks_are_global_with_ties_by_customer() -> None:
    # WMP resemblance of five customers, D holds it: in the order (resemblance, customer)
    # B 0.2, E 0.2, A 0.5, C 0.5, D 0.9 are positions 0..4 of 5: ranks 0, 1/4, 2/4, 3/4, 1;
    # D's rank is counted, not kept. A take-up score is kept as scored, with no rank.
    con = duckdb.connect()
    scored = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "A"],
            "product_code": ["WMP"] * 5 + ["TDA"],
            "score_kind": ["lookalike"] * 5 + ["takeup"],
            "is_held": [False, False, False, True, False, False],
            "propensity_score": [None] * 5 + [0.125],
            "resemblance_score": [0.5, 0.2, 0.5, 0.9, 0.2, None],
        },
        schema_overrides={"propensity_score": pl.Float64},
    )
    con.register("cross_sell_scored", scored.to_arrow())
    body = load_sql(sql_path("lists/cross_sell_scores")).body
    stamp = {"cutoff_date": CUTOFF, "model_version": "v1", "data_stamp": None}
    got = con.execute(f"select * from ({body}) order by product_code, customer_id", stamp).pl()
    assert got.select("product_code", "customer_id", "lookalike_rank").rows() == [
        ("TDA", "A", None),
        ("WMP", "A", 0.5),
        ("WMP", "B", 0.0),
        ("WMP", "C", 0.75),
        ("WMP", "E", 0.25),
    ]
    assert got["propensity_score"].to_list() == [0.125, None, None, None, None]
    assert (got["cutoff_date"] == CUTOFF).all() and got["data_stamp"].is_null().all()


def _holders_zone(wh: duckdb.DuckDBPyConnection) -> None:
    """300 more customers, a third hold WMP and spend more at the till; no cut-off has a
    closed take-up window yet, so WMP gets a look-alike rank, never a probability."""
    rng = np.random.default_rng(1)
    for i in range(300):
        cid = f"X{i:03d}"
        wh.execute(
            "insert into hist_customers values (?, date '1980-05-01', 'EMP', 'BA', "
            "date '2020-01-01', 'A', date '2025-01-01', date '9999-12-31')",
            [cid],
        )
        if i % 3 == 0:
            _open_wmp(wh, cid)
        for month, last in [(date(2026, m, 1), date(2026, m, d)) for m, d in ((4, 30), (5, 31))]:
            n = int(rng.poisson(12 if i % 3 == 0 else 4))
            wh.execute(
                "insert into agg_customer_txn_month values (?, ?, ?, 'POS', 'POS', ?, 100)",
                [cid, month, last, n],
            )
    wh.execute(
        "create table file_ledger (business_date date, outcome varchar, received_at timestamp)"
    )
    wh.execute(
        "insert into file_ledger values (date '2026-06-30', 'loaded', timestamp '2026-07-01 02:00')"
    )


def _open_wmp(wh: duckdb.DuckDBPyConnection, cid: str) -> None:
    wh.execute(
        "insert into hist_accounts values (?, ?, 'WMP', date '2024-01-01', null, 'A', "
        "date '2025-01-01', date '9999-12-31')",
        [f"{cid}-WMP", cid],
    )


def test_lookalike_without_history_and_scores_reused_within_the_month(
    wh: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    # the next night of the month reads the stored scores instead of scoring everyone again
    _holders_zone(wh)
    xs = cfg.lists.cross_sell.model_copy(
        update={"products": ["WMP"], "min_takers": 5, "max_iter": 10}
    )
    small = cfg.model_copy(update={"lists": cfg.lists.model_copy(update={"cross_sell": xs})})
    first = run_cross_sell(wh, small, date(2026, 7, 10))
    assert first.facts["cross_sell_scores_cached"] is False
    recs = _products(wh, date(2026, 7, 10))
    assert recs.height > 150 and (recs["score_kind"] == "lookalike").all()
    assert (
        recs["propensity_score"].is_null().all() and recs["expected_value_amount"].is_null().all()
    )
    (ev,) = first.evaluation.iter_rows(named=True)
    assert ev["score_kind"] == "lookalike" and ev["status"].startswith(
        "look-alike (no probability)"
    )
    second = run_cross_sell(wh, small, date(2026, 7, 11))
    assert second.facts["cross_sell_scores_cached"] is True
    assert (
        _products(wh, date(2026, 7, 11))
        .drop("model_version")
        .sort("customer_id")
        .equals(recs.drop("model_version").sort("customer_id"))
    )


def _products(wh: duckdb.DuckDBPyConnection, day: date) -> pl.DataFrame:
    """The date's rows of ``int_cross_sell`` (run_cross_sell's ranking), without the date."""
    return wh.execute(
        "select * exclude (business_date) from int_cross_sell where business_date = ?", [day]
    ).pl()


def test_the_lookalike_learns_from_the_md5_sample_alone(
    wh: duckdb.DuckDBPyConnection, cfg: Config
) -> None:
    # 303 customers; with training_sample_customers 100 and two folds the look-alike learns
    # from the md5 sample of about 200 (ceil(1000 x 200 / 303) = 661 of 1000: md5 below
    # sample_md5_below(661)), each classifier from the sample's customers outside its fold.
    # Twenty non-holders outside the sample who open WMP move no other customer's rank (their
    # own resemblance is unchanged and still counted; their rows leave the non-holders);
    # twenty inside it change what the classifiers learn, and the others' ranks.
    _holders_zone(wh)
    xs = cfg.lists.cross_sell.model_copy(
        update={
            "products": ["WMP"],
            "min_takers": 5,
            "max_iter": 10,
            "training_sample_customers": 100,
        }
    )
    small = cfg.model_copy(update={"lists": cfg.lists.model_copy(update={"cross_sell": xs})})
    day = date(2026, 7, 10)

    def ranks() -> dict[str, float]:
        if "cross_sell_scores" in {r[0] for r in wh.execute("show tables").fetchall()}:
            wh.execute("delete from cross_sell_scores")  # scored again, not read
        run_cross_sell(wh, small, day)
        return dict(
            wh.execute("select customer_id, lookalike_rank from cross_sell_scores").fetchall()
        )

    before = ranks()
    bound = sample_md5_below(661)
    everyone = [r[0] for r in wh.execute("select customer_id from hist_customers").fetchall()]
    in_sample = {c: hashlib.md5(c.encode()).hexdigest() < bound for c in everyone}
    assert len(everyone) == 303 and 170 < sum(in_sample.values()) < 230
    outside = [c for c in sorted(before) if not in_sample[c]][:20]
    inside = [c for c in sorted(before) if in_sample[c]][:20]
    for c in outside:
        _open_wmp(wh, c)
    assert ranks() == {c: r for c, r in before.items() if c not in outside}
    for c in outside:
        wh.execute("delete from hist_accounts where account_id = ?", [f"{c}-WMP"])
    for c in inside:
        _open_wmp(wh, c)
    assert ranks() != {c: r for c, r in before.items() if c not in inside}
