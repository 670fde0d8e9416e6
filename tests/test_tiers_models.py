"""Pure-function tests of models/tiers.py: ladder, hysteresis over months, potential, migration,
call list. Every expected value is worked out by hand from the default ladder in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl
import pytest

from models.tiers import (
    STATE_COLUMNS,
    apply_credit_gate,
    apply_hysteresis,
    assign_tiers,
    build_call_list,
    flag_potential,
    migration_protection,
    select_channel_migration,
    tier_changes,
)
from pipeline.config.lists import CallListConfig
from pipeline.config.tiers import MigrationRules, PotentialRules, TiersConfig

RULES = TiersConfig()  # private, diamond, platinum, gold, mass


def _customers(**cols: list) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "customer_id": [f"C{i}" for i in range(n)],
        "contribution_amount": [0.0] * n,
        "aum_amount": [0.0] * n,
        "clv_amount": [0.0] * n,
        "is_merchant": [False] * n,
        "turnover_amount": [0.0] * n,
    }
    base.update(cols)
    return pl.DataFrame(base)


def test_ladder_takes_best_tier_met_on_any_measure_with_reasons() -> None:
    df = _customers(
        contribution_amount=[1000.0, 999.99, 20_000.0, 0.0, 0.0],
        aum_amount=[0.0, 0.0, 2_000_000.0, 6_000_000.0, 0.0],
        clv_amount=[0.0, 0.0, 0.0, 0.0, 25_000.0],
    )
    out = assign_tiers(df, RULES)
    # 1000 contribution = gold's threshold exactly; 999.99 is below it; 20k contribution and
    # 2M assets are both diamond; 6M assets is private; 25k lifetime value is platinum.
    assert out["raw_tier"].to_list() == ["gold", "mass", "diamond", "private", "platinum"]
    assert out["raw_tier_reasons"].to_list() == [
        "CONTRIBUTION_GOLD",
        "FLOOR_MASS",
        "CONTRIBUTION_DIAMOND;AUM_DIAMOND",
        "AUM_PRIVATE",
        "CLV_PLATINUM",
    ]


def test_merchant_promoted_by_turnover_despite_modest_balances() -> None:
    df = _customers(
        is_merchant=[True, True, False, True, True],
        turnover_amount=[12_000_000.0, 12_000_000.0, 50_000_000.0, 1_000_000.0, 7_600_000.0],
        clv_amount=[20_000.0, 0.0, 0.0, 0.0, -1_465.0],
        aum_amount=[10_000.0, 10_000.0, 10_000.0, 60_000.0, 0.0],
    )
    out = assign_tiers(df, RULES)
    # 12M turnover and 20k CLV: diamond rule; without the CLV only the 3M platinum rule; not a
    # merchant: no promotion; 1M turnover = gold rule, and 60k assets also gold; 7.6M turnover
    # with a negative lifetime value (counter costs) is still platinum: no CLV floor there.
    assert out["raw_tier"].to_list() == ["diamond", "platinum", "mass", "gold", "platinum"]
    assert out["raw_tier_reasons"][0] == "MERCHANT_TURNOVER_DIAMOND"
    assert out["raw_tier_reasons"][3] == "AUM_GOLD;MERCHANT_TURNOVER_GOLD"


def _run_sequence(raw_by_month: dict[date, list[float]], rules: TiersConfig) -> list[list[str]]:
    """Feed monthly contributions through assign + hysteresis; return (tier, change) per month."""
    state = pl.DataFrame(
        schema={
            "customer_id": pl.String,
            "tier": pl.String,
            "below_since": pl.Date,
            "best_rank_below": pl.Int32,
        }
    )
    seen = []
    for day, amounts in raw_by_month.items():
        raw = assign_tiers(_customers(contribution_amount=amounts), rules)
        out = apply_hysteresis(state, raw, day, rules).sort("customer_id")
        seen.append([f"{t}/{c}" for t, c in zip(out["tier"], out["tier_change"], strict=True)])
        state = out.select(STATE_COLUMNS)
    return seen


GOLD, PLAT, MASS = 1_000.0, 5_000.0, 0.0


def test_hysteresis_fast_up_slow_down_over_months() -> None:
    months = [
        date(2026, m, d) for m, d in [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31)]
    ]
    # C0: gold, platinum, then below platinum from 03-31 (gold, mass, gold, mass): 3 months
    #     after 03-31 is 06-30, so the downgrade lands on 06-30, to gold, the best raw tier seen
    #     while below; back to platinum on 07-31 at once.
    # C1: gold, then mass on 02-28 (held), gold again on 03-31 (the clock stops), mass from
    #     04-30 (held on 04-30, 05-31, 06-30), and 04-30 + 3 months = 07-30 <= 07-31: down.
    c0 = [GOLD, PLAT, GOLD, MASS, GOLD, MASS, PLAT]
    c1 = [GOLD, MASS, GOLD, MASS, MASS, MASS, MASS]
    seq = _run_sequence({m: [a, b] for m, a, b in zip(months, c0, c1, strict=True)}, RULES)
    assert [s[0] for s in seq] == [
        "gold/initial",
        "platinum/upgrade",
        "platinum/held",
        "platinum/held",
        "platinum/held",
        "gold/downgrade",
        "platinum/upgrade",
    ]
    assert [s[1] for s in seq] == [
        "gold/initial",
        "gold/held",
        "gold/same",
        "gold/held",
        "gold/held",
        "gold/held",
        "mass/downgrade",
    ]


def test_downgrade_restarts_clock_when_still_below_new_tier() -> None:
    rules = RULES.model_copy(update={"downgrade_months": 1})
    months = [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    # platinum; then gold, mass: below since 02-28, 1 month later (03-28 <= 03-31) down to gold
    # (best while below); still mass on 04-30, below gold since 03-31, 04-30 >= 04-30: mass.
    seq = _run_sequence(
        {m: [a] for m, a in zip(months, [PLAT, GOLD, MASS, MASS], strict=True)}, rules
    )
    assert [s[0] for s in seq] == [
        "platinum/initial",
        "platinum/held",
        "gold/downgrade",
        "mass/downgrade",
    ]


def test_tier_history_rows_carry_reasons() -> None:
    state = pl.DataFrame(
        {
            "customer_id": ["C0", "C1"],
            "tier": ["gold", "gold"],
            "below_since": [None, None],
            "best_rank_below": [None, None],
        },
        schema_overrides={"below_since": pl.Date, "best_rank_below": pl.Int32},
    )
    raw = assign_tiers(_customers(contribution_amount=[PLAT, GOLD, MASS]), RULES)
    out = apply_hysteresis(state, raw, date(2026, 5, 31), RULES)
    hist = tier_changes(out, date(2026, 5, 31)).sort("customer_id")
    assert hist["change_type"].to_list() == ["upgrade", "initial"]
    assert hist["from_tier"].to_list() == ["gold", None]
    assert hist["to_tier"].to_list() == ["platinum", "mass"]
    assert hist["reasons"].to_list() == ["CONTRIBUTION_PLATINUM;UPGRADE", "FLOOR_MASS;INITIAL"]


def _potential_frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["S", "G", "OLDG", "T", "L", "N", "SHORT"],
            "age": [20, 26, 31, 45, 40, 45, 45],
            "occupation": ["STU", "EMP", "EMP", "EMP", "EMP", "EMP", "EMP"],
            "education": ["SEC", "MA", "MA", "SEC", "SEC", "SEC", "SEC"],
            "inflow_trend": [None, 1.0, 1.0, 1.3, 1.0, 1.29, 3.0],
            "active_months": [12, 12, 12, 6, 12, 12, 5],
            "clv_amount": [0.0, 0.0, 0.0, 0.0, 2000.0, 1999.0, 0.0],
            # L's contribution grows by 8% of its run rate a month; N too, worth less
            "clv_run_rate_amount": [0.0, 0.0, 0.0, 50.0, 100.0, 100.0, 0.0],
            "contribution_trend_amount": [0.0, 0.0, 0.0, 0.0, 8.0, 9.0, 0.0],
        }
    )


def test_potential_flags_students_graduates_and_the_growing() -> None:
    out = flag_potential(_potential_frame(), PotentialRules())
    # SHORT: a steep trend over only 5 active months (< 6) is not evidence of growth.
    assert out["is_potential"].to_list() == [True, True, False, True, True, False, False]
    assert out["potential_reasons"].to_list() == [
        "STUDENT",
        "YOUNG_GRADUATE",
        "",
        "INFLOW_GROWTH",
        "CLV_GROWTH",
        "",
        "",
    ]
    assert out["is_growing"].to_list() == [False, False, False, True, True, False, False]


def test_protected_never_in_migration_list() -> None:
    pot = flag_potential(_potential_frame(), PotentialRules()).with_columns(
        contribution_amount=pl.lit(10.0),
        counter_online_capable_txns=pl.lit(9),
        tier=pl.lit("mass"),
        is_merchant=pl.lit(False),
    )
    extra = pl.DataFrame(
        {
            "customer_id": ["OLD", "NOAGE", "RICH", "FEW", "MER", "GOLD", "AGED59"],
            "age": [60, None, 40, 40, 40, 40, 59],
            "is_potential": [False] * 7,
            "is_growing": [False] * 7,
            "is_merchant": [False, False, False, False, True, False, False],
            "tier": ["mass"] * 5 + ["gold", "mass"],
            "contribution_amount": [10.0, 10.0, 200.01, 10.0, 10.0, 10.0, 10.0],
            "counter_online_capable_txns": [9, 9, 9, 2, 9, 9, 9],
        },
        schema_overrides={"age": pl.Int64, "counter_online_capable_txns": pl.Int32},
    )
    frame = pl.concat(
        [pot.select(extra.columns).cast(extra.schema), extra]  # type: ignore[arg-type]
    ).with_columns(
        merchant_score=pl.lit(None, dtype=pl.Float64),
        counter_cost_saving_amount=pl.col("counter_online_capable_txns") * 11.50,
        counter_fee_amount=pl.lit(0.0),
        online_fee_amount=pl.lit(0.0),
    )
    out = select_channel_migration(
        frame, MigrationRules(), window_days=90, merchant_score_cutoff=60.0
    )
    # S, G potential; T, L growing; OLD 60 (the elderly from 60); NOAGE unknown age; MER a
    # merchant; GOLD not in the eligible tiers; RICH above 200 contribution; FEW 2 < 3 counter
    # txns. OLDG (31: no longer young), N (1.29 < 1.3 trend, 1999 < 2000 lifetime value: not
    # growing), SHORT (trend on too little history) and AGED59 remain.
    assert sorted(out["customer_id"].to_list()) == ["AGED59", "N", "OLDG", "SHORT"]
    # 9 txns in 90 days = 36.5 a year, saving 11.50 each = 419.75.
    assert out["yearly_saving_amount"].to_list() == [Decimal("419.75")] * 4
    protected = {"S", "G", "T", "L", "OLD", "NOAGE", "MER"}
    assert protected.isdisjoint(out["customer_id"].to_list())


def test_call_list_only_consenting_and_by_priority() -> None:
    df = pl.DataFrame(
        {
            "customer_id": ["A", "B", "C", "D", "E", "F"],
            "marketing_consent": ["Y", "N", "Y", "Y", "Y", None],
            "tier_rank": [0, 0, 3, 4, 4, 0],
            "tier_change": ["held", "held", "upgrade", "same", "same", "held"],
            "p_alive": [0.9, 0.1, 0.9, 0.9, 0.9, 0.1],
            "clv_amount": [1.0, 9.0, 5.0, 3.0, 4.0, 9.0],
            "is_merchant": [False, False, True, False, False, False],
            "is_declared": [False, False, False, False, False, False],
            "is_potential": [False, False, False, True, True, False],
            "is_migration_candidate": [False, False, False, False, False, False],
            "next_best_product": [None, None, "WMP", None, None, None],
            "next_best_value": [None, None, 25.0, None, None, None],
            "has_default_account": [False] * 6,
        }
    )
    out = build_call_list(df, CallListConfig(), tier_count=5)
    # B and F did not consent; A retention (held in the top tier), C upgrade (before its
    # merchant and cross-sell reasons), E and D potential, E first by lifetime value.
    assert out["customer_id"].to_list() == ["A", "C", "E", "D"]
    assert out["reason_code"].to_list() == [
        "RETENTION",
        "TIER_UPGRADE",
        "POTENTIAL_NURTURE",
        "POTENTIAL_NURTURE",
    ]
    assert out["script_code"].to_list() == ["S-RET-01", "S-UPG-01", "S-POT-01", "S-POT-01"]
    assert out["call_rank"].to_list() == [1, 2, 3, 4]
    small = build_call_list(df, CallListConfig(size=1), tier_count=5)
    assert small["customer_id"].to_list() == ["A"]


def test_missing_column_named_in_domain_words() -> None:
    with pytest.raises(ValueError, match="required column aum_amount missing"):
        assign_tiers(pl.DataFrame({"customer_id": ["C1"], "contribution_amount": [1.0]}), RULES)


EMPTY_STATE = pl.DataFrame(
    schema={
        "customer_id": pl.String,
        "tier": pl.String,
        "below_since": pl.Date,
        "best_rank_below": pl.Int32,
    }
)


def _gate(frame: pl.DataFrame, previous: pl.DataFrame, day: date) -> pl.DataFrame:
    return apply_credit_gate(
        apply_hysteresis(previous, assign_tiers(frame, RULES), day, RULES), RULES
    ).sort("customer_id")


def test_defaulter_with_2m_deposits_held_at_the_floor_and_never_called() -> None:
    day = date(2026, 11, 27)
    # DEF: 2,000,000 of assets (diamond from 1M) and a loan in default; was diamond yesterday.
    # NEW: the same on a first night. OK: the same assets, no default: diamond.
    frame = _customers(
        customer_id=["DEF", "NEW", "OK"],
        aum_amount=[2_000_000.0] * 3,
        contribution_amount=[900.0] * 3,
        has_default_account=[True, True, False],
        has_watch_account=[False, True, False],
    )
    prev = pl.DataFrame(
        {"customer_id": ["DEF", "OK"], "tier": ["diamond", "gold"]},
        schema_overrides={"customer_id": pl.String, "tier": pl.String},
    ).with_columns(below_since=pl.lit(None, dtype=pl.Date), best_rank_below=pl.lit(None, pl.Int32))
    out = _gate(frame, prev, day)
    assert out["tier"].to_list() == ["mass", "mass", "diamond"]
    assert out["tier_change"].to_list() == ["downgrade", "initial", "upgrade"]
    assert out["tier_reasons"].to_list() == [
        "AUM_DIAMOND;CREDIT_HOLD",
        "AUM_DIAMOND;CREDIT_HOLD",
        "AUM_DIAMOND;UPGRADE",
    ]
    assert out["raw_tier"].to_list() == ["diamond"] * 3  # what they would qualify for
    assert out["below_since"].null_count() == 3
    # On the call list the defaulters would qualify for every marketing reason (held top tier
    # with a low p_alive, upgrade, merchant, cross-sell, potential, migration): none is given.
    calls = pl.DataFrame(
        {
            "customer_id": ["DEF", "NEW", "OK"],
            "marketing_consent": ["Y"] * 3,
            "tier_rank": [0, 0, 1],
            "tier_change": ["held", "upgrade", "upgrade"],
            "p_alive": [0.1, 0.1, 0.9],
            "clv_amount": [9.0, 9.0, 1.0],
            "is_merchant": [True] * 3,
            "is_declared": [False] * 3,
            "is_potential": [True] * 3,
            "is_migration_candidate": [True] * 3,
            "next_best_product": ["WMP"] * 3,
            "next_best_value": [25.0] * 3,
            "has_default_account": [True, True, False],
        }
    )
    out_calls = build_call_list(calls, CallListConfig(), tier_count=5)
    assert out_calls["customer_id"].to_list() == ["OK"]
    assert out_calls["reason_code"].to_list() == ["TIER_UPGRADE"]


def test_watch_list_customer_is_not_upgraded_but_can_go_down() -> None:
    day = date(2026, 11, 27)
    # UP: gold yesterday, 400,000 of assets today (platinum from 300,000): stays gold.
    # DOWN: gold yesterday, nothing today: below gold, held by hysteresis as usual.
    # FIRST: 400,000 on a first night: a first tier is an upgrade from nothing: the floor.
    frame = _customers(
        customer_id=["DOWN", "FIRST", "UP"],
        aum_amount=[0.0, 400_000.0, 400_000.0],
        has_default_account=[False] * 3,
        has_watch_account=[True] * 3,
    )
    prev = pl.DataFrame(
        {"customer_id": ["DOWN", "UP"], "tier": ["gold", "gold"]},
    ).with_columns(below_since=pl.lit(None, dtype=pl.Date), best_rank_below=pl.lit(None, pl.Int32))
    out = _gate(frame, prev, day)
    assert out["tier"].to_list() == ["gold", "mass", "gold"]
    assert out["tier_change"].to_list() == ["held", "initial", "same"]
    assert out["tier_reasons"].to_list() == [
        "FLOOR_MASS;HELD_PENDING_DOWNGRADE;CREDIT_WATCH",
        "AUM_PLATINUM;CREDIT_WATCH",
        "AUM_PLATINUM;CREDIT_WATCH",
    ]
    assert out["below_since"].to_list() == [day, None, None]


def test_negative_contribution_upgrade_on_assets_is_visible() -> None:
    # NEG: 60,000 of assets (gold from 50,000) and -50 contribution: gold, flagged.
    # POS: the same with +50: gold, no flag. MER: negative but promoted by turnover: no flag.
    frame = _customers(
        customer_id=["MER", "NEG", "POS"],
        aum_amount=[0.0, 60_000.0, 60_000.0],
        contribution_amount=[-50.0, -50.0, 50.0],
        is_merchant=[True, False, False],
        turnover_amount=[1_500_000.0, 0.0, 0.0],
        has_default_account=[False] * 3,
        has_watch_account=[False] * 3,
    )
    out = _gate(frame, EMPTY_STATE, date(2026, 11, 27))
    assert out["tier"].to_list() == ["gold", "gold", "gold"]
    assert out["tier_reasons"].to_list() == [
        "MERCHANT_TURNOVER_GOLD;INITIAL",
        "AUM_GOLD;INITIAL;UPGRADE_ON_ASSETS_NEGATIVE_CONTRIBUTION",
        "AUM_GOLD;INITIAL",
    ]


def test_new_deposit_upgrades_at_once_a_drop_waits_the_hysteresis_months() -> None:
    # 12-month average assets (aum) and the month-to-date average daily balance (recent):
    #   01-31 10k / 10k        mass initial
    #   02-28 20k / 2M         a 2M deposit this month: diamond at once (RECENT_AUM_DIAMOND)
    #   03-31 180k / 2M        diamond, same (the 12-month average lags, the recent does not)
    #   04-30 200k / 0         withdrawn: raw gold (200k >= 50k) from 04-30: held ...
    #   05-31, 06-30           ... held (04-30 + 3 months = 07-30)
    #   07-31 170k / 0         07-30 <= 07-31: down to gold, the best raw tier while below.
    days = [
        date(2026, m, d) for m, d in [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31), (6, 30), (7, 31)]
    ]
    aum = [10e3, 20e3, 180e3, 200e3, 190e3, 180e3, 170e3]
    recent = [10e3, 2e6, 2e6, 0.0, 0.0, 0.0, 0.0]
    state = EMPTY_STATE
    seen = []
    for day, a, r in zip(days, aum, recent, strict=True):
        frame = _customers(
            aum_amount=[a],
            recent_aum_amount=[r],
            has_default_account=[False],
            has_watch_account=[False],
        )
        out = _gate(frame, state, day)
        seen.append((out["tier"][0], out["tier_change"][0], out["raw_tier_reasons"][0]))
        state = out.select(STATE_COLUMNS)
    assert seen == [
        ("mass", "initial", "FLOOR_MASS"),
        ("diamond", "upgrade", "RECENT_AUM_DIAMOND"),
        ("diamond", "same", "RECENT_AUM_DIAMOND"),
        ("diamond", "held", "AUM_GOLD"),
        ("diamond", "held", "AUM_GOLD"),
        ("diamond", "held", "AUM_GOLD"),
        ("gold", "downgrade", "AUM_GOLD"),
    ]


def test_migration_saving_is_net_of_fees_and_merchant_like_protected() -> None:
    # Every customer: 9 online-capable counter transfers (TRO) in a 90-day window, counter
    # 12.00 - online 0.30 = 11.70 saved each: 105.30 in the window, x 365/90 = 427.05 a year.
    # FEES: paid 15 a transfer at the counter (135; free online): 547.50 forgone, net -120.45:
    #       dropped. PART: 5 a transfer (45): 182.50 forgone, net 244.55. ONLFEE: 45 at the
    #       counter, 2 online (18): 27 -> 109.50 forgone, net 317.55.
    # MERLIKE: scorecard 75 >= cutoff 60, not detected (under the turnover floor): protected.
    # LOW: 59.9 < 60: a candidate, net 427.05.
    ids = ["FEES", "LOW", "MERLIKE", "ONLFEE", "PART"]
    frame = pl.DataFrame(
        {
            "customer_id": ids,
            "tier": ["mass"] * 5,
            "contribution_amount": [10.0] * 5,
            "counter_online_capable_txns": [9] * 5,
            "counter_cost_saving_amount": [105.30] * 5,
            "counter_fee_amount": [135.0, 0.0, 0.0, 45.0, 45.0],
            "online_fee_amount": [0.0, 0.0, 0.0, 18.0, 0.0],
            "age": [40] * 5,
            "is_potential": [False] * 5,
            "is_growing": [False] * 5,
            "is_merchant": [False] * 5,
            "merchant_score": [None, 59.9, 75.0, None, None],
        }
    )
    protection = migration_protection(frame, MigrationRules(), 60.0)
    assert protection["migration_protection"].to_list() == ["", "", "MERCHANT_LIKE", "", ""]
    out = select_channel_migration(
        frame, MigrationRules(), window_days=90, merchant_score_cutoff=60.0
    )
    assert out["customer_id"].to_list() == ["LOW", "ONLFEE", "PART"]
    assert out["yearly_cost_saving_amount"].to_list() == [Decimal("427.05")] * 3
    assert out["yearly_fee_forgone_amount"].to_list() == [
        Decimal("0.00"),
        Decimal("109.50"),
        Decimal("182.50"),
    ]
    assert out["yearly_saving_amount"].to_list() == [
        Decimal("427.05"),
        Decimal("317.55"),
        Decimal("244.55"),
    ]


def test_cross_sell_calls_go_by_expected_value_and_only_when_worth_the_call() -> None:
    # next_best_value = P(take-up) x product contribution - call cost: a call worth less than
    # it costs is no reason to call; among the rest the most valuable call comes first, whatever
    # the lifetime value; a look-alike rank (no value) is never a reason.
    n = 4
    df = pl.DataFrame(
        {
            "customer_id": ["LOW", "HIGH", "NEG", "LOOK"],
            "marketing_consent": ["Y"] * n,
            "tier_rank": [4] * n,
            "tier_change": ["same"] * n,
            "p_alive": [0.9] * n,
            "clv_amount": [900.0, 1.0, 5000.0, 5000.0],
            "is_merchant": [False] * n,
            "is_declared": [False] * n,
            "is_potential": [False] * n,
            "is_migration_candidate": [False] * n,
            "next_best_product": ["TDA", "WMP", "INS", "CCD"],
            "next_best_value": [3.0, 40.0, -2.0, None],
            "has_default_account": [False] * n,
        }
    )
    out = build_call_list(df, CallListConfig(), tier_count=5)
    assert out["customer_id"].to_list() == ["HIGH", "LOW"]
    assert set(out["reason_code"]) == {"CROSS_SELL"}


def test_inflow_growth_is_smoothed_sized_and_sticky() -> None:
    # the closed-month signal (sql/tiers/int_growth_signals.sql) replaces the daily trend:
    # UP grows 1.5x with CNY 5,000 a month; SMALL grows 3x on CNY 300; FEW has inflow in 4 of
    # 6 months; HELD was flagged last month and has fallen back to 1.2 (kept: above the exit
    # threshold 1.0); FELL was flagged and is at 0.95 (dropped); NEW at 1.2 (not flagged:
    # below the entry threshold 1.3).
    frame = pl.DataFrame(
        {
            "customer_id": ["UP", "SMALL", "FEW", "HELD", "FELL", "NEW"],
            "age": [45] * 6,
            "occupation": ["EMP"] * 6,
            "education": ["SEC"] * 6,
            "inflow_trend": [9.0] * 6,  # the unsmoothed daily trend is ignored
            "active_months": [12] * 6,
            "clv_amount": [0.0] * 6,
            "clv_run_rate_amount": [0.0] * 6,
            "contribution_trend_amount": [0.0] * 6,
            "inflow_growth_ratio": [1.5, 3.0, 1.5, 1.2, 0.95, 1.2],
            "inflow_recent_month_amount": [5000.0, 300.0, 5000.0, 5000.0, 5000.0, 5000.0],
            "inflow_months": [6, 6, 4, 6, 6, 6],
        }
    )
    previous = pl.DataFrame(
        {"customer_id": ["HELD", "FELL"], "potential_reasons": ["INFLOW_GROWTH"] * 2}
    )
    out = flag_potential(frame, PotentialRules(), previous)
    flagged = out.filter("is_growing")["customer_id"].to_list()
    assert flagged == ["UP", "HELD"]
    # without a previous date nobody is held
    assert flag_potential(frame, PotentialRules()).filter("is_growing")[
        "customer_id"
    ].to_list() == ["UP"]


def test_contribution_growth_enters_at_its_share_and_is_kept_while_it_still_grows() -> None:
    # run rate 100 a month. UP grows 9 a month (>= 8%: flagged); SLOW 5 (not); HELD was
    # flagged and still grows by 0.5 (kept: exit at 0); FELL was flagged and now shrinks
    # (dropped); LOSS loses money and "grows" (a negative run rate is never growth); POOR
    # grows but is worth less than the minimum lifetime value.
    frame = pl.DataFrame(
        {
            "customer_id": ["UP", "SLOW", "HELD", "FELL", "LOSS", "POOR"],
            "age": [45] * 6,
            "occupation": ["EMP"] * 6,
            "education": ["SEC"] * 6,
            "inflow_trend": [None] * 6,
            "active_months": [12] * 6,
            "clv_amount": [5000.0] * 5 + [1000.0],
            "clv_run_rate_amount": [100.0, 100.0, 100.0, 100.0, -100.0, 100.0],
            "contribution_trend_amount": [9.0, 5.0, 0.5, -1.0, 10.0, 9.0],
        },
        schema_overrides={"inflow_trend": pl.Float64},
    )
    previous = pl.DataFrame(
        {"customer_id": ["HELD", "FELL"], "potential_reasons": ["CLV_GROWTH"] * 2}
    )
    out = flag_potential(frame, PotentialRules(), previous)
    assert out["potential_reasons"].to_list() == ["CLV_GROWTH", "", "CLV_GROWTH", "", "", ""]
    off = flag_potential(frame, PotentialRules(min_contribution_trend_share=None), previous)
    assert not off["is_growing"].any()
