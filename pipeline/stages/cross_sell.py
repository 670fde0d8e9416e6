"""Next product = take-up, inside the tiers stage (docs/cross_sell.md).

Fitted on a schedule, scored every night:

- the cut-offs are month ends; the *current* cut-off is the last month end on or before the
  business date; a cut-off is *complete* when its label window (``horizon_months``) has ended;
- the models' version is a hash of the configuration and the latest complete cut-off, so a
  model is fitted once a month (when a new cut-off completes) or when the configuration
  changes, on a fixed sample of customers (``training_sample_customers``), and stored in
  ``cross_sell_models`` (pickled, with its out-of-time validation in ``cross_sell_model_runs``);
- on the first night of a cut-off the stored models score every customer at the current
  cut-off (on Spark per part of the customers, in the executors; a look-alike fitted on the
  driver from the md5 sample, its ranks taken over every customer by SQL) and every night the
  business date's non-holders get their best products by expected value.

Tables: ``int_cross_sell_inputs`` (SQL, scratch), ``cross_sell_models``,
``cross_sell_model_runs``, ``cross_sell_scores`` (the current cut-off's scores, reused by the
month's later nights until the model or the deliveries under the cut-off change), and the
tiers stage's ``int_cross_sell`` and
``int_cross_sell_evaluation`` (one row per product and night).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from pipeline.dates import shift_months
from pipeline.engine.base import partition_columns, replace_partition_from
from pipeline.sampling import sample_md5_below, sample_permille

if TYPE_CHECKING:
    import duckdb
    import polars as pl

    from pipeline.config import Config
    from pipeline.engine.base import Engine

MODEL_LAYOUT = 2
"""Version of the model code and features, part of the model version (2: the training sample
by md5 of the customer instead of DuckDB's hash, so a model stored from the old sample is
fitted again)."""

TABLES: dict[str, str] = {
    "int_cross_sell": """
        customer_id varchar not null, business_date date not null, product_rank integer not null,
        product_code varchar not null, propensity_score double, score_kind varchar,
        lookalike_rank double, expected_value_amount double, model_version varchar,
        cutoff_date date
    """,
    "cross_sell_models": """
        model_version varchar not null, product_code varchar not null,
        fitted_on_date date not null, score_kind varchar not null, status varchar not null,
        train_cutoffs varchar, train_rows bigint, train_takers bigint, base_rate double,
        model blob
    """,
    "cross_sell_scores": """
        cutoff_date date not null, model_version varchar not null, data_stamp varchar,
        customer_id varchar not null, product_code varchar not null,
        score_kind varchar not null, propensity_score double, lookalike_rank double
    """,
    "cross_sell_model_runs": """
        model_version varchar not null, product_code varchar not null,
        fitted_on_date date not null, status varchar not null, test_cutoff_date date,
        train_cutoffs integer, train_rows bigint, train_takers bigint, test_rows bigint,
        takers bigint, auc double, top_decile_lift double, brier_score double,
        brier_base_rate double, mean_predicted double, observed_rate double
    """,
}


MODEL_TYPES = {
    "model_version": "String",
    "product_code": "String",
    "fitted_on_date": "Date",
    "score_kind": "String",
    "status": "String",
    "train_cutoffs": "String",
    "train_rows": "Int64",
    "train_takers": "Int64",
    "base_rate": "Float64",
    "model": "Binary",
}
"""``cross_sell_models``' columns as the stage's frame holds them (polars type names)."""

RUN_TYPES = {
    "model_version": "String",
    "product_code": "String",
    "fitted_on_date": "Date",
    "status": "String",
    "test_cutoff_date": "Date",
    "train_cutoffs": "Int32",
    "train_rows": "Int64",
    "train_takers": "Int64",
    "test_rows": "Int64",
    "takers": "Int64",
    **dict.fromkeys(
        (
            "auc",
            "top_decile_lift",
            "brier_score",
            "brier_base_rate",
            "mean_predicted",
            "observed_rate",
        ),
        "Float64",
    ),
}
"""``cross_sell_model_runs``' likewise."""


def ensure_tables(engine: Engine) -> None:
    """Create the tables if missing, with their declared types: the date's products
    (``int_cross_sell``, by business date), the model tables (whole tables)."""
    for table, columns in TABLES.items():
        engine.ensure_table(
            table, columns, key="business_date" if table.startswith("int_") else None
        )


def month_end(day: date) -> date:
    """The last day of ``day``'s month."""
    return shift_months(day.replace(day=1), 1) - timedelta(days=1)


def current_cutoff(day: date) -> date:
    """The last month end on or before ``day``."""
    return day if month_end(day) == day else day.replace(day=1) - timedelta(days=1)


def cutoffs(first_month: date, day: date, window: int, history: int) -> list[date]:
    """Month ends with a full feature window, of the last ``history`` months up to ``day``."""
    first = month_end(shift_months(first_month.replace(day=1), window - 1))
    earliest = month_end(shift_months(current_cutoff(day).replace(day=1), -history))
    out: list[date] = []
    c = current_cutoff(day)
    while c >= max(first, earliest):
        out.append(c)
        c = c.replace(day=1) - timedelta(days=1)
    return sorted(out)


def label_end(cutoff: date, horizon: int) -> date:
    """The last day of the label window of ``cutoff``."""
    return month_end(shift_months(cutoff.replace(day=1), horizon))


@dataclass(frozen=True)
class CrossSellOutput:
    evaluation: pl.DataFrame
    facts: dict[str, Any]


def _run_inputs(engine: Engine, cfg: Config, day: date, dates: list[date], permille: int) -> None:
    """``int_cross_sell_inputs`` at the cut-offs ``dates``, of the customers of the md5 sample
    of ``permille`` of 1000 (1000: everyone)."""
    import polars as pl

    xs = cfg.lists.cross_sell
    engine.temp_frame(
        "cross_sell_cutoffs", pl.DataFrame({"cutoff_date": dates}, schema={"cutoff_date": pl.Date})
    )
    engine.run_file(
        "lists/int_cross_sell_inputs",
        {
            "business_date": day,
            "window_months": xs.window_months,
            "horizon_months": xs.horizon_months,
            "sample_permille": permille,
            "sample_md5_below": sample_md5_below(permille),
        },
    )


def _build_inputs(
    engine: Engine, cfg: Config, day: date, dates: list[date], permille: int
) -> pl.DataFrame:
    import polars as pl

    _run_inputs(engine, cfg, day, dates, permille)
    frame = engine.read("select * from int_cross_sell_inputs order by customer_id, cutoff_date")
    return frame.with_columns(pl.col("cutoff_date", "label_end_date").cast(pl.Date))


def model_version(cfg: Config, latest_complete: date | None) -> str:
    """Hash of the cross-sell configuration, the latest complete cut-off and the code layout."""
    text = json.dumps(
        {
            "config": cfg.lists.cross_sell.model_dump(mode="json"),
            "latest_complete": str(latest_complete),
            "layout": MODEL_LAYOUT,
        },
        sort_keys=True,
    )
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def fit_date(con: duckdb.DuckDBPyConnection, latest: date | None, horizon: int, day: date) -> date:
    """The date a model version is fitted as of, whichever night fits it: the day its latest
    complete cut-off's label window closed (every night of the version sees the same
    cut-offs, customers and labels as of then), or, before any cut-off completes (nothing
    fitted), the first date loaded. A rebuild then stores the same model and date as a
    warehouse whose first night of the version came later."""
    if latest is not None:
        return label_end(latest, horizon)
    from pipeline.history import first_loaded_date

    return first_loaded_date(con) or day


def _fit_and_store(
    engine: Engine,
    cfg: Config,
    as_of: date,
    version: str,
    complete: list[date],
) -> None:
    from models.cross_sell import evaluate_out_of_time, fit_takeup_model, labelled_rows

    xs = cfg.lists.cross_sell
    customers = engine.read(
        "select count(distinct customer_id) as n from hist_customers where valid_from <= $d",
        {"d": as_of},
    )
    n = int(customers["n"][0])
    permille = sample_permille(n, xs.training_sample_customers)
    history = _build_inputs(engine, cfg, as_of, complete, permille) if complete else None
    models: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for product in xs.products:
        if history is None or history.height == 0:
            run: dict[str, Any] = {"status": "no complete cut-off", "train_takers": 0}
        else:
            run = evaluate_out_of_time(history, product, xs)
        rows = labelled_rows(history, product) if history is not None else None
        takers = int(rows[f"took_{product.lower()}"].sum()) if rows is not None else 0
        blob = None
        if rows is not None and takers >= xs.min_takers:
            model = fit_takeup_model(rows, product, xs)
            blob = pickle.dumps(model)
            kind, status = "takeup", "fitted"
            meta = [",".join(model.cutoffs), model.train_rows, model.train_takers, model.base_rate]
        else:
            kind = "lookalike"
            status = f"look-alike: too few takers to learn ({takers} < {xs.min_takers})"
            meta = [None, rows.height if rows is not None else 0, takers, None]
        values = [version, product, as_of, kind, status, *meta, blob]
        models.append(dict(zip(MODEL_TYPES, values, strict=True)))
        runs.append(
            {"model_version": version, "product_code": product, "fitted_on_date": as_of}
            | {k: run.get(k) for k in list(RUN_TYPES)[3:]}
        )
    import polars as pl

    same, args = "model_version = $version", {"version": version}
    engine.replace_frame(
        "cross_sell_models", pl.DataFrame(models, schema=_schema(MODEL_TYPES)), same, args
    )
    engine.replace_frame(
        "cross_sell_model_runs", pl.DataFrame(runs, schema=_schema(RUN_TYPES)), same, args
    )


def _schema(types: dict[str, str]) -> dict[str, Any]:
    """``types`` (column -> polars type name) as a polars schema."""
    import polars as pl

    return {name: getattr(pl, kind) for name, kind in types.items()}


def score_cutoff(
    con: duckdb.DuckDBPyConnection,
    engine: Engine,
    cfg: Config,
    day: date,
    stored: dict[str, tuple[Any, ...]],
    stamp: dict[str, Any],
) -> int:
    """Score every customer at the current cut-off into ``cross_sell_scores`` (its rows
    replaced); return how many scores. Per product the stored take-up model's calibrated
    probability, or a look-alike rank (no probability), fitted here on an md5 sample of the
    customers, about ``training_sample_customers`` of them outside each fold. The customers
    are scored by :func:`models.cross_sell.score_products` (on Spark per part of the
    customers, the models broadcast with the function), the look-alikes ranked over every
    customer by SQL. ``stamp``: the scores' ``cutoff_date``, ``model_version`` and
    ``data_stamp``."""
    from functools import partial

    from models.cross_sell import (
        LookalikeModel,
        TakeupModel,
        fit_lookalike,
        holds_column,
        lookalike_learnable,
        score_products,
    )
    from pipeline.sqlfiles import load_sql, observe, sql_path

    xs = cfg.lists.cross_sell
    _run_inputs(engine, cfg, day, [stamp["cutoff_date"]], 1000)
    models: dict[str, TakeupModel | LookalikeModel] = {
        p: pickle.loads(blob)
        for p, (kind, _status, _fitted, blob) in stored.items()
        if kind == "takeup" and blob is not None
    }
    alike = [p for p in xs.products if p not in models]
    if alike:
        holders = ", ".join(f"count(*) filter (where {c}) as {c}" for c in map(holds_column, alike))
        counts = engine.read(
            f"select count(*) as customers, {holders} from int_cross_sell_inputs"
        ).row(0, named=True)
        n = int(counts["customers"])
        learnable = [p for p in alike if lookalike_learnable(n, int(counts[holds_column(p)]), xs)]
        if learnable:
            # each classifier learns from about training_sample_customers customers: those of
            # the sample outside its fold
            folds = xs.calibration_folds
            wanted = xs.training_sample_customers * folds // (folds - 1)
            permille = sample_permille(n, wanted)
            sample = engine.read(
                "select * from int_cross_sell_inputs "
                "where $sample_permille >= 1000 or md5(customer_id) < $sample_md5_below "
                "order by customer_id",
                {"sample_permille": permille, "sample_md5_below": sample_md5_below(permille)},
            )
            models |= {p: fit_lookalike(sample, p, xs) for p in learnable}
    engine.map_frame(
        "cross_sell_scored",
        "select * from int_cross_sell_inputs",
        None,
        partial(score_products, models=models, batch_rows=xs.score_batch_rows),
        SCORED_COLUMNS,
    )
    ranked = load_sql(sql_path("lists/cross_sell_scores"))
    observe(con, ranked, stamp)
    try:
        return engine.replace_where(
            "cross_sell_scores", f"select * from ({ranked.body})", "true", stamp
        )
    finally:
        engine.drop("cross_sell_scored")


SCORED_COLUMNS = [
    ("customer_id", "VARCHAR"),
    ("product_code", "VARCHAR"),
    ("score_kind", "VARCHAR"),
    ("is_held", "BOOLEAN"),
    ("propensity_score", "DOUBLE"),
    ("resemblance_score", "DOUBLE"),
]
""":func:`models.cross_sell.score_products`' columns and their DuckDB types."""


def _data_stamp(con: duckdb.DuckDBPyConnection, cutoff: date) -> str | None:
    """When the deliveries up to ``cutoff`` last changed (a re-send makes the stored scores of
    the cut-off stale)."""
    row = con.execute(
        "select max(received_at)::varchar from file_ledger where business_date <= ? "
        "and outcome in ('loaded', 'replaced')",
        [cutoff],
    ).fetchone()
    return row[0] if row else None


def product_values(engine: Engine, day: date) -> dict[str, float]:
    """Mean annual contribution of a holder of each product (CNY), from the contribution model
    as of the latest date on or before ``day``; none without the contribution model's table
    (then no call is worth its cost)."""
    if not engine.table_exists("int_customer_product_contribution"):
        return {}
    rows = engine.read(
        """
        with per_customer as (
            select customer_id, product_code, sum(contribution_amount) as amount
            from int_customer_product_contribution
            where business_date = (select max(business_date)
                                   from int_customer_product_contribution
                                   where business_date <= $d)
            group by all
        )
        select product_code, avg(amount)::double as amount from per_customer group by all
        """,
        {"d": day},
    ).rows()
    return {str(p): float(v) for p, v in rows if v is not None}


def run_cross_sell(
    con: duckdb.DuckDBPyConnection, cfg: Config, day: date, engine: Engine | None = None
) -> CrossSellOutput:
    """Fit when due, score the current cut-off, rank today's non-holders' products. The data
    and the model tables on ``engine`` (DuckDB on ``con`` by default); the file ledger (when
    the deliveries changed, the first date loaded) in ``con``'s warehouse."""
    import polars as pl

    if engine is None:
        from pipeline.engine.duckdb_engine import DuckDBEngine

        engine = DuckDBEngine(con)
    # Import before limiting: threadpoolctl only limits thread pools already loaded.
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    xs = cfg.lists.cross_sell
    ensure_tables(engine)
    first = engine.read("select min(month_start) as m from agg_customer_txn_month")["m"][0]
    first_month = first or day.replace(day=1)
    all_cutoffs = cutoffs(first_month, day, xs.window_months, xs.history_months)
    complete = [c for c in all_cutoffs if label_end(c, xs.horizon_months) <= day]
    latest = complete[-1] if complete else None
    version = model_version(cfg, latest)
    facts: dict[str, Any] = {"cross_sell_model_version": version}
    with threadpool_limits(limits=xs.threads):
        of_version = {"version": version}
        stored = engine.read(
            "select count(*) as n from cross_sell_models where model_version = $version",
            of_version,
        )["n"][0]
        if stored < len(xs.products):
            as_of = fit_date(con, latest, xs.horizon_months, day)
            _fit_and_store(engine, cfg, as_of, version, complete)
            facts["cross_sell_fitted"] = True
        models = {
            r[0]: (r[1], r[2], r[3], r[4])
            for r in engine.read(
                "select product_code, score_kind, status, fitted_on_date, model "
                "from cross_sell_models where model_version = $version",
                of_version,
            ).iter_rows()
        }
        now = current_cutoff(day)
        stamp = _data_stamp(con, now)
        cached = engine.read(
            "select count(*) as n from cross_sell_scores where cutoff_date = $now "
            "and model_version = $version and data_stamp is not distinct from $stamp",
            {"now": now, "version": version, "stamp": stamp},
        )["n"][0]
        facts["cross_sell_scores_cached"] = cached > 0
        if not cached:
            # the cut-off's scores hold until the cut-off, the model or the data under it
            # changes: later nights of the month read them instead of scoring every customer
            of_cutoff = {"cutoff_date": now, "model_version": version, "data_stamp": stamp}
            score_cutoff(con, engine, cfg, day, models, of_cutoff)
    values = product_values(engine, day)
    # today's scores of the active customers' products not held, ranked per customer (on
    # Spark per part of the customers: no process holds every customer's scores)
    ranked = partial(
        _ranked,
        product_value=values,
        call_cost=cfg.lists.call_list.call_cost_amount,
        top_k=xs.top_k,
        version=version,
        cutoff=now,
    )
    args = {"now": now, "version": version, "stamp": stamp, "d": day}
    # the filter read once, for the ranking and the counts
    engine.temp_query(
        "cross_sell_today",
        f"select s.customer_id, s.product_code, s.score_kind, s.propensity_score, "
        f"s.lookalike_rank {_TODAYS_SCORES}",
        args,
    )
    try:
        engine.map_frame(
            "cross_sell_ranked",
            "select * from cross_sell_today",
            {},
            ranked,
            partition_columns(engine, "int_cross_sell"),
        )
        replace_partition_from(engine, "int_cross_sell", "cross_sell_ranked", day)
        engine.drop("cross_sell_ranked")
        scored_counts = engine.read(
            "select product_code, count(*) as scored_customers from cross_sell_today "
            "group by product_code"
        )
    finally:
        engine.drop("cross_sell_today")
    runs = engine.read(
        "select r.*, m.score_kind from cross_sell_model_runs r join cross_sell_models m "
        "using (model_version, product_code) where model_version = $version",
        {"version": version},
    )
    evaluation = (
        runs.join(scored_counts, on="product_code", how="left")
        .with_columns(
            status=pl.when(pl.col("score_kind") == "lookalike")
            .then(pl.lit("look-alike (no probability): ") + pl.col("status"))
            .otherwise(pl.col("status")),
            product_value_amount=pl.col("product_code").replace_strict(
                values, default=None, return_dtype=pl.Float64
            ),
            scored_customers=pl.col("scored_customers").fill_null(0).cast(pl.Int64),
            cutoff_date=pl.lit(now).cast(pl.Date),
        )
        .drop("fitted_on_date")
        .join(
            pl.DataFrame(
                {
                    "product_code": list(models),
                    "fitted_on_date": [models[p][2] for p in models],
                }
            ),
            on="product_code",
        )
    )
    facts["cross_sell_auc"] = {
        r["product_code"]: r["auc"] for r in evaluation.iter_rows(named=True)
    }
    return CrossSellOutput(evaluation, facts)


_TODAYS_SCORES = """
    from cross_sell_scores as s
    where s.cutoff_date = $now and s.model_version = $version
      and s.data_stamp is not distinct from $stamp
      and s.customer_id in (
          select customer_id from hist_customers
          where valid_from <= $d and valid_to > $d and status = 'A')
      and not exists (
          select 1 from hist_accounts as a
          where a.customer_id = s.customer_id and a.product_code = s.product_code
            and a.valid_from <= $d and a.valid_to > $d and a.status <> 'C'
            and (a.close_date is null or a.close_date > $d))
"""
"""The current cut-off's stored scores (model version and deliveries under it) of the active
customers' products they do not hold on the date ``$d``."""


def _ranked(
    scores: pl.DataFrame,
    product_value: dict[str, float],
    call_cost: float,
    top_k: int,
    version: str,
    cutoff: date,
) -> pl.DataFrame:
    """:func:`models.cross_sell.rank_products` of customers' scores, with the model version
    and cut-off: rows of ``int_cross_sell``."""
    import polars as pl

    from models.cross_sell import rank_products

    return rank_products(scores, product_value, call_cost, top_k).with_columns(
        model_version=pl.lit(version), cutoff_date=pl.lit(cutoff, dtype=pl.Date)
    )
