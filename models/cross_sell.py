"""Next-best product: one propensity model per product, trained on who holds it.

For each product, the customers who hold it are the positives and the others the negatives; a
gradient-boosted classifier (scikit-learn ``HistGradientBoostingClassifier``) learns holding
from the other features (other holdings, spending habits, channel use, occupation, age,
balances). The score of a non-holder is the propensity of a look-alike to hold the product.
Customers are split once (fixed seed) into training and held-out sets; every product's AUC and
top-decile lift are measured on the held-out customers, who were never seen in training.

Leakage contract: the feature frame carries a ``holds_<PRODUCT>`` flag per modelled product and
otherwise only features that do not reveal a modelled product (e.g. demand-deposit balance, not
total assets including wealth products). A product's own flag is never among its features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from pipeline.config.lists import CrossSellConfig


@dataclass(frozen=True)
class CrossSellResult:
    recommendations: pl.DataFrame
    """``customer_id``, ``product_rank`` (1 = best), ``product_code``, ``propensity_score``."""
    evaluation: pl.DataFrame
    """Per product: ``product_code``, ``status``, ``train_customers``, ``holdout_customers``,
    ``holdout_holders``, ``base_rate``, ``auc``, ``top_decile_lift``."""


def holds_column(product: str) -> str:
    """The name of the holding flag of ``product`` in the feature frame."""
    return f"holds_{product.lower()}"


def _design_matrix(frame: pl.DataFrame, exclude: set[str]) -> tuple[np.ndarray, list[str]]:
    """Numeric and boolean columns as floats; string columns one-hot (nulls as their own level)."""
    parts: list[np.ndarray] = []
    names: list[str] = []
    for col in frame.columns:
        if col in exclude:
            continue
        series = frame[col]
        if series.dtype == pl.String or series.dtype == pl.Categorical:
            values = series.cast(pl.String).fill_null("<null>")
            for level in sorted(values.unique().to_list()):
                parts.append((values == level).cast(pl.Float64).to_numpy())
                names.append(f"{col}={level}")
        elif series.dtype.is_numeric() or series.dtype == pl.Boolean:
            values = series.cast(pl.Float64).fill_nan(None)
            if values.drop_nulls().n_unique() < 2:
                continue  # all null or constant: no information, and sklearn's binning rejects it
            parts.append(values.to_numpy())
            names.append(col)
    if not parts:
        return np.zeros((frame.height, 0)), names
    return np.column_stack(parts), names


def top_decile_lift(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Holders' rate among the top-scored 10 % over the holders' rate among all.

    The top decile is the ``ceil(n / 10)`` best scores (ties broken by position, stable).
    None when there are no holders.
    """
    n = len(y_true)
    base = float(np.mean(y_true)) if n else 0.0
    if n == 0 or base == 0.0:
        return None
    k = int(np.ceil(n / 10))
    order = np.argsort(-scores, kind="stable")[:k]
    return float(np.mean(y_true[order])) / base


def recommend_products(customers: pl.DataFrame, settings: CrossSellConfig) -> CrossSellResult:
    """Fit one propensity model per product and recommend the best products not yet held.

    Parameters
    ----------
    customers
        One row per customer_id with ``holds_<product>`` (boolean) for every product in
        ``settings.products`` and the features (numeric, boolean or string columns).
    settings
        ``lists.cross_sell`` of the configuration (products, top_k, holdout_fraction, seed,
        min_positives, max_iter).

    Returns
    -------
    CrossSellResult
        Recommendations (top ``top_k`` per customer among products not held, a product skipped
        for too few holders is never recommended) and the held-out evaluation per product.
    """
    flags = [holds_column(p) for p in settings.products]
    for col in ["customer_id", *flags]:
        if col not in customers.columns:
            raise ValueError(f"recommend_products: required column {col} missing")
    # Import before limiting: threadpoolctl only limits thread pools already loaded.
    import sklearn.ensemble  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=settings.threads):
        return _recommend(customers, settings, flags)


def _recommend(
    customers: pl.DataFrame, settings: CrossSellConfig, flags: list[str]
) -> CrossSellResult:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    frame = customers.sort("customer_id")
    n = frame.height
    rng = np.random.default_rng(settings.seed)
    holdout = np.zeros(n, dtype=bool)
    holdout[rng.permutation(n)[: round(n * settings.holdout_fraction)]] = True
    ids = frame["customer_id"]
    score_frames: list[pl.DataFrame] = []
    evaluation: list[dict[str, object]] = []
    for product, flag in zip(settings.products, flags, strict=True):
        y = frame[flag].fill_null(False).cast(pl.Boolean).to_numpy().astype(int)
        x, _ = _design_matrix(frame, exclude={"customer_id", flag})
        y_train, y_test = y[~holdout], y[holdout]
        row: dict[str, object] = {
            "product_code": product,
            "train_customers": int((~holdout).sum()),
            "holdout_customers": int(holdout.sum()),
            "holdout_holders": int(y_test.sum()),
            "base_rate": float(y_test.mean()) if len(y_test) else None,
            "auc": None,
            "top_decile_lift": None,
        }
        positives, negatives = int(y_train.sum()), int(len(y_train) - y_train.sum())
        if min(positives, negatives) < settings.min_positives or x.shape[1] == 0:
            row["status"] = (
                f"skipped: {positives} holders and {negatives} non-holders in training "
                f"(need {settings.min_positives} of each)"
            )
            evaluation.append(row)
            continue
        model = HistGradientBoostingClassifier(
            max_iter=settings.max_iter, random_state=settings.seed, early_stopping=False
        )
        model.fit(x[~holdout], y_train)
        scores = model.predict_proba(x)[:, 1]
        test_scores = scores[holdout]
        if 0 < y_test.sum() < len(y_test):
            row["auc"] = float(roc_auc_score(y_test, test_scores))
        row["top_decile_lift"] = top_decile_lift(y_test, test_scores)
        row["status"] = "fitted"
        evaluation.append(row)
        score_frames.append(
            pl.DataFrame(
                {"customer_id": ids, "product_code": product, "propensity_score": scores}
            ).filter(pl.Series(y == 0))
        )
    eval_schema = {
        "product_code": pl.String,
        "status": pl.String,
        "train_customers": pl.Int64,
        "holdout_customers": pl.Int64,
        "holdout_holders": pl.Int64,
        "base_rate": pl.Float64,
        "auc": pl.Float64,
        "top_decile_lift": pl.Float64,
    }
    eval_frame = pl.DataFrame(evaluation, schema=eval_schema)
    if not score_frames:
        empty = pl.DataFrame(
            schema={
                "customer_id": pl.String,
                "product_rank": pl.Int32,
                "product_code": pl.String,
                "propensity_score": pl.Float64,
            }
        )
        return CrossSellResult(empty, eval_frame)
    recs = (
        pl.concat(score_frames)
        .sort(["customer_id", "propensity_score", "product_code"], descending=[False, True, False])
        .with_columns(
            product_rank=pl.col("propensity_score").cum_count().over("customer_id").cast(pl.Int32)
        )
        .filter(pl.col("product_rank") <= settings.top_k)
        .select("customer_id", "product_rank", "product_code", "propensity_score")
    )
    return CrossSellResult(recs, eval_frame)
