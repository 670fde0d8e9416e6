"""Tiers with care: the tier ladder with reasons, hysteresis, potential value, channel migration
and the call-centre list.

Pure functions over polars frames; the settings are ``models.params.tiers`` (the ``tiers``
section of the configuration and ``lists.call_list``). Reason codes are upper-case words
joined by ``;`` so that a CRM system reads them without a Parquet list type, e.g.
``AUM_DIAMOND;CONTRIBUTION_PLATINUM``.

Reason codes
------------
``AUM_<TIER>``, ``CONTRIBUTION_<TIER>``, ``CLV_<TIER>``
    The customer meets that tier's threshold on assets, contribution or lifetime value.
``MERCHANT_TURNOVER_<TIER>``
    A merchant promoted to at least that tier by turnover (and lifetime value).
``FLOOR_<TIER>``
    No threshold met: the last tier of the ladder.
``RECENT_AUM_<TIER>``
    The month-to-date average daily balance of assets meets that tier's assets threshold while
    the 12-month average does not (the fast path of upgrades).
``INITIAL``, ``UPGRADE``, ``DOWNGRADE_AFTER_<N>M``, ``HELD_PENDING_DOWNGRADE``
    Hysteresis: first tier, an upgrade (at once), a downgrade after N months below, or a tier
    kept while the customer has been below it for less than the configured months.
``CREDIT_HOLD``
    A loan or card account in default at the date: held at the last tier of the ladder.
``CREDIT_WATCH``
    A loan or card account on the watch list (30+ days past due, not in default): not upgraded.
``UPGRADE_ON_ASSETS_NEGATIVE_CONTRIBUTION``
    Upgraded (or first tiered) above the floor on assets or lifetime value while the yearly
    contribution is negative.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from models.params.tiers import CallListConfig, MigrationRules, PotentialRules, TiersConfig

SEP = ";"


def require_columns(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    """Raise ValueError naming the first column ``what`` lacks."""
    for col in columns:
        if col not in frame.columns:
            raise ValueError(f"{what}: required column {col} missing")


def _join_codes(exprs: Sequence[pl.Expr]) -> pl.Expr:
    """Concatenate optional reason codes (null = absent) with ``SEP``."""
    return pl.concat_list([e.cast(pl.String) for e in exprs]).list.drop_nulls().list.join(SEP)


def _amount(col: str) -> pl.Expr:
    return pl.col(col).cast(pl.Float64).fill_null(0.0)


def assign_tiers(customers: pl.DataFrame, rules: TiersConfig) -> pl.DataFrame:
    """Give each customer one raw tier, with the reasons that decided it.

    The raw tier is the best tier of the ladder any one of whose thresholds (contribution, assets,
    lifetime value) the customer meets; a merchant meeting a promotion rule gets at least the
    rule's tier. Hysteresis (:func:`apply_hysteresis`) turns the raw tier into the effective one.

    Parameters
    ----------
    customers
        One row per customer_id with ``contribution_amount``, ``aum_amount``, ``clv_amount``,
        ``is_merchant`` and ``turnover_amount`` (nulls count as zero / not a merchant), and
        optionally ``recent_aum_amount``: the month-to-date average daily balance of assets,
        which meets the assets thresholds as well as the 12-month ``aum_amount`` does. A new
        deposit lifts the raw tier at once (hysteresis upgrades at once); a drop lowers it only
        when both averages are below, and hysteresis then waits its months.
    rules
        The tiers section of the configuration.

    Returns
    -------
    pl.DataFrame
        customers plus ``raw_tier``, ``raw_tier_rank`` (0 = best) and ``raw_tier_reasons``.

    Examples
    --------
    >>> from models.params.tiers import TiersConfig
    >>> df = pl.DataFrame({"customer_id": ["C1"], "contribution_amount": [1500.0],
    ...     "aum_amount": [10.0], "clv_amount": [0.0], "is_merchant": [False],
    ...     "turnover_amount": [0.0]})
    >>> assign_tiers(df, TiersConfig())["raw_tier"].to_list()
    ['gold']
    """
    require_columns(
        customers,
        [
            "customer_id",
            "contribution_amount",
            "aum_amount",
            "clv_amount",
            "is_merchant",
            "turnover_amount",
        ],
        "assign_tiers",
    )
    floor = len(rules.ladder) - 1
    measures = {
        "CONTRIBUTION": ("contribution_amount", "min_contribution_amount"),
        "AUM": ("aum_amount", "min_aum_amount"),
        "CLV": ("clv_amount", "min_clv_amount"),
    }
    if "recent_aum_amount" in customers.columns:
        measures["RECENT_AUM"] = ("recent_aum_amount", "min_aum_amount")
    # Best tier met on each measure: the lowest rank whose threshold the amount reaches.
    rank_by: dict[str, pl.Expr] = {}
    for code, (col, attr) in measures.items():
        expr: pl.Expr = pl.lit(None, dtype=pl.Int32)
        for rank in range(floor - 1, -1, -1):
            threshold: Decimal | None = getattr(rules.ladder[rank], attr)
            if threshold is not None:
                expr = pl.when(_amount(col) >= float(threshold)).then(pl.lit(rank)).otherwise(expr)
        rank_by[code] = expr.cast(pl.Int32)
    is_merchant = pl.col("is_merchant").fill_null(False)
    promo: pl.Expr = pl.lit(None, dtype=pl.Int32)
    for rule in sorted(rules.merchant_promotions, key=lambda r: -rules.tier_names.index(r.tier)):
        meets = is_merchant & (_amount("turnover_amount") >= float(rule.min_turnover_amount))
        if rule.min_clv_amount is not None:
            meets = meets & (_amount("clv_amount") >= float(rule.min_clv_amount))
        promo = pl.when(meets).then(pl.lit(rules.tier_names.index(rule.tier))).otherwise(promo)
    rank_by["MERCHANT_TURNOVER"] = promo.cast(pl.Int32)

    tier_of = dict(enumerate(rules.tier_names))
    out = customers.with_columns(
        **{f"_rank_{code}": expr for code, expr in rank_by.items()}
    ).with_columns(
        raw_tier_rank=pl.min_horizontal(
            *[pl.col(f"_rank_{c}") for c in rank_by], pl.lit(floor, dtype=pl.Int32)
        ).cast(pl.Int32)
    )
    out = out.with_columns(
        raw_tier=pl.col("raw_tier_rank").replace_strict(tier_of, return_dtype=pl.String)
    )

    def decided(code: str) -> pl.Expr:
        hit = pl.col(f"_rank_{code}") == pl.col("raw_tier_rank")
        if code == "RECENT_AUM":  # named only when the 12-month average does not reach it
            hit = hit & (pl.col("_rank_AUM") != pl.col("raw_tier_rank")).fill_null(True)
        return hit

    reason_exprs = [
        pl.when(decided(code)).then(pl.lit(f"{code}_") + pl.col("raw_tier").str.to_uppercase())
        for code in rank_by
    ]
    out = out.with_columns(raw_tier_reasons=_join_codes(reason_exprs)).with_columns(
        raw_tier_reasons=pl.when(pl.col("raw_tier_reasons") == "")
        .then(pl.lit("FLOOR_") + pl.col("raw_tier").str.to_uppercase())
        .otherwise(pl.col("raw_tier_reasons"))
    )
    return out.drop([f"_rank_{c}" for c in rank_by])


def flag_potential(
    customers: pl.DataFrame, rules: PotentialRules, previous: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Flag the customers whose value is ahead of them: future targets, never low-value.

    A student or a young graduate (age at most ``max_age``), a customer whose inflows grow
    (``inflow_trend`` at least ``min_inflow_trend``), or one whose contribution grows
    (:func:`_contribution_growth`).

    The inflow trend is smoothed when the frame carries the closed-month signal of
    ``sql/tiers/int_growth_signals.sql`` (``inflow_growth_ratio``: the recent closed months'
    inflow over the months before, ``inflow_recent_month_amount``, ``inflow_months``): then
    INFLOW_GROWTH needs that ratio at least ``min_inflow_trend``, at least
    ``min_trend_month_amount`` coming in a month and inflow in ``min_trend_active_months`` of
    the months; a customer flagged INFLOW_GROWTH on the previous date (``previous``:
    ``customer_id``, ``potential_reasons``) keeps it while the ratio stays at or above
    ``exit_inflow_trend`` (hysteresis: noise around the threshold does not flip the flag).

    Parameters
    ----------
    customers
        One row per customer_id with ``age``, ``occupation``, ``education``, ``inflow_trend``
        (recent over earlier monthly inflow; null when there is no earlier inflow),
        ``clv_amount``, ``clv_run_rate_amount`` and ``contribution_trend_amount`` (the clv
        stage's run rate and shrunk trend, CNY a month).
    rules
        ``tiers.potential`` of the configuration.

    Returns
    -------
    pl.DataFrame
        customers plus ``is_potential``, ``is_growing`` and ``potential_reasons``
        (``STUDENT``, ``YOUNG_GRADUATE``, ``INFLOW_GROWTH``, ``CLV_GROWTH``; empty when none).
    """
    require_columns(
        customers,
        [
            "customer_id",
            "age",
            "occupation",
            "education",
            "inflow_trend",
            "clv_amount",
            "clv_run_rate_amount",
            "contribution_trend_amount",
        ],
        "flag_potential",
    )
    young = pl.col("age").is_not_null() & (pl.col("age") <= rules.max_age)
    student = young & pl.col("occupation").is_in(rules.student_occupations).fill_null(False)
    graduate = (
        young & ~student & pl.col("education").is_in(rules.graduate_educations).fill_null(False)
    )
    smoothed = "inflow_growth_ratio" in customers.columns
    was_growing = _flagged_before(previous, "INFLOW_GROWTH") if smoothed else pl.lit(False)
    if rules.min_inflow_trend is None:
        inflow: pl.Expr = pl.lit(False)
    elif smoothed:
        ratio = pl.col("inflow_growth_ratio").cast(pl.Float64)
        threshold = (
            pl.when(was_growing)
            .then(pl.lit(rules.exit_inflow_trend or rules.min_inflow_trend))
            .otherwise(pl.lit(rules.min_inflow_trend))
        )
        inflow = (
            (ratio >= threshold)
            & (pl.col("inflow_months") >= rules.min_trend_active_months)
            & (
                pl.col("inflow_recent_month_amount").cast(pl.Float64)
                >= float(rules.min_trend_month_amount)
            )
        ).fill_null(False)
    else:
        inflow = (
            (pl.col("inflow_trend").cast(pl.Float64) >= rules.min_inflow_trend)
            & (pl.col("active_months") >= rules.min_trend_active_months)
        ).fill_null(False)
    clv_growth = _contribution_growth(customers, rules, previous)
    return customers.with_columns(
        is_potential=student | graduate | inflow | clv_growth,
        is_growing=inflow | clv_growth,
        potential_reasons=_join_codes(
            [
                pl.when(student).then(pl.lit("STUDENT")),
                pl.when(graduate).then(pl.lit("YOUNG_GRADUATE")),
                pl.when(inflow).then(pl.lit("INFLOW_GROWTH")),
                pl.when(clv_growth).then(pl.lit("CLV_GROWTH")),
            ]
        ),
    )


def _flagged_before(previous: pl.DataFrame | None, reason: str) -> pl.Expr:
    """Whether the customer carried the potential ``reason`` on the previous date
    (``previous``: ``customer_id``, ``potential_reasons``; none: nobody did)."""
    if previous is None:
        return pl.lit(False)
    before = previous.filter(pl.col("potential_reasons").fill_null("").str.contains(reason))
    return pl.col("customer_id").is_in(before["customer_id"].implode())


def _contribution_growth(
    customers: pl.DataFrame, rules: PotentialRules, previous: pl.DataFrame | None
) -> pl.Expr:
    """CLV_GROWTH: a positive run rate growing by at least ``min_contribution_trend_share`` of
    itself a month (the shrunk trend of the clv stage, moved once a month by the closed
    months), with a lifetime value of at least ``min_growing_clv_amount``; a customer flagged
    on the previous date keeps it while the trend stays at or above
    ``exit_contribution_trend_share`` of the run rate."""
    if rules.min_contribution_trend_share is None:
        return pl.lit(False)
    was = _flagged_before(previous, "CLV_GROWTH")
    entry, exit_ = rules.min_contribution_trend_share, rules.exit_contribution_trend_share
    share = pl.when(was).then(pl.lit(entry if exit_ is None else exit_)).otherwise(pl.lit(entry))
    run_rate = _amount("clv_run_rate_amount")
    return (
        (run_rate > 0)
        & (_amount("contribution_trend_amount") >= share * run_rate)
        & (_amount("clv_amount") >= float(rules.min_growing_clv_amount))
    ).fill_null(False)


STATE_COLUMNS = ["customer_id", "tier", "below_since", "best_rank_below"]
"""What hysteresis carries from one business date to the next, per customer."""

LAST_COLUMNS = ["tier", "below_since", "best_rank_below", "potential_reasons"]
"""What a customer's row of the previous date brings to :func:`customer_tiers`, each as
``last_<column>``: the hysteresis state and the potential flags."""


def customer_tiers(
    customers: pl.DataFrame,
    business_date: date,
    rules: TiersConfig,
    merchant_score_cutoff: float,
) -> pl.DataFrame:
    """Each customer's tier of the date, from that customer's row alone: potential flags,
    raw tier, hysteresis, credit gate and migration protection.

    Parameters
    ----------
    customers
        One row per customer_id with the columns of :func:`flag_potential`,
        :func:`assign_tiers`, :func:`apply_credit_gate` and :func:`migration_protection`, and
        the customer's row of the previous date as ``last_`` + :data:`LAST_COLUMNS`
        (``last_tier`` null: no previous row).
    business_date
        The date being computed.
    rules
        The tiers section of the configuration.
    merchant_score_cutoff
        ``merchants.score_cutoff``.

    Returns
    -------
    pl.DataFrame
        customers (without the ``last_`` columns) plus the columns those functions add.
    """
    last = [f"last_{c}" for c in LAST_COLUMNS]
    require_columns(customers, ["customer_id", *last], "customer_tiers")
    previous = customers.filter(pl.col("last_tier").is_not_null()).select(
        "customer_id", *[pl.col(f"last_{c}").alias(c) for c in LAST_COLUMNS]
    )
    current = customers.drop(last)
    flagged = flag_potential(
        current, rules.potential, previous.select("customer_id", "potential_reasons")
    )
    tiers = apply_credit_gate(
        apply_hysteresis(
            previous.select(STATE_COLUMNS), assign_tiers(flagged, rules), business_date, rules
        ),
        rules,
    )
    return migration_protection(tiers, rules.migration, merchant_score_cutoff)


def apply_hysteresis(
    previous: pl.DataFrame, current: pl.DataFrame, business_date: date, rules: TiersConfig
) -> pl.DataFrame:
    """Fast up, slow down: turn today's raw tiers into effective tiers.

    An upgrade (raw tier better than yesterday's effective tier) takes effect at once. A raw
    tier below the effective one starts a clock (``below_since``); only when the customer has
    stayed below for ``downgrade_months`` calendar months does the tier come down, to the best
    raw tier seen while below (they stayed below the old tier, not below that one). A raw tier
    back at or above the effective one stops the clock.

    Parameters
    ----------
    previous
        The last known state per customer (``customer_id``, ``tier``, ``below_since``,
        ``best_rank_below``), e.g. the previous business date's rows; may be empty. A tier no
        longer on the ladder counts as no previous tier.
    current
        Output of :func:`assign_tiers` (``customer_id``, ``raw_tier_rank``,
        ``raw_tier_reasons``) for ``business_date``.
    business_date
        The date being computed.
    rules
        The tiers section (ladder and ``downgrade_months``).

    Returns
    -------
    pl.DataFrame
        current plus ``tier``, ``tier_rank``, ``tier_change`` (``initial``, ``upgrade``,
        ``downgrade``, ``held``, ``same``), ``tier_reasons``, ``previous_tier``,
        ``below_since`` and ``best_rank_below``.
    """
    require_columns(previous, STATE_COLUMNS, "apply_hysteresis (previous state)")
    require_columns(
        current, ["customer_id", "raw_tier_rank", "raw_tier_reasons"], "apply_hysteresis"
    )
    rank_of = {name: i for i, name in enumerate(rules.tier_names)}
    tier_of = dict(enumerate(rules.tier_names))
    prev = previous.select(
        pl.col("customer_id"),
        pl.col("tier").alias("previous_tier"),
        pl.col("tier")
        .replace_strict(rank_of, default=None, return_dtype=pl.Int32)
        .alias("_prev_rank"),
        pl.col("below_since").cast(pl.Date).alias("_prev_below_since"),
        pl.col("best_rank_below").cast(pl.Int32).alias("_prev_best_below"),
    )
    df = current.join(prev, on="customer_id", how="left")
    raw = pl.col("raw_tier_rank")
    prev_rank = pl.col("_prev_rank")
    is_below = prev_rank.is_not_null() & (raw > prev_rank)
    below_since = (
        pl.when(is_below)
        .then(pl.coalesce(pl.col("_prev_below_since"), pl.lit(business_date)))
        .otherwise(pl.lit(None, dtype=pl.Date))
    )
    best_below = (
        pl.when(is_below)
        .then(pl.min_horizontal(pl.col("_prev_best_below"), raw))
        .otherwise(pl.lit(None, dtype=pl.Int32))
    )
    months = rules.downgrade_months
    due = is_below & (pl.col("below_since").dt.offset_by(f"{months}mo") <= pl.lit(business_date))
    df = df.with_columns(below_since=below_since, best_rank_below=best_below.cast(pl.Int32))
    change = (
        pl.when(prev_rank.is_null())
        .then(pl.lit("initial"))
        .when(raw < prev_rank)
        .then(pl.lit("upgrade"))
        .when(raw == prev_rank)
        .then(pl.lit("same"))
        .when(due)
        .then(pl.lit("downgrade"))
        .otherwise(pl.lit("held"))
    )
    df = df.with_columns(tier_change=change)
    rank = (
        pl.when(pl.col("tier_change") == "downgrade")
        .then(pl.col("best_rank_below"))
        .when(pl.col("tier_change") == "held")
        .then(prev_rank)
        .otherwise(raw)
        .cast(pl.Int32)
    )
    df = df.with_columns(tier_rank=rank).with_columns(
        tier=pl.col("tier_rank").replace_strict(tier_of, return_dtype=pl.String),
        tier_reasons=pl.concat_str(
            [
                pl.col("raw_tier_reasons"),
                pl.when(pl.col("tier_change") == "initial")
                .then(pl.lit("INITIAL"))
                .when(pl.col("tier_change") == "upgrade")
                .then(pl.lit("UPGRADE"))
                .when(pl.col("tier_change") == "downgrade")
                .then(pl.lit(f"DOWNGRADE_AFTER_{months}M"))
                .when(pl.col("tier_change") == "held")
                .then(pl.lit("HELD_PENDING_DOWNGRADE")),
            ],
            separator=SEP,
            ignore_nulls=True,
        ),
    )
    # After a downgrade the clock restarts if the raw tier is still below the new tier.
    df = df.with_columns(
        below_since=pl.when(pl.col("tier_change") == "downgrade")
        .then(
            pl.when(raw > pl.col("tier_rank"))
            .then(pl.lit(business_date))
            .otherwise(pl.lit(None, dtype=pl.Date))
        )
        .otherwise(pl.col("below_since")),
        best_rank_below=pl.when(pl.col("tier_change") == "downgrade")
        .then(pl.when(raw > pl.col("tier_rank")).then(raw).otherwise(pl.lit(None, dtype=pl.Int32)))
        .otherwise(pl.col("best_rank_below"))
        .cast(pl.Int32),
    )
    return df.drop(["_prev_rank", "_prev_below_since", "_prev_best_below"])


CREDIT_COLUMNS = ["has_default_account", "has_watch_account"]
"""The credit flags at the business date (economics.credit staging of loans and cards)."""


def apply_credit_gate(tiers: pl.DataFrame, rules: TiersConfig) -> pl.DataFrame:
    """Hold defaulters at the floor, stop upgrades on the watch list, flag upgrades on assets
    of a customer whose contribution is negative.

    - ``has_default_account`` (a loan or card 90+ days past due or in a default status): the
      tier is the last of the ladder at once, whatever the hysteresis (``CREDIT_HOLD``); a
      customer whose previous tier was higher shows ``tier_change = 'downgrade'``. The
      hysteresis clock is cleared: once cured, the customer goes up at once like any upgrade.
    - ``has_watch_account`` (30+ days past due, not in default): the tier is at most the
      previous tier (the floor when there is none: a first tier is an upgrade from nothing);
      a blocked upgrade shows ``tier_change = 'same'`` (``'initial'`` on a first tier). Every
      watch-list customer carries ``CREDIT_WATCH``; downgrades go on as hysteresis decides.
    - a negative ``contribution_amount`` on an upgrade or first tier above the floor not
      decided by merchant turnover: the tier stands (wealth tiers are defined on assets) and
      ``UPGRADE_ON_ASSETS_NEGATIVE_CONTRIBUTION`` makes it visible.

    Parameters
    ----------
    tiers
        Output of :func:`apply_hysteresis` with ``has_default_account``, ``has_watch_account``
        and ``contribution_amount``.
    rules
        The tiers section (the ladder).

    Returns
    -------
    pl.DataFrame
        tiers with ``tier``, ``tier_rank``, ``tier_change``, ``tier_reasons``, ``below_since``
        and ``best_rank_below`` after the gate.

    Examples
    --------
    >>> df = pl.DataFrame({"customer_id": ["C1"], "contribution_amount": [900.0],
    ...     "aum_amount": [2_000_000.0], "clv_amount": [0.0], "is_merchant": [False],
    ...     "turnover_amount": [0.0], "has_default_account": [True],
    ...     "has_watch_account": [False]})
    >>> rules = TiersConfig()
    >>> prev = pl.DataFrame(schema={"customer_id": pl.String, "tier": pl.String,
    ...     "below_since": pl.Date, "best_rank_below": pl.Int32})
    >>> t = apply_hysteresis(prev, assign_tiers(df, rules), date(2026, 11, 27), rules)
    >>> apply_credit_gate(t, rules).select("tier", "tier_reasons").row(0)
    ('mass', 'AUM_DIAMOND;CREDIT_HOLD')
    """
    require_columns(
        tiers,
        [
            "customer_id",
            "tier_rank",
            "tier_change",
            "tier_reasons",
            "previous_tier",
            "raw_tier_rank",
            "raw_tier_reasons",
            "contribution_amount",
            *CREDIT_COLUMNS,
        ],
        "apply_credit_gate",
    )
    floor = len(rules.ladder) - 1
    rank_of = {name: i for i, name in enumerate(rules.tier_names)}
    tier_of = dict(enumerate(rules.tier_names))
    prev_rank = pl.col("previous_tier").replace_strict(rank_of, default=None, return_dtype=pl.Int32)
    default = pl.col("has_default_account").fill_null(False)
    watch = ~default & pl.col("has_watch_account").fill_null(False)
    cap = pl.coalesce(prev_rank, pl.lit(floor, dtype=pl.Int32))
    blocked = watch & (pl.col("tier_rank") < cap)
    first = pl.col("previous_tier").is_null() | prev_rank.is_null()
    negative = (
        ~default
        & ~blocked
        & (_amount("contribution_amount") < 0)
        & pl.col("tier_change").is_in(["upgrade", "initial"])
        & (pl.col("tier_rank") < floor)
        & ~pl.col("raw_tier_reasons").str.contains("MERCHANT_TURNOVER_")
    )
    df = tiers.with_columns(
        _default=default, _blocked=blocked, _watch=watch, _first=first, _negative=negative
    )
    new_rank = (
        pl.when(pl.col("_default"))
        .then(pl.lit(floor, dtype=pl.Int32))
        .when(pl.col("_blocked"))
        .then(cap)
        .otherwise(pl.col("tier_rank"))
        .cast(pl.Int32)
    )
    new_change = (
        pl.when(pl.col("_default") & pl.col("_first"))
        .then(pl.lit("initial"))
        .when(pl.col("_default") & (prev_rank < floor))
        .then(pl.lit("downgrade"))
        .when(pl.col("_default"))
        .then(pl.lit("same"))
        .when(pl.col("_blocked") & pl.col("_first"))
        .then(pl.lit("initial"))
        .when(pl.col("_blocked"))
        .then(pl.lit("same"))
        .otherwise(pl.col("tier_change"))
    )
    gated = pl.col("_default") | pl.col("_blocked")
    reasons = (
        pl.when(pl.col("_default"))
        .then(pl.col("raw_tier_reasons") + pl.lit(f"{SEP}CREDIT_HOLD"))
        .when(pl.col("_blocked"))
        .then(pl.col("raw_tier_reasons") + pl.lit(f"{SEP}CREDIT_WATCH"))
        .when(pl.col("_watch"))
        .then(pl.col("tier_reasons") + pl.lit(f"{SEP}CREDIT_WATCH"))
        .when(pl.col("_negative"))
        .then(pl.col("tier_reasons") + pl.lit(f"{SEP}UPGRADE_ON_ASSETS_NEGATIVE_CONTRIBUTION"))
        .otherwise(pl.col("tier_reasons"))
    )
    # A gated customer's raw tier is at or above the gated tier (a blocked upgrade, or a
    # defaulter held at the floor): no downgrade clock runs.
    df = df.with_columns(
        tier_rank=new_rank,
        tier_change=new_change,
        tier_reasons=reasons,
        below_since=pl.when(gated)
        .then(pl.lit(None, dtype=pl.Date))
        .otherwise(pl.col("below_since")),
        best_rank_below=pl.when(gated)
        .then(pl.lit(None, dtype=pl.Int32))
        .otherwise(pl.col("best_rank_below"))
        .cast(pl.Int32),
    ).with_columns(tier=pl.col("tier_rank").replace_strict(tier_of, return_dtype=pl.String))
    return df.drop(["_default", "_blocked", "_watch", "_first", "_negative"])


def tier_changes(tiers: pl.DataFrame, business_date: date) -> pl.DataFrame:
    """The rows of tier history for one date: every initial tier, upgrade and downgrade.

    Parameters
    ----------
    tiers
        Output of :func:`apply_hysteresis`.
    business_date
        The date the changes take effect.

    Returns
    -------
    pl.DataFrame
        ``customer_id``, ``business_date``, ``change_type``, ``from_tier``, ``to_tier``,
        ``reasons``.
    """
    require_columns(
        tiers,
        ["customer_id", "tier_change", "previous_tier", "tier", "tier_reasons"],
        "tier_changes",
    )
    return tiers.filter(pl.col("tier_change").is_in(["initial", "upgrade", "downgrade"])).select(
        pl.col("customer_id"),
        pl.lit(business_date).alias("business_date"),
        pl.col("tier_change").alias("change_type"),
        pl.col("previous_tier").alias("from_tier"),
        pl.col("tier").alias("to_tier"),
        pl.col("tier_reasons").alias("reasons"),
    )


def migration_protection(
    customers: pl.DataFrame, rules: MigrationRules, merchant_score_cutoff: float
) -> pl.DataFrame:
    """Why a customer must never be invited to leave the counter, if they must not.

    Codes: ``MERCHANT`` a detected merchant; ``MERCHANT_LIKE`` a merchant scorecard score at
    or above the cutoff (``merchants.score_cutoff``) even under the turnover floor (a small
    business the bank should court, not send away); ``POTENTIAL`` and ``GROWING`` (see
    :func:`flag_potential`); ``ELDERLY`` aged ``protected_min_age`` or more; ``AGE_UNKNOWN``
    (we cannot show they are not elderly).

    Parameters
    ----------
    customers
        One row per customer_id with ``age``, ``is_potential``, ``is_growing``,
        ``is_merchant`` and ``merchant_score`` (null: not scored).
    rules
        ``tiers.migration`` of the configuration.
    merchant_score_cutoff
        ``merchants.score_cutoff``.

    Returns
    -------
    pl.DataFrame
        customers plus ``migration_protection`` (codes joined by ``;``, empty when none).
    """
    require_columns(
        customers,
        ["customer_id", "age", "is_potential", "is_growing", "is_merchant", "merchant_score"],
        "migration_protection",
    )
    return customers.with_columns(
        migration_protection=_join_codes(
            [
                pl.when(pl.col("is_merchant").fill_null(False)).then(pl.lit("MERCHANT")),
                pl.when(
                    (pl.col("merchant_score").cast(pl.Float64) >= merchant_score_cutoff).fill_null(
                        False
                    )
                ).then(pl.lit("MERCHANT_LIKE")),
                pl.when(pl.col("is_potential").fill_null(True)).then(pl.lit("POTENTIAL")),
                pl.when(pl.col("is_growing").fill_null(True)).then(pl.lit("GROWING")),
                pl.when(pl.col("age") >= rules.protected_min_age).then(pl.lit("ELDERLY")),
                pl.when(pl.col("age").is_null()).then(pl.lit("AGE_UNKNOWN")),
            ]
        )
    )


def select_channel_migration(
    customers: pl.DataFrame,
    rules: MigrationRules,
    window_days: int,
    merchant_score_cutoff: float,
) -> pl.DataFrame:
    """Low-contribution customers whose counter work could be done online, saving money net.

    Only customers of the ``eligible_tiers`` (the low-value end of the ladder) are invited, and
    never the protected (:func:`migration_protection`). The yearly saving is honest:

    - cost saving: each migratable counter transaction's counter unit cost minus the online
      unit cost of the same code (the contribution model's costs, ``ref_channel_costs``);
    - fees forgone: the fees paid on those counter transactions minus what they would pay
      online (``online_fee_amount``; online transfers are free): revenue the bank loses;
    - net saving = cost saving − fees forgone. Interest, commission and interchange do not
      depend on the channel, so no other revenue is at risk. A candidate must save more than
      ``min_net_saving_amount`` net.

    Window amounts are scaled to a year by ``365 / window_days``; each yearly amount is rounded
    to the cent and the net is the difference of the rounded parts (so it adds up in exports).

    Parameters
    ----------
    customers
        One row per customer_id with ``tier`` (effective), ``contribution_amount``,
        ``counter_online_capable_txns``, ``counter_cost_saving_amount``,
        ``counter_fee_amount``, ``online_fee_amount`` (window sums), ``age``,
        ``is_potential``, ``is_growing``, ``is_merchant`` and ``merchant_score``.
    rules
        ``tiers.migration`` of the configuration.
    window_days
        Days of the window the transactions were counted over (to scale them to a year).
    merchant_score_cutoff
        ``merchants.score_cutoff``: customers scoring at least this are protected.

    Returns
    -------
    pl.DataFrame
        The candidates only: ``customer_id``, ``counter_online_capable_txns``,
        ``yearly_migratable_txns``, ``yearly_cost_saving_amount``,
        ``yearly_fee_forgone_amount``, ``yearly_saving_amount`` (net; Decimal(18,2)) and
        ``migration_reasons``.
    """
    require_columns(
        customers,
        [
            "customer_id",
            "tier",
            "contribution_amount",
            "counter_online_capable_txns",
            "counter_cost_saving_amount",
            "counter_fee_amount",
            "online_fee_amount",
        ],
        "select_channel_migration",
    )
    if "migration_protection" not in customers.columns:
        customers = migration_protection(customers, rules, merchant_score_cutoff)
    per_year = 365.0 / window_days

    def yearly(expr: pl.Expr) -> pl.Expr:
        return (expr * per_year).round(2).cast(pl.Decimal(18, 2))

    priced = customers.with_columns(
        yearly_cost_saving_amount=yearly(_amount("counter_cost_saving_amount")),
        yearly_fee_forgone_amount=yearly(
            _amount("counter_fee_amount") - _amount("online_fee_amount")
        ),
    ).with_columns(
        yearly_saving_amount=(
            pl.col("yearly_cost_saving_amount") - pl.col("yearly_fee_forgone_amount")
        ).cast(pl.Decimal(18, 2))
    )
    return (
        priced.filter(
            (pl.col("migration_protection") == "")
            & pl.col("tier").is_in(rules.eligible_tiers)
            & (_amount("contribution_amount") <= float(rules.max_contribution_amount))
            & (pl.col("counter_online_capable_txns").fill_null(0) >= rules.min_counter_txns)
            & (pl.col("yearly_saving_amount") > rules.min_net_saving_amount)
        )
        .select(
            pl.col("customer_id"),
            pl.col("counter_online_capable_txns").cast(pl.Int64),
            (pl.col("counter_online_capable_txns") * per_year)
            .round(1)
            .alias("yearly_migratable_txns"),
            "yearly_cost_saving_amount",
            "yearly_fee_forgone_amount",
            "yearly_saving_amount",
            pl.lit(f"LOW_CONTRIBUTION;COUNTER_TXNS_{rules.window_months}M;NET_SAVING").alias(
                "migration_reasons"
            ),
        )
        .sort(["yearly_saving_amount", "customer_id"], descending=[True, False])
    )


def channel_migration(
    customers: pl.DataFrame,
    rules: MigrationRules,
    window_days: int,
    merchant_score_cutoff: float,
) -> pl.DataFrame:
    """The rows of the channel-migration list: :func:`select_channel_migration`'s candidates
    with their ``contribution_amount``, ``home_branch_id`` and ``tier``."""
    candidates = select_channel_migration(customers, rules, window_days, merchant_score_cutoff)
    return candidates.join(
        customers.select("customer_id", "contribution_amount", "home_branch_id", "tier"),
        on="customer_id",
    )


def build_call_list(
    customers: pl.DataFrame, settings: CallListConfig, tier_count: int
) -> pl.DataFrame:
    """The outbound call list of ``customers``: :func:`rank_calls` of their
    :func:`call_candidates`."""
    return rank_calls(call_candidates(customers, settings, tier_count), settings.size)


def call_candidates(
    customers: pl.DataFrame, settings: CallListConfig, tier_count: int
) -> pl.DataFrame:
    """Who may be called, and why: one row per consenting active customer with a reason.

    Reasons (the customer is called for the most urgent one in ``reason_priority``):
    ``RETENTION`` a customer of the top ``retention_tiers`` tiers who is slipping (probability
    alive below ``retention_max_p_alive`` or a downgrade pending); ``TIER_UPGRADE`` upgraded
    today; ``MERCHANT_SERVICES`` a merchant who has not declared the business;
    ``CROSS_SELL`` a next-best product whose call is worth more than it costs
    (``next_best_value``: P(take-up) x the product's annual contribution - the call's cost,
    positive; a look-alike rank has no value and is never a reason to call);
    ``POTENTIAL_NURTURE`` a potential customer; ``CHANNEL_MIGRATION`` a migration candidate.
    Within a reason, higher lifetime value first; within CROSS_SELL, higher expected value.
    A customer with a loan or card in default (``has_default_account``) gets no call for any
    of these marketing reasons: collections are the collections team's, on their own list,
    not the marketing call centre's.

    Parameters
    ----------
    customers
        One row per active customer_id with ``marketing_consent``, ``tier_rank``,
        ``tier_change``, ``p_alive``, ``clv_amount``, ``is_merchant``, ``is_declared``,
        ``is_potential``, ``is_migration_candidate``, ``next_best_product``,
        ``next_best_value`` and ``has_default_account``.
    settings
        ``lists.call_list`` of the configuration.
    tier_count
        Length of the ladder (retention looks at its top tiers only).

    Returns
    -------
    pl.DataFrame
        One row per customer to call (``marketing_consent = 'Y'``, a reason):
        ``customer_id``, ``reason_code``, ``script_code``, ``reason_detail``,
        ``call_priority`` (the reason's place in ``reason_priority``) and ``call_value``
        (the expected value of a CROSS_SELL call, else the lifetime value), unordered.
    """
    require_columns(
        customers,
        [
            "customer_id",
            "marketing_consent",
            "tier_rank",
            "tier_change",
            "p_alive",
            "clv_amount",
            "is_merchant",
            "is_declared",
            "is_potential",
            "is_migration_candidate",
            "next_best_product",
            "next_best_value",
            "has_default_account",
        ],
        "build_call_list",
    )
    top = pl.col("tier_rank") < min(settings.retention_tiers, tier_count)
    conditions = {
        "RETENTION": top
        & (
            (pl.col("p_alive").cast(pl.Float64) < settings.retention_max_p_alive).fill_null(False)
            | (pl.col("tier_change") == "held")
        ),
        "TIER_UPGRADE": pl.col("tier_change") == "upgrade",
        "MERCHANT_SERVICES": pl.col("is_merchant").fill_null(False)
        & ~pl.col("is_declared").fill_null(True),
        "CROSS_SELL": (pl.col("next_best_value").cast(pl.Float64) > 0).fill_null(False),
        "POTENTIAL_NURTURE": pl.col("is_potential").fill_null(False),
        "CHANNEL_MIGRATION": pl.col("is_migration_candidate").fill_null(False),
    }
    details = {
        "RETENTION": pl.lit("tier ") + pl.col("tier_change").cast(pl.String),
        "TIER_UPGRADE": pl.lit("upgraded today"),
        "MERCHANT_SERVICES": pl.lit("undeclared business turnover"),
        "CROSS_SELL": pl.lit("next best product ") + pl.col("next_best_product").cast(pl.String),
        "POTENTIAL_NURTURE": pl.lit("potential customer"),
        "CHANNEL_MIGRATION": pl.lit("counter work could move online"),
    }
    reason: pl.Expr = pl.lit(None, dtype=pl.String)
    detail: pl.Expr = pl.lit(None, dtype=pl.String)
    priority: pl.Expr = pl.lit(None, dtype=pl.Int32)
    for i, code in reversed(list(enumerate(settings.reason_priority))):
        cond = conditions[code]
        reason = pl.when(cond).then(pl.lit(code)).otherwise(reason)
        detail = pl.when(cond).then(details[code]).otherwise(detail)
        priority = pl.when(cond).then(pl.lit(i, dtype=pl.Int32)).otherwise(priority)
    return (
        customers.filter(
            (pl.col("marketing_consent") == "Y") & ~pl.col("has_default_account").fill_null(True)
        )
        .with_columns(reason_code=reason, reason_detail=detail, _priority=priority)
        .filter(pl.col("reason_code").is_not_null())
        .select(
            "customer_id",
            "reason_code",
            pl.col("reason_code")
            .replace_strict(settings.script_codes, return_dtype=pl.String)
            .alias("script_code"),
            "reason_detail",
            pl.col("_priority").alias("call_priority"),
            pl.when(pl.col("reason_code") == "CROSS_SELL")
            .then(pl.col("next_best_value").cast(pl.Float64))
            .otherwise(_amount("clv_amount"))
            .alias("call_value"),
        )
    )


CALL_ORDER = (["call_priority", "call_value", "customer_id"], [False, True, False])
"""The call list's order (columns, descending): by reason, then value, higher first."""


def top_calls(candidates: pl.DataFrame, size: int) -> pl.DataFrame:
    """The first ``size`` of :func:`call_candidates` in :data:`CALL_ORDER`: a total order (the
    customer last), so the top ``size`` of the tops of the parts of a list is its top."""
    columns, descending = CALL_ORDER
    return candidates.sort(columns, descending=descending).head(size)


def rank_calls(candidates: pl.DataFrame, size: int) -> pl.DataFrame:
    """The call list from :func:`call_candidates` (of every customer, or the
    :func:`top_calls` of each part of them): its first ``size`` rows, ranked."""
    return top_calls(candidates, size).select(
        pl.int_range(1, pl.len() + 1, dtype=pl.Int32).alias("call_rank"),
        "customer_id",
        "reason_code",
        "script_code",
        "reason_detail",
    )
