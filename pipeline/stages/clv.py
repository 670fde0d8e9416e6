"""The clv stage: lifetime value per customer, fitted and validated every night (docs/clv.md).

Steps for a business date D:

1. bring ``agg_customer_event_day`` up to date: aggregate only the TXN deliveries not yet
   aggregated (or re-sent since, or aggregated under another event definition);
2. build the RFM summary as of D in SQL and fit the purchase model (BG/NBD or MBG/NBD) and
   Gamma-Gamma on contribution per event, from SQL summaries; score every customer into
   ``int_customer_clv`` (``map_frame``: on Spark per part of the customers);
3. validate: fit again on history up to D minus ``holdout_months`` (from SQL's weighted
   triples; the month's stored fit reused), predict each customer's holdout events per part of
   the customers (``map_frame``), take the metrics in SQL and store them (``clv_fit_runs``,
   ``clv_holdout_buckets``, the money backtest ``clv_money_backtest``);
4. flag a large jump in parameters from the previous run, and write the fit as JSON to
   ``<export_dir>/clv/<YYYYMMDD>.json`` (atomically).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb

from pipeline.config.clv import ClvConfig
from pipeline.dates import shift_months
from pipeline.engine.base import Engine
from pipeline.errors import DataContractError
from pipeline.stages.base import Stage, StageContext
from pipeline.warehouse import transaction

if TYPE_CHECKING:  # pragma: no cover
    import polars as pl

    from models.clv import HoldoutResult, PurchaseFit, SpendFit

PURCHASE_PARAMS = ("r", "alpha", "a", "b")
SPEND_PARAMS = {"p": "gg_p", "q": "gg_q", "v": "gg_gamma"}


AGGREGATE_LAYOUT = 2
"""Version of agg_customer_event_day's columns, part of the fingerprint: a warehouse aggregated
under an older layout (before is_first_delivery) is re-aggregated once."""


def events_fingerprint(cfg: ClvConfig) -> str:
    text = json.dumps(
        {"events": cfg.events.model_dump(mode="json"), "layout": AGGREGATE_LAYOUT}, sort_keys=True
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _engine(con: duckdb.DuckDBPyConnection, engine: Engine | None) -> Engine:
    """``engine``, or DuckDB on the warehouse connection ``con`` (the default engine)."""
    if engine is not None:
        return engine
    from pipeline.engine.duckdb_engine import DuckDBEngine

    return DuckDBEngine(con)


TXN_DELIVERIES = "clv_txn_deliveries"
"""A scratch table of the run: each TXN delivery's latest file receipt, from ``file_ledger``
(which stays in the warehouse file whatever the engine: docs/scale.md, "Storage contract")."""


def load_txn_deliveries(con: duckdb.DuckDBPyConnection, engine: Engine, upto: date) -> None:
    """:data:`TXN_DELIVERIES` on ``engine``: every TXN delivery up to ``upto`` with a loaded
    or replaced file, with the latest receipt of its files (``received_at``)."""
    deliveries = con.execute(
        """
        select business_date, max(received_at) as received_at
        from file_ledger
        where feed = 'TXN' and outcome in ('loaded', 'replaced') and business_date <= $upto
        group by business_date
        """,
        {"upto": upto},
    ).pl()
    engine.temp_frame(TXN_DELIVERIES, deliveries)


def update_event_aggregate(
    con: duckdb.DuckDBPyConnection, cfg: ClvConfig, upto: date, engine: Engine | None = None
) -> int:
    """Aggregate the TXN deliveries up to ``upto`` that are new, re-sent or stale.

    A delivery is pending when ``file_ledger`` (on the warehouse connection ``con``) holds a
    loaded or replaced TXN file for its date that is newer than its row in
    ``agg_customer_event_day_dates``, or when that row was made under another event
    definition. Consecutive pending deliveries are aggregated in one statement (a backfill of
    a year is one scan). The tables are ``engine``'s (DuckDB on ``con`` by default). Returns
    the number of deliveries aggregated.
    """
    engine = _engine(con, engine)
    fingerprint = events_fingerprint(cfg)
    if engine.table_exists("agg_customer_event_day") and "is_first_delivery" not in {
        name for name, _ in engine.columns("agg_customer_event_day")
    }:
        # an aggregate of an older layout is rebuilt whole (DuckDB cannot update a column
        # added in the same transaction, and every delivery is pending anyway)
        engine.drop("agg_customer_event_day")
        engine.drop("agg_customer_event_day_dates")
    load_txn_deliveries(con, engine, upto)
    done = (
        "left join agg_customer_event_day_dates as t on t.business_date = l.business_date"
        if engine.table_exists("agg_customer_event_day_dates")
        else "left join (select cast(null as date) as business_date, cast(null as varchar) "
        "as events_fingerprint, cast(null as timestamp) as source_received_at) as t on false"
    )
    ledger = engine.read(
        f"""
        select
            l.business_date as business_date,
            t.business_date is null
                or t.events_fingerprint is distinct from $fingerprint
                or t.source_received_at is null
                or t.source_received_at < l.received_at as pending
        from {TXN_DELIVERIES} as l
        {done}
        order by l.business_date
        """,
        {"fingerprint": fingerprint},
    ).rows()
    runs: list[list[date]] = []
    previous_pending = False
    for day, pending in ledger:
        if pending:
            if previous_pending:
                runs[-1].append(day)
            else:
                runs.append([day])
        previous_pending = bool(pending)
    params: dict[str, Any] = {
        "event_txn_codes": list(cfg.events.txn_codes),
        "event_channels": list(cfg.events.channels),
        "events_fingerprint": fingerprint,
    }
    for run_days in runs:
        params["first_date"], params["business_date"] = run_days[0], run_days[-1]
        for table in ("agg_customer_event_day", "agg_customer_event_day_dates"):
            if engine.table_exists(table):
                engine.delete_where(
                    table,
                    "business_date between $first and $last",
                    {"first": run_days[0], "last": run_days[-1]},
                )
        engine.run_file("clv/agg_customer_event_day", params)
        settle_first_deliveries(engine, run_days[0], run_days[-1])
        engine.run_file("clv/agg_customer_event_day_dates", params)
    engine.drop(TXN_DELIVERIES)
    return sum(len(r) for r in runs)


def settle_first_deliveries(engine: Engine, first: date, last: date) -> int:
    """Set ``is_first_delivery`` on the event days that late postings share between deliveries.

    After the deliveries ``first`` .. ``last`` were (re-)aggregated, the marks that can be wrong
    belong to late rows (event_date before their delivery) of those deliveries or of later ones
    whose event_date is at most ``last``: only they can share a customer and day with a row that
    was added or removed. For every customer and day among them, the row of the earliest
    delivery is marked and the others unmarked. Returns the number of days settled.
    """
    scope = """
        select distinct customer_id, event_date
        from agg_customer_event_day
        where business_date >= $first and event_date <= $last and event_date < business_date
    """
    days = engine.temp_query("_late_days", scope, {"first": first, "last": last})
    if not days:
        engine.drop("_late_days")
        return 0
    low = engine.read("select min(event_date) as low from _late_days")["low"][0]
    # $low bounds the scan of the other deliveries' rows: their event_date is at least $low,
    # so is their business_date (never before the event), and the table is in delivery order
    engine.update_from(
        "agg_customer_event_day",
        {"is_first_delivery": "t.business_date = s.first_delivery"},
        """
            select p.customer_id, p.event_date, min(p.business_date) as first_delivery
            from agg_customer_event_day as p
            semi join _late_days as d
                on p.customer_id = d.customer_id and p.event_date = d.event_date
            where p.event_date between $low and $last and p.business_date >= $low
            group by p.customer_id, p.event_date
        """,
        """t.customer_id = s.customer_id and t.event_date = s.event_date
            and t.event_date between $low and $last and t.business_date >= $low
            and t.is_first_delivery is distinct from (t.business_date = s.first_delivery)""",
        {"low": low, "last": last},
    )
    engine.drop("_late_days")
    return days


def build_rfm(
    con: duckdb.DuckDBPyConnection,
    cfg: ClvConfig,
    business_date: date,
    calibration_end: date,
    window: tuple[date, date] | None = None,
    *,
    incremental: bool = True,
    engine: Engine | None = None,
) -> None:
    """Build ``int_customer_rfm`` as of ``calibration_end`` and as of ``business_date``, and
    the temp table ``int_customer_event_summary`` it comes from: one pass over the event
    aggregate, which also counts each customer's event days in ``window`` (the contribution
    window, both ends inclusive; the business date alone when None) for
    ``int_customer_event_contribution``. The pass adds the days since the stored state of
    the closed months (``clv_event_state``, :func:`ensure_event_state`) to it; with
    ``incremental`` False it reads every delivery (the same rows: tests/test_clv_state.py).
    The tables are ``engine``'s (DuckDB on ``con`` by default)."""
    engine = _engine(con, engine)
    if not engine.table_exists("agg_customer_event_day"):
        raise DataContractError(
            "no events aggregated yet (agg_customer_event_day missing): ingest TXN deliveries "
            "first (`cvp ingest --date D`)"
        )
    window_start, window_end = window or (business_date, business_date)
    params: dict[str, Any] = {
        "business_date": business_date,
        "calibration_end": calibration_end,
        "recent_window_days": cfg.life_stages.recent_window_days,
        "window_start": window_start,
        "window_end": window_end,
    }
    params["state_end"], params["state_key"] = ensure_event_state(engine, params, incremental)
    engine.temp_file("clv/int_customer_event_summary", params)
    engine.run_file("clv/int_customer_rfm", params)


STATE_LAYOUT = 1
"""Version of clv_event_state's recipe, part of its key (bump it when the SQL changes)."""


def event_state_key(engine: Engine, params: dict[str, Any]) -> str:
    """What ``clv_event_state`` as of ``params["state_end"]`` depends on: the state end, the
    calibration end and recent window it sums for, and every aggregated delivery up to the
    state end with its event definition, latest file receipt and aggregation time (a re-sent,
    late or re-aggregated delivery changes its row in agg_customer_event_day_dates)."""
    deliveries = (
        engine.read(
            "select business_date, events_fingerprint, source_received_at, aggregated_at "
            "from agg_customer_event_day_dates where business_date <= $state_end "
            "order by business_date",
            {"state_end": params["state_end"]},
        ).rows()
        if engine.table_exists("agg_customer_event_day_dates")
        else []
    )
    text = json.dumps(
        {
            "layout": [STATE_LAYOUT, AGGREGATE_LAYOUT],
            "state_end": params["state_end"],
            "calibration_end": params["calibration_end"],
            "recent_window_days": params["recent_window_days"],
            "deliveries": deliveries,
        },
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def ensure_event_state(
    engine: Engine, params: dict[str, Any], incremental: bool = True
) -> tuple[date, str]:
    """Bring ``clv_event_state`` to the month end before the business date (rebuilt when its
    key changed, reused otherwise); return the state's end and key, which the summary reads
    it by.

    The state must end before the contribution window does (every state row inside the
    window's end). Otherwise, or with ``incremental`` False, no state is read (the summary is
    one pass over every delivery) and the stored one is left as it is."""
    day: date = params["business_date"]
    state_end = day.replace(day=1) - timedelta(days=1)
    if params["window_end"] < state_end or not incremental:
        if not engine.table_exists("clv_event_state"):
            engine.run_file(
                "clv/clv_event_state", {**params, "state_end": NO_STATE, "state_key": ""}
            )
        return NO_STATE, ""
    key = event_state_key(engine, {**params, "state_end": state_end})
    if engine.table_exists("clv_event_state"):
        stored = engine.read("select state_key from clv_event_state limit 1")
        if stored.height and stored["state_key"][0] == key:
            return state_end, key
    engine.run_file("clv/clv_event_state", {**params, "state_end": state_end, "state_key": key})
    return state_end, key


NO_STATE = date(1, 1, 1)
"""The state end that reads no state: every delivery is after it."""


def contribution_window(engine: Engine, business_date: date) -> tuple[date, date]:
    """The window of ``int_customer_contribution`` for the date (one per date: the contribution
    stage sets it from the date alone)."""
    windows = engine.read(
        "select distinct window_start, window_end from int_customer_contribution "
        "where business_date = $business_date",
        {"business_date": business_date},
    ).rows()
    if len(windows) > 1:
        raise DataContractError(
            f"int_customer_contribution holds {len(windows)} windows for {business_date}, "
            "one expected: re-run the contribution stage for the date"
        )
    return (windows[0][0], windows[0][1]) if windows else (business_date, business_date)


def build_rfm_with_contribution(
    con: duckdb.DuckDBPyConnection,
    cfg: ClvConfig,
    business_date: date,
    calibration_end: date | None = None,
    *,
    annual_days: int,
    engine: Engine | None = None,
) -> None:
    """Build the RFM summary as of the business date and each customer's contribution per
    event (``int_customer_event_contribution``; ``annual_days``: economics.annual_days, to
    take the window's amount from the yearly one): what :data:`CUSTOMERS_TODAY` reads.

    ``int_customer_rfm`` also gets the rows as of ``calibration_end`` (for the holdout fit)
    from the same pass.
    """
    engine = _engine(con, engine)
    if not engine.table_exists("int_customer_contribution"):
        raise DataContractError(
            "table int_customer_contribution missing: run the contribution stage first "
            f"(`cvp contribution --date {business_date}`)"
        )
    window = contribution_window(engine, business_date)
    build_rfm(con, cfg, business_date, calibration_end or business_date, window, engine=engine)
    engine.run_file(
        "clv/int_customer_event_contribution",
        {"business_date": business_date, "annual_days": annual_days},
    )
    engine.drop("int_customer_event_summary")


CUSTOMERS_TODAY = """
    from int_customer_rfm as r
    left join int_customer_event_contribution as c
        on c.customer_id = r.customer_id and c.business_date = $business_date
    where r.calibration_end = $business_date
"""
"""Every customer with an event by the business date, with their contribution per event."""

EXPECTED = "clv_expected_contribution"
"""A scratch table of the run: :func:`expected_contributions` of the last closed month."""


YEARLY_TO_MONTHLY = """cast(cast(
    case when k.yearly_micro < 0 then -1 else 1 end
    * ((abs(k.yearly_micro) * 2 + 120000) // 240000)
    as decimal(18, 0)) * 0.01 as decimal(18, 2))"""
"""The contribution model's yearly figure (``yearly_micro``, micro-CNY) / 12 to the cent, half
away from zero, by integer arithmetic: exact on both engines, as the run rate of
``sql/clv/clv_expected_contribution.sql`` (a DECIMAL divided is DOUBLE in DuckDB, exact in
Spark: on a half-cent tie they rounded a cent apart)."""


def customers_query(expected: bool) -> str:
    """Each customer's row to score: the RFM summary as of the business date, contribution per
    event (``monetary_value``), the expected monthly contribution (the run rate of
    :data:`EXPECTED` with ``expected``, else the contribution model's yearly figure / 12) and
    its trend."""
    found = (
        f"left join {EXPECTED} as e on e.customer_id = r.customer_id "
        "and e.as_of_month = $night_month"
        if expected
        else "left join (select cast(null as varchar) as customer_id, cast(null as decimal(18, "
        "2)) as run_rate, cast(null as double) as monthly_trend) as e on false"
    )
    return f"""
        select r.customer_id, r.first_event_date, r.last_event_date, r.frequency,
               r.recency_days, r.t_days, r.days_since_last_event, r.events_recent,
               c.contribution_per_event::double as monetary_value,
               cast(coalesce(e.run_rate, {YEARLY_TO_MONTHLY}) as double)
                   as monthly_contribution,
               e.monthly_trend
        from int_customer_rfm as r
        left join int_customer_event_contribution as c
            on c.customer_id = r.customer_id and c.business_date = $business_date
        left join (
            select customer_id,
                   cast((contribution_amount + default_provision_amount) * 1000000 as bigint)
                       as yearly_micro
            from int_customer_contribution
            where business_date = $business_date
        ) as k on k.customer_id = r.customer_id
        {found}
        where r.calibration_end = $business_date
    """


SCORES = "clv_scores_today"
"""A scratch table of the run: each customer's scores, what ``clv/int_customer_clv`` reads."""

SCORE_COLUMNS = [
    ("customer_id", "VARCHAR"),
    ("first_event_date", "DATE"),
    ("last_event_date", "DATE"),
    ("frequency", "INTEGER"),
    ("recency_days", "INTEGER"),
    ("t_days", "INTEGER"),
    ("monetary_value", "DOUBLE"),
    ("expected_events", "DOUBLE"),
    ("p_alive", "DOUBLE"),
    ("p_active_30d", "DOUBLE"),
    ("expected_days_to_next_event", "DOUBLE"),
    ("expected_contribution_per_event", "DOUBLE"),
    ("clv_amount", "DOUBLE"),
    ("life_stage", "VARCHAR"),
    ("clv_method", "VARCHAR"),
    ("monthly_contribution", "DOUBLE"),
    ("monthly_trend", "DOUBLE"),
]
""":func:`models.clv.score_customers`' (and :func:`_unscored`'s) columns that
``int_customer_clv`` keeps, and their types."""


def write_scores(
    engine: Engine,
    day: date,
    score: Callable[[pl.DataFrame], pl.DataFrame],
    expected: bool = False,
) -> int:
    """``int_customer_clv`` of ``day``: ``score`` (a pure function of customers' rows, one row
    per customer) applied to :func:`customers_query`'s rows by :meth:`Engine.map_frame`, on
    Spark per part of the customers in the executors, so neither the rows nor the scores meet
    in one process. Returns the customers written."""
    params = {"business_date": day, "night_month": last_closed_month(day)}
    engine.map_frame(SCORES, customers_query(expected), params, score, SCORE_COLUMNS)
    try:
        return engine.run_file("clv/int_customer_clv", {"business_date": day})
    finally:
        engine.drop(SCORES)


def rfm_counts(engine: Engine, day: date) -> dict[str, Any]:
    """How many customers have an event by ``day`` (``customers``), how many a repeat event
    (``repeaters``), and the first event's date (``first_event_date``, None without one)."""
    return engine.read(
        "select count(*) as customers, count(*) filter (where r.frequency > 0) as repeaters, "
        f"min(r.first_event_date) as first_event_date {CUSTOMERS_TODAY}",
        {"business_date": day},
    ).row(0, named=True)


def purchase_triples(engine: Engine, day: date) -> pl.DataFrame:
    """The purchase model's input as of ``day``: each distinct (frequency, recency, T) with
    the number of customers who share it (``weight``), grouped in SQL."""
    return engine.read(
        "select r.frequency, r.recency_days, r.t_days, count(*) as weight "
        f"{CUSTOMERS_TODAY} group by r.frequency, r.recency_days, r.t_days "
        "order by r.frequency, r.recency_days, r.t_days",
        {"business_date": day},
    )


def spend_customers(engine: Engine, cfg: ClvConfig, day: date) -> pl.DataFrame:
    """Gamma-Gamma's rows and its Spearman test's as of ``day``: the repeat customers with
    positive contribution per event (``frequency``, ``monetary_value``) in customer order; an
    md5 sample of about ``cfg.spend_sample_customers`` of them when there are more (the same
    customers on either engine: :func:`pipeline.sampling.sample_md5_below`)."""
    from pipeline.sampling import sample_md5_below

    where = "and r.frequency > 0 and c.contribution_per_event > 0"
    params: dict[str, Any] = {"business_date": day}
    found = engine.read(f"select count(*) as n {CUSTOMERS_TODAY} {where}", params).item()
    if found > cfg.spend_sample_customers:
        where += " and md5(r.customer_id) < $below"
        params["below"] = sample_md5_below(max(1, cfg.spend_sample_customers * 1000 // found))
    return engine.read(
        "select r.frequency, c.contribution_per_event::double as monetary_value "
        f"{CUSTOMERS_TODAY} {where} order by r.customer_id",
        params,
    )


def _fit_row(
    role: str,
    purchase: PurchaseFit,
    data_start: date | None,
    calibration_end: date,
    holdout_end: date | None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "fit_role": role,
        "model": purchase.model,
        "time_unit_days": purchase.time_unit_days,
        "data_start": data_start,
        "calibration_end": calibration_end,
        "holdout_end": holdout_end,
        "n_customers": purchase.n_customers,
        "n_unique_rows": purchase.n_unique_rows,
        "n_repeaters": purchase.n_repeaters,
        "converged": True,
        "penalizer": purchase.penalizer,
        "log_likelihood": purchase.log_likelihood,
    }
    for name in PURCHASE_PARAMS:
        row[name] = purchase.params[name]
        row[f"{name}_se"] = purchase.std_errors.get(name)
    return row


def _empty_row(
    role: str, model: str, calibration_end: date, holdout_end: date | None
) -> dict[str, Any]:
    return {
        "fit_role": role,
        "model": model,
        "calibration_end": calibration_end,
        "holdout_end": holdout_end,
        "converged": False,
    }


def _fit_runs_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """The rows of clv_fit_runs with every column present and typed (absent = null)."""
    import polars as pl

    schema: dict[str, Any] = {
        "fit_role": pl.Utf8, "model": pl.Utf8, "time_unit_days": pl.Int64,
        "data_start": pl.Date, "calibration_end": pl.Date, "holdout_end": pl.Date,
        "n_customers": pl.Int64, "n_unique_rows": pl.Int64, "n_repeaters": pl.Int64,
        "converged": pl.Boolean, "penalizer": pl.Float64, "log_likelihood": pl.Float64,
        "r": pl.Float64, "alpha": pl.Float64, "a": pl.Float64, "b": pl.Float64,
        "r_se": pl.Float64, "alpha_se": pl.Float64, "a_se": pl.Float64, "b_se": pl.Float64,
        "gg_status": pl.Utf8, "gg_n_customers": pl.Int64,
        "gg_p": pl.Float64, "gg_q": pl.Float64, "gg_gamma": pl.Float64,
        "gg_p_se": pl.Float64, "gg_q_se": pl.Float64, "gg_gamma_se": pl.Float64,
        "holdout_days": pl.Int64, "holdout_customers": pl.Int64,
        "holdout_predicted_events": pl.Float64, "holdout_actual_events": pl.Int64,
        "holdout_rmse": pl.Float64, "holdout_spearman": pl.Float64,
        "holdout_top_decile_share": pl.Float64, "validation_status": pl.Utf8,
        "param_jump": pl.Boolean, "param_jump_detail": pl.Utf8, "fit_seconds": pl.Float64,
        "value_method": pl.Utf8, "value_method_reason": pl.Utf8,
        "gg_frequency_value_spearman": pl.Float64, "cold_log_likelihood": pl.Float64,
        "warm_log_likelihood": pl.Float64, "mode_jump": pl.Boolean, "mode_jump_detail": pl.Utf8,
    }  # fmt: skip
    return pl.DataFrame([{c: row.get(c) for c in schema} for row in rows], schema=schema)


def _spend_columns(spend: SpendFit) -> dict[str, Any]:
    row: dict[str, Any] = {"gg_status": spend.status, "gg_n_customers": spend.n_customers}
    for name, col in SPEND_PARAMS.items():
        row[col] = spend.params.get(name)
        row[f"{col}_se"] = spend.std_errors.get(name)
    return row


def _holdout_columns(result: HoldoutResult) -> dict[str, Any]:
    m = result.metrics()
    return {
        "holdout_days": m["holdout_days"],
        "holdout_customers": m["n_customers"],
        "holdout_predicted_events": m["predicted_events"],
        "holdout_actual_events": m["actual_events"],
        "holdout_rmse": m["rmse"],
        "holdout_spearman": m["spearman"],
        "holdout_top_decile_share": m["top_decile_share"],
    }


def parameter_jumps(
    engine: Engine, business_date: date, row: dict[str, Any], threshold: float
) -> str | None:
    """Compare the full fit's parameters with the latest earlier run of the same model.

    Returns a description of every parameter whose relative change exceeds ``threshold``,
    or None when none does (or there is no earlier run).
    """
    if not engine.table_exists("clv_fit_runs"):
        return None
    found = engine.read(
        "select business_date, r, alpha, a, b, gg_p, gg_q, gg_gamma from clv_fit_runs "
        "where fit_role = 'full' and model = $model and time_unit_days = $unit "
        "and business_date < $business_date order by business_date desc limit 1",
        {"model": row["model"], "unit": row["time_unit_days"], "business_date": business_date},
    ).rows()
    if not found:
        return None
    prev = found[0]
    names = ["r", "alpha", "a", "b", "gg_p", "gg_q", "gg_gamma"]
    jumps = []
    for name, old in zip(names, prev[1:], strict=True):
        new = row.get(name)
        if old is None or new is None or old == 0:
            continue
        change = (new - old) / abs(old)
        if abs(change) > threshold:
            jumps.append(f"{name} {old:.4g} -> {new:.4g} ({change:+.0%})")
    if not jumps:
        return None
    return f"since {prev[0]}: " + ", ".join(jumps)


CALIBRATION_CUSTOMERS = """
    select customer_id, frequency, recency_days, t_days, holdout_events
    from int_customer_rfm
    where calibration_end = $calibration_end
"""
"""Every customer with an event by the calibration end: their RFM summary as of it and their
event days since (``holdout_events``)."""

HOLDOUT_SCORES = "clv_holdout_scores"
"""A scratch table of the run: each calibration customer's holdout predictions
(:func:`models.clv.holdout_predictions`), what ``clv/clv_holdout_metrics``,
``clv/clv_holdout_bucket_metrics`` and ``clv/clv_money_backtest_metrics`` read."""

HOLDOUT_SCORE_COLUMNS = [
    ("customer_id", "VARCHAR"),
    ("frequency", "INTEGER"),
    ("holdout_events", "INTEGER"),
    ("predicted_events", "DOUBLE"),
    ("survival_months", "DOUBLE"),
    ("survival_trend_months", "DOUBLE"),
]
""":data:`HOLDOUT_SCORES`' columns and their types."""


def calibration_triples(engine: Engine, calibration_end: date) -> pl.DataFrame:
    """The calibration fit's input: each distinct (frequency, recency, T) as of
    ``calibration_end`` with the number of customers who share it (``weight``), grouped in
    SQL, as :func:`purchase_triples` does for the night's fit."""
    return engine.read(
        "select frequency, recency_days, t_days, count(*) as weight from int_customer_rfm "
        "where calibration_end = $calibration_end group by frequency, recency_days, t_days "
        "order by frequency, recency_days, t_days",
        {"calibration_end": calibration_end},
    )


def holdout_metrics(
    engine: Engine, cfg: ClvConfig, holdout_days: int, fit: PurchaseFit
) -> HoldoutResult:
    """The validation's metrics over :data:`HOLDOUT_SCORES`, in SQL: totals, RMSE, Spearman
    and top-decile share (``clv/clv_holdout_metrics``), per frequency bucket
    (``clv/clv_holdout_bucket_metrics``). Raises :class:`ClvFitError` when a prediction is
    not finite, or there is no customer."""
    from models.clv import ClvFitError, HoldoutResult

    bad = engine.read(
        f"select count(*) - count(predicted_events) as bad from {HOLDOUT_SCORES}"
    ).item()
    if bad:
        raise ClvFitError(
            f"{bad} customers got a NaN or infinite predicted holdout events; check the "
            "calibration fit's parameters in clv_fit_runs and raise clv.penalizer"
        )
    engine.temp_file("clv/clv_holdout_metrics", {})
    engine.temp_file(
        "clv/clv_holdout_bucket_metrics", {"holdout_bucket_cap": cfg.holdout_bucket_cap}
    )
    try:
        m = engine.read("select * from clv_holdout_metrics").row(0, named=True)
        buckets = engine.read("select * from clv_holdout_bucket_metrics order by bucket_order")
    finally:
        engine.drop("clv_holdout_metrics")
        engine.drop("clv_holdout_bucket_metrics")
    if not m["customers"]:
        raise ClvFitError("no customer with an event by the calibration end")
    return HoldoutResult(
        fit=fit,
        holdout_days=holdout_days,
        n_customers=int(m["customers"]),
        predicted_events=float(m["predicted_events"]),
        actual_events=int(m["actual_events"]),
        rmse=float(m["rmse"]),
        spearman=m["spearman"],
        top_decile_share=m["top_decile_share"],
        buckets=buckets.select(
            "bucket_order",
            "n_customers",
            "predicted_events",
            "actual_events",
            "frequency_bucket",
            "mean_predicted",
            "mean_actual",
            "mean_error",
        ),
    )


def validate_on_holdout(
    engine: Engine,
    cfg: ClvConfig,
    calibration_end: date,
    holdout_days: int,
    fit: PurchaseFit,
    money_months: int = 0,
) -> HoldoutResult:
    """How ``fit`` (fitted on the summary as of ``calibration_end``) predicts the next
    ``holdout_days`` days' events, what the night stores and ``cvp clv backtest`` prints:
    :data:`HOLDOUT_SCORES` by :func:`models.clv.holdout_predictions` applied to every
    calibration customer's row (:data:`CALIBRATION_CUSTOMERS`) by :meth:`Engine.map_frame`
    (on Spark per part of the customers in the executors, the fit's parameters on a bare
    fitter: no training data shipped; with ``money_months`` the money backtest's survival
    weights too), then :func:`holdout_metrics`. No customer's row reaches the driver. Leaves
    :data:`HOLDOUT_SCORES` for the money backtest: the caller drops it."""
    from functools import partial

    from models.clv import ClvFitError, bare_purchase_fit, holdout_predictions

    if holdout_days <= 0:
        raise ClvFitError(f"holdout of {holdout_days} days: the holdout end must be later")
    predict = partial(
        holdout_predictions,
        fit=bare_purchase_fit(fit),
        cfg=cfg,
        holdout_days=holdout_days,
        money_months=money_months,
    )
    engine.map_frame(
        HOLDOUT_SCORES,
        CALIBRATION_CUSTOMERS,
        {"calibration_end": calibration_end},
        predict,
        HOLDOUT_SCORE_COLUMNS,
    )
    return holdout_metrics(engine, cfg, holdout_days, fit)


FIT_STORE = "clv_purchase_fits"
"""The last calibration fit, keyed by :func:`models.clv.purchase_fit_key` of its inputs."""

FIT_ROW = """
    select
        cast($fit_key as varchar) as fit_key, cast($fitted_on as date) as fitted_on,
        cast($model as varchar) as model, cast($time_unit_days as integer) as time_unit_days,
        cast($penalizer as double) as penalizer,
        cast($log_likelihood as double) as log_likelihood,
        cast($n_customers as bigint) as n_customers,
        cast($n_unique_rows as bigint) as n_unique_rows,
        cast($n_repeaters as bigint) as n_repeaters,
        cast($r as double) as r, cast($alpha as double) as alpha,
        cast($a as double) as a, cast($b as double) as b,
        cast($r_se as double) as r_se, cast($alpha_se as double) as alpha_se,
        cast($a_se as double) as a_se, cast($b_se as double) as b_se
"""
"""The one row of :data:`FIT_STORE`, its columns typed (the standard errors may be NULL)."""


def calibration_fit(
    engine: Engine, triples: pl.DataFrame, cfg: ClvConfig, day: date
) -> tuple[PurchaseFit, bool]:
    """The purchase model fitted on the calibration summary (``triples``: its weighted
    (frequency, recency_days, t_days), :func:`calibration_triples`), and whether it was
    reused.

    The calibration end is the same all month, so the month's later nights find the fit
    stored under the same key (the same customers' frequency, recency and T, the same
    settings) and reuse it; a late posting before the cut-off, a re-send, another config or
    library version changes the key and the model is fitted again and stored instead.
    """
    from models.clv import fit_purchase_model, purchase_fit_key, stored_purchase_fit

    key = purchase_fit_key(triples, cfg)
    if engine.table_exists(FIT_STORE):
        stored = engine.read(f"select * from {FIT_STORE} where fit_key = $key", {"key": key})
        if stored.height:
            return stored_purchase_fit(stored.row(0, named=True)), True
    fit = fit_purchase_model(triples, cfg)
    row = {
        "fit_key": key,
        "fitted_on": day,
        "model": fit.model,
        "time_unit_days": fit.time_unit_days,
        "penalizer": float(fit.penalizer),
        "log_likelihood": float(fit.log_likelihood),
        "n_customers": fit.n_customers,
        "n_unique_rows": fit.n_unique_rows,
        "n_repeaters": fit.n_repeaters,
        **{k: float(fit.params[k]) for k in PURCHASE_PARAMS},
        **{f"{k}_se": _float_or_none(fit.std_errors.get(k)) for k in PURCHASE_PARAMS},
    }
    engine.replace_where(FIT_STORE, FIT_ROW, "true", row)  # the last fit only
    return fit, False


def _float_or_none(value: float | None) -> float | None:
    return None if value is None else float(value)


def backtest_cutoff(day: date, months: int) -> date:
    """The calibration end of the nightly validation: the month end ``months`` months before
    the last closed month end on or before ``day`` (``day`` itself when a month end), so the
    money backtest compares whole months of contribution."""
    next_day = day + timedelta(days=1)
    last_closed = day if next_day.day == 1 else day.replace(day=1) - timedelta(days=1)
    return shift_months(last_closed.replace(day=1), -months + 1) - timedelta(days=1)


def previous_params(
    engine: Engine, business_date: date, model: str, unit: int
) -> dict[str, float] | None:
    """The latest earlier night's full-fit parameters of the same model and time unit."""
    if not engine.table_exists("clv_fit_runs"):
        return None
    rows = engine.read(
        "select r, alpha, a, b from clv_fit_runs where fit_role = 'full' and model = $model "
        "and time_unit_days = $unit and business_date < $d and r is not null "
        "order by business_date desc limit 1",
        {"model": model, "unit": unit, "d": business_date},
    ).rows()
    return dict(zip(PURCHASE_PARAMS, map(float, rows[0]), strict=True)) if rows else None


def fit_stable(
    rfm: pl.DataFrame, cfg: ClvConfig, previous: dict[str, float] | None
) -> tuple[PurchaseFit, dict[str, Any]]:
    """Fit ``rfm`` (one row per customer, or the weighted triples of
    :func:`purchase_triples`) from the default start and from the previous night's
    parameters; keep the higher likelihood. Two optima with parameters further apart than
    ``param_jump_threshold`` are a mode jump: flagged with the likelihood of both
    (``mode_jump_detail``)."""
    from models.clv import ClvFitError, fit_purchase_model

    cold = fit_purchase_model(rfm, cfg)
    cols: dict[str, Any] = {"cold_log_likelihood": cold.log_likelihood, "mode_jump": False}
    if previous is None:
        return cold, cols
    try:
        warm = fit_purchase_model(rfm, cfg, previous)
    except ClvFitError:
        return cold, cols
    cols["warm_log_likelihood"] = warm.log_likelihood
    apart = [
        k
        for k in PURCHASE_PARAMS
        if abs(warm.params[k] - cold.params[k])
        > cfg.param_jump_threshold * max(abs(cold.params[k]), 1e-12)
    ]
    best = warm if warm.log_likelihood > cold.log_likelihood else cold
    if apart:

        def fmt(f: PurchaseFit) -> str:
            return ", ".join(f"{k}={f.params[k]:.4g}" for k in PURCHASE_PARAMS)

        cols["mode_jump"] = True
        cols["mode_jump_detail"] = (
            f"default start: {fmt(cold)} (log-likelihood {cold.log_likelihood:.2f}); "
            f"from the previous night's parameters: {fmt(warm)} "
            f"(log-likelihood {warm.log_likelihood:.2f}); kept "
            + ("the previous night's mode" if best is warm else "the default start's")
        )
    return best, cols


def _first_full_month(con: duckdb.DuckDBPyConnection) -> date | None:
    row = con.execute(
        "select min(business_date) from file_ledger "
        "where feed = 'TXN' and outcome in ('loaded', 'replaced')"
    ).fetchone()
    if not row or row[0] is None:
        return None
    first: date = row[0]
    return first if first.day == 1 else shift_months(first.replace(day=1), 1)


def _months(first: date, last: date) -> list[date]:
    out, m = [], first
    while m <= last:
        out.append(m)
        m = shift_months(m, 1)
    return out


def last_closed_month(day: date) -> date:
    """The first day of the last calendar month closed on ``day`` (``day``'s own month when
    ``day`` is its last day)."""
    if (day + timedelta(days=1)).day == 1:
        return day.replace(day=1)
    return shift_months(day.replace(day=1), -1)


def ensure_monthly_contribution(ctx: StageContext, months: list[date]) -> bool:
    """Bring ``agg_customer_contribution_month`` up to date for ``months`` (computed once per
    month and economics config, shared with the value and tiers stages). False when the
    warehouse has no such table and no contribution inputs to build it from."""
    from pipeline.stages.contribution import refresh_monthly_contribution

    engine = ctx.engine
    if engine.table_exists("agg_account_balance_month"):  # the contribution model's inputs
        ctx.facts["clv_contribution_months_computed"] = refresh_monthly_contribution(
            ctx.con, engine, ctx.cfg, months
        )
    return engine.table_exists("agg_customer_contribution_month")


def expected_contributions(
    engine: Engine, night_month: date, calibration_month: date, cfg: ClvConfig
) -> None:
    """Each customer's expected monthly contribution as of the closed months ``night_month``
    (what the night's CLV values) and ``calibration_month`` (the money backtest's), as the
    scratch table :data:`EXPECTED` (``sql/clv/clv_expected_contribution.sql``: the run rate of
    the last ``run_rate_months`` to the cent, and the trend over ``trend_window_months``
    shrunk toward the customer's run-rate band's, in SQL on either engine)."""
    window = max(cfg.trend_window_months, cfg.run_rate_months)
    engine.temp_file(
        "clv/clv_expected_contribution",
        {
            "night_month": night_month,
            "night_first": shift_months(night_month, -(window - 1)),
            "calibration_month": calibration_month,
            "calibration_first": shift_months(calibration_month, -(window - 1)),
            "run_rate_first_x": window - cfg.run_rate_months,
            "trend_bands": cfg.trend_bands,
            "trend_on": cfg.trend_window_months > 0,
        },
    )


def money_backtest_rows(ctx: StageContext, calibration_end: date) -> pl.DataFrame | None:
    """CLV as of ``calibration_end`` over the months since, in money, beside the naive
    baseline, against the contribution customers actually produced in those months
    (``agg_customer_contribution_month``), in SQL (``clv/clv_money_backtest_metrics``).

    Customers: those with an event by the calibration end, each with the weights of their
    survival curve in :data:`HOLDOUT_SCORES` (:func:`validate_on_holdout` with ``money_months``).
    Predictors (CNY over the ``holdout_months`` months after the calibration end,
    undiscounted):

    - ``clv``: sum over the months of S(m) x (run rate + shrunk trend) (what the night's CLV
      does);
    - ``run_rate``: run rate x months (no survival, no trend);
    - ``run_rate_trend``: the sum over the months of run rate + shrunk trend (no survival: the
      gap to ``run_rate`` is what the trend adds, to ``clv`` what the survival curve adds);
      with the trend on only;
    - ``baseline``: the naive baseline, the trailing year's contribution pro rata (the closed
      months of the year to the calibration end the warehouse holds, their mean x months).

    The run rate and trend are :data:`EXPECTED`'s as of the calibration month (the caller
    builds it). None when the warehouse holds no whole month before the calibration end.
    """
    import polars as pl

    from models.clv import MONEY_BACKTEST_SCHEMA, trend_steps

    con, cfg, engine = ctx.con, ctx.cfg.clv, ctx.engine
    months = cfg.holdout_months
    first = _first_full_month(con)
    cal_month = calibration_end.replace(day=1)
    if first is None or first > cal_month:
        return None
    start = max(first, shift_months(cal_month, -11))
    last = shift_months(cal_month, months)
    # the months were brought up to date before scoring (one refresh a night)
    if not engine.table_exists("agg_customer_contribution_month"):
        return None
    trailing = len(_months(start, cal_month))
    engine.temp_file(
        "clv/clv_money_backtest_metrics",
        {
            "cal_month": cal_month,
            "first_month": start,
            "last_month": last,
            "trailing_months": trailing,
            "months": months,
            "trend_steps": float(trend_steps(months, cfg.run_rate_months, cfg.trend_damping).sum()),
            "with_trend": bool(cfg.trend_window_months),
        },
    )
    try:
        found = engine.read(
            f"select {', '.join(MONEY_BACKTEST_SCHEMA.names())} from clv_money_backtest_metrics "
            "order by predictor_order"
        )
    finally:
        engine.drop("clv_money_backtest_metrics")
    return found.cast(MONEY_BACKTEST_SCHEMA).with_columns(
        calibration_end=pl.lit(calibration_end),
        holdout_end=pl.lit(shift_months(last, 1) - timedelta(days=1)),
        trailing_months=pl.lit(trailing),
    )


def write_json_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary file in the same folder, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2, default=str, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _register_and_write(
    engine: Engine, frame_name: str, frame: pl.DataFrame, sql: str, day: date
) -> int:
    """The SQL file ``sql`` over ``frame`` (a model's output), a scratch table of the run
    named ``frame_name`` while it runs."""
    engine.temp_frame(frame_name, frame)
    try:
        return engine.run_file(sql, {"business_date": day})
    finally:
        engine.drop(frame_name)


def _short_history(first: date | None, cfg: ClvConfig, day: date) -> str | None:
    """Why the history is too short to fit (``first``: the first event's date), or None."""
    days = (day - first).days if isinstance(first, date) else 0
    if days < cfg.min_history_days:
        return f"{days} days of events, fewer than clv.min_history_days = {cfg.min_history_days}"
    return None


def _insufficient(counts: dict[str, Any], cfg: ClvConfig) -> bool:
    """Too little history for a fit (as opposed to a fit that failed on enough data):
    :func:`rfm_counts`' counts."""
    return counts["customers"] < cfg.min_customers or counts["repeaters"] < cfg.min_repeaters


def _unscored(rfm: pl.DataFrame) -> pl.DataFrame:
    """Each customer's RFM summary with the model outputs left null."""
    import polars as pl

    return rfm.select(
        "customer_id",
        "monthly_contribution",
        "monthly_trend",
        "first_event_date",
        "last_event_date",
        "frequency",
        "recency_days",
        "t_days",
        "monetary_value",
    ).with_columns(
        expected_events=pl.lit(None, pl.Float64),
        p_alive=pl.lit(None, pl.Float64),
        p_active_30d=pl.lit(None, pl.Float64),
        expected_days_to_next_event=pl.lit(None, pl.Float64),
        expected_contribution_per_event=pl.lit(None, pl.Float64),
        clv_amount=pl.lit(None, pl.Float64),
        life_stage=pl.lit("insufficient_history"),
        clv_method=pl.lit("no_model"),
    )


def run(ctx: StageContext) -> int:
    """Lifetime value: BG/NBD and Gamma-Gamma fitted, scored and validated for the date.

    Two transactions: the event aggregate's maintenance is committed first (it stands on its
    own: the aggregate and its bookkeeping change together), then the scores, fits and
    validation in a second, so a failure there leaves the stage's outputs as they were. One
    transaction for both made DuckDB scan the aggregate with the night's uncommitted changes,
    which at 1M customers doubled the RFM pass.
    """
    started = time.monotonic()
    with transaction(ctx.con):
        aggregated = update_event_aggregate(ctx.con, ctx.cfg.clv, ctx.business_date, ctx.engine)
    ctx.facts["clv_deliveries_aggregated"] = aggregated
    ctx.facts["clv_aggregate_seconds"] = round(time.monotonic() - started, 3)
    with transaction(ctx.con):
        return _fit_score_validate(ctx)


def _fit_score_validate(ctx: StageContext) -> int:
    from functools import partial

    import polars as pl

    from models.clv import (
        GG_METHOD,
        ClvFitError,
        choose_value_method,
        fit_spend_model,
        score_customers,
        scoring_fits,
    )

    cfg: ClvConfig = ctx.cfg.clv
    day = ctx.business_date
    con, engine = ctx.con, ctx.engine
    calibration_end = backtest_cutoff(day, cfg.holdout_months)
    cal_month = calibration_end.replace(day=1)
    t0 = time.monotonic()
    build_rfm_with_contribution(
        con, cfg, day, calibration_end, annual_days=ctx.cfg.economics.annual_days, engine=engine
    )
    counts = rfm_counts(engine, day)
    data_start = counts["first_event_date"]
    rfm_seconds = time.monotonic() - t0

    t0 = time.monotonic()
    try:
        short = _short_history(data_start, cfg, day)
        if short:
            raise ClvFitError(short)
        previous = previous_params(engine, day, cfg.model, cfg.time_unit_days)
        purchase, stability = fit_stable(purchase_triples(engine, day), cfg, previous)
    except ClvFitError as exc:
        if cfg.on_insufficient_history == "fail" or not (short or _insufficient(counts, cfg)):
            raise
        ctx.log.warning(f"clv {day}: not fitted ({exc}); rows written without model outputs")
        ctx.facts["clv_status"] = "insufficient_history"
        # an earlier run of the date may have fitted (another config, a longer history then):
        # its fit is not tonight's, and the export attaches whatever file the date has
        fit_json(ctx.cfg.paths.export_dir, day).unlink(missing_ok=True)
        for table in ("clv_fit_runs", "clv_holdout_buckets", "clv_money_backtest"):
            if engine.table_exists(table):
                engine.delete_where(table, "business_date = $day", {"day": day})
        return write_scores(engine, day, _unscored)
    spenders = spend_customers(engine, cfg, day)
    spend = fit_spend_model(spenders, cfg)
    last_month = last_closed_month(day)
    # one refresh of the monthly contribution a night: the run rate's months and the money
    # backtest's (the year to the calibration end and the months after it)
    window = max(cfg.run_rate_months, cfg.trend_window_months)
    lo = min(
        shift_months(last_month, -(window - 1)),
        shift_months(cal_month, -max(11, window - 1)),
    )
    first = _first_full_month(con)
    expected = ensure_monthly_contribution(
        ctx, _months(max(lo, first) if first else lo, last_month)
    )
    if expected:
        # expected monthly contribution = the run rate of the last closed months and the
        # shrunk trend; a customer without any keeps the contribution model's yearly figure /
        # 12, flat (customers_query)
        expected_contributions(engine, last_month, cal_month, cfg)
    method, correlation, reason = choose_value_method(spenders, spend, cfg)
    if cfg.value_method == "gamma_gamma" and method != GG_METHOD:
        ctx.log.warning(f"clv {day}: {reason}; valued by {method} instead (clv_fit_runs)")
    fit_seconds = time.monotonic() - t0
    t0 = time.monotonic()
    # the fitted parameters go to the scoring function (on Spark to every executor), not the
    # fitters' training data
    bare_purchase, bare_spend = scoring_fits(purchase, spend)
    score = partial(
        score_customers, purchase=bare_purchase, spend=bare_spend, cfg=cfg, value_method=method
    )
    try:
        rows = write_scores(engine, day, score, expected=expected)
    except BaseException:
        engine.drop(EXPECTED)
        raise
    score_seconds = time.monotonic() - t0

    full = _fit_row("full", purchase, data_start, day, None)
    full.update(_spend_columns(spend))
    full.update(stability)
    full.update(
        value_method=method, value_method_reason=reason, gg_frequency_value_spearman=correlation
    )
    if stability.get("mode_jump"):
        ctx.log.warning(f"clv {day}: parameter mode jump: {stability['mode_jump_detail']}")
    full["fit_seconds"] = fit_seconds
    jump = parameter_jumps(engine, day, full, cfg.param_jump_threshold)
    full["param_jump"] = jump is not None
    full["param_jump_detail"] = jump
    if jump:
        ctx.log.warning(f"clv {day}: parameters jumped {jump}")

    holdout_started = time.monotonic()
    holdout_days = (day - calibration_end).days
    # the money backtest's survival weights come with the holdout's predictions
    money_months = cfg.holdout_months if expected else 0
    try:
        cal, buckets, money = _validate(ctx, calibration_end, holdout_days, money_months)
    finally:
        engine.drop(HOLDOUT_SCORES)
        engine.drop(EXPECTED)
    if money is not None:
        by = {r["predictor"]: r for r in money.iter_rows(named=True)}
        clv, base = by["clv"], by["baseline"]
        beats = (clv["spearman"] or -1) > (base["spearman"] or -1) and (
            clv["mae_amount"] < base["mae_amount"]
        )
        money = money.with_columns(clv_beats_baseline=pl.lit(beats))
        engine.write_partition("clv_money_backtest", money, day)
        ctx.facts.update(
            clv_backtest_spearman=clv["spearman"],
            clv_backtest_mae=clv["mae_amount"],
            baseline_backtest_spearman=base["spearman"],
            baseline_backtest_mae=base["mae_amount"],
            clv_beats_baseline=beats,
        )
        if not beats:
            ctx.log.warning(
                f"clv {day}: CLV does not beat the naive baseline in the money backtest "
                f"from {calibration_end}: Spearman {clv['spearman']:.3f} vs "
                f"{base['spearman']:.3f}, MAE {clv['mae_amount']:.0f} vs "
                f"{base['mae_amount']:.0f} CNY (clv_money_backtest)"
            )
    holdout_seconds = time.monotonic() - holdout_started
    full["validation_status"] = cal["validation_status"]
    runs = _fit_runs_frame([full, cal])
    _register_and_write(engine, "clv_fit_runs_frame", runs, "clv/clv_fit_runs", day)
    if buckets is not None:
        _register_and_write(
            engine, "clv_holdout_buckets_frame", buckets, "clv/clv_holdout_buckets", day
        )
    elif engine.table_exists("clv_holdout_buckets"):
        engine.delete_where("clv_holdout_buckets", "business_date = $day", {"day": day})

    ctx.facts.update(
        {
            "clv_customers": rows,
            "clv_rfm_seconds": round(rfm_seconds, 3),
            "clv_fit_seconds": round(fit_seconds, 3),
            "clv_score_seconds": round(score_seconds, 3),
            "clv_holdout_seconds": round(holdout_seconds, 3),
            **{f"clv_{k}": round(v, 6) for k, v in purchase.params.items()},
            "clv_holdout": cal["validation_status"],
            "clv_holdout_rmse": cal.get("holdout_rmse"),
            "clv_param_jump": jump,
        }
    )
    payload = {
        "business_date": day.isoformat(),
        "config": cfg.model_dump(mode="json"),
        "fits": [_jsonable(full), _jsonable(cal)],
        "holdout_buckets": buckets.drop("calibration_end", "holdout_end").to_dicts()
        if buckets is not None
        else [],
    }
    write_json_atomically(fit_json(ctx.cfg.paths.export_dir, day), payload)
    ctx.log.info(
        f"clv {day}: {rows} customers, {purchase.model} r={purchase.params['r']:.4g} "
        f"alpha={purchase.params['alpha']:.4g} a={purchase.params['a']:.4g} "
        f"b={purchase.params['b']:.4g}; holdout {cal['validation_status']}"
    )
    return rows


def _validate(
    ctx: StageContext,
    calibration_end: date,
    holdout_days: int,
    money_months: int,
) -> tuple[dict[str, Any], pl.DataFrame | None, pl.DataFrame | None]:
    """The night's validation: the calibration fit (the month's stored one when its key
    matches), the holdout's metrics and, with ``money_months``, the money backtest; the
    calibration row of ``clv_fit_runs``, the buckets and the backtest's rows (None when
    skipped). Leaves :data:`HOLDOUT_SCORES` for the caller to drop."""
    import polars as pl

    from models.clv import ClvFitError

    cfg: ClvConfig = ctx.cfg.clv
    day, engine = ctx.business_date, ctx.engine
    t0 = time.monotonic()
    ctx.facts["clv_calibration_fit_reused"] = False
    try:
        if holdout_days <= 0:
            raise ClvFitError(f"holdout of {holdout_days} days: the holdout end must be later")
        triples = calibration_triples(engine, calibration_end)
        fit, reused = calibration_fit(engine, triples, cfg, day)
        ctx.facts["clv_calibration_fit_reused"] = reused
        result = validate_on_holdout(engine, cfg, calibration_end, holdout_days, fit, money_months)
    except ClvFitError as exc:
        cal = _empty_row("calibration", cfg.model, calibration_end, day)
        cal["validation_status"] = f"skipped: {exc}"
        ctx.log.warning(f"clv {day}: holdout validation skipped: {exc}")
        return cal, None, None
    # the first event's date: t_days is the days from a customer's first event to the end
    cal_start = calibration_end - timedelta(days=int(triples.select(pl.max("t_days")).item()))
    cal = _fit_row("calibration", result.fit, cal_start, calibration_end, day)
    cal.update(_holdout_columns(result))
    cal["validation_status"] = "validated"
    cal["fit_seconds"] = time.monotonic() - t0
    buckets = result.buckets.with_columns(
        calibration_end=pl.lit(calibration_end), holdout_end=pl.lit(day)
    )
    if not money_months:
        return cal, buckets, None
    return cal, buckets, money_backtest_rows(ctx, calibration_end)


def fit_json(export_dir: Path, day: date) -> Path:
    """Where the clv stage writes the date's fit, and the export takes ``clv_fit.json`` from."""
    return export_dir / "clv" / f"{day:%Y%m%d}.json"


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in row.items()}


def backtest(
    con: duckdb.DuckDBPyConnection,
    cfg: ClvConfig,
    calibration_end: date,
    holdout_end: date,
    engine: Engine | None = None,
) -> HoldoutResult:
    """Calibrate up to ``calibration_end``, predict events up to ``holdout_end``: the night's
    validation (:func:`validate_on_holdout`), on a fit from the default start. No writes
    except bringing the event aggregate up to date and the RFM pass's own tables
    (``int_customer_rfm``; ``clv_event_state``, for ``holdout_end``'s month: the next night
    rebuilds it for its own)."""
    from models.clv import fit_purchase_model

    if holdout_end <= calibration_end:
        raise DataContractError(
            f"--holdout-end {holdout_end} must be after --calibration-end {calibration_end}"
        )
    engine = _engine(con, engine)
    update_event_aggregate(con, cfg, holdout_end, engine)
    build_rfm(con, cfg, holdout_end, calibration_end, engine=engine)
    engine.drop("int_customer_event_summary")
    fit = fit_purchase_model(calibration_triples(engine, calibration_end), cfg)
    try:
        return validate_on_holdout(
            engine, cfg, calibration_end, (holdout_end - calibration_end).days, fit
        )
    finally:
        engine.drop(HOLDOUT_SCORES)


STAGE = Stage(
    name="clv",
    run=run,
    needs=("contribution",),
    reads=(
        "stg_transactions",
        "file_ledger",
        "int_customer_contribution",
        "agg_customer_contribution_month",
    ),
    writes=(
        "agg_customer_event_day",
        "agg_customer_event_day_dates",
        "clv_event_state",
        "int_customer_rfm",
        "int_customer_event_contribution",
        "int_customer_clv",
        "clv_fit_runs",
        "clv_holdout_buckets",
        "clv_money_backtest",
        "clv_purchase_fits",
        "agg_customer_contribution_month",
    ),
    config_sections=("clv", "economics"),
    transactional=False,
    engines=("duckdb", "spark"),
)
