"""Next product = take-up: will a customer open product P in the next h months?

One model per product (docs/cross_sell.md). A row is a customer at a cut-off (a month end) who
does not hold P then; the label ``took_<p>`` says they opened P within ``horizon_months`` after
it; features are strictly as of the cut-off (``sql/lists/int_cross_sell_inputs.sql``). The
classifier (scikit-learn ``HistGradientBoostingClassifier``) is trained on past cut-offs whose
label window has closed, one per fold of customers (a customer's rows at several cut-offs sit in
one fold), and each is calibrated on the fold it did not see: Platt scaling (Platt 1999) or
isotonic regression (Zadrozny & Elkan 2002); the probability is the mean of the calibrated
fold models (as scikit-learn's ``CalibratedClassifierCV(ensemble=True)``, with customer
folds). Today's customers are scored at the latest cut-off, whose outcome no model has seen.

Validation out of time: a second model, trained only on cut-offs whose label window ended by
the test cut-off (the latest complete one), scores the test cut-off: AUC, top-decile lift,
Brier score beside the Brier score of the training base rate, takers. A product with fewer
than ``min_takers`` takers in training is not modelled; its customers get a look-alike rank
instead (who resembles today's holders, out of fold), marked ``score_kind = 'lookalike'``,
with no probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from models.params.cross_sell import CrossSellConfig

ID_COLUMNS = ("customer_id", "cutoff_date", "label_end_date", "label_complete")
"""Columns of the inputs that are keys, never features."""


def holds_column(product: str) -> str:
    """The holding flag of ``product`` in the inputs (``holds_tda``)."""
    return f"holds_{product.lower()}"


def took_column(product: str) -> str:
    """The take-up label of ``product`` in the inputs (``took_tda``)."""
    return f"took_{product.lower()}"


def require_columns(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    """Raise when a column the function needs is missing."""
    for col in columns:
        if col not in frame.columns:
            raise ValueError(f"{what}: required column {col} missing")


@dataclass(frozen=True)
class DesignSpec:
    """The columns a model reads, fixed at fit time so scoring builds the same matrix."""

    numeric: tuple[str, ...]
    categorical: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def names(self) -> list[str]:
        """Feature names in matrix order."""
        out = list(self.numeric)
        for col, levels in self.categorical:
            out.extend(f"{col}={level}" for level in levels)
        return out


def design_spec(frame: pl.DataFrame, product: str) -> DesignSpec:
    """Every feature column of ``frame`` except keys, labels and the product's own holding."""
    numeric: list[str] = []
    categorical: list[tuple[str, tuple[str, ...]]] = []
    skip = set(ID_COLUMNS) | {holds_column(product)}
    for col in frame.columns:
        if col in skip or col.startswith("took_"):
            continue
        series = frame[col]
        if series.dtype in (pl.String, pl.Categorical):
            levels = series.cast(pl.String).fill_null("<null>").unique().sort().to_list()
            categorical.append((col, tuple(levels)))
        elif series.dtype.is_numeric() or series.dtype == pl.Boolean:
            numeric.append(col)
    return DesignSpec(tuple(numeric), tuple(categorical))


def design_matrix(frame: pl.DataFrame, spec: DesignSpec) -> np.ndarray:
    """Floats in ``spec`` order; unseen categories are all-zero, nulls stay NaN."""
    parts = [frame[c].cast(pl.Float64).to_numpy() for c in spec.numeric]
    for col, levels in spec.categorical:
        values = frame[col].cast(pl.String).fill_null("<null>")
        parts.extend((values == level).cast(pl.Float64).to_numpy() for level in levels)
    if not parts:
        return np.zeros((frame.height, 0))
    return np.column_stack(parts)


@dataclass
class TakeupModel:
    """A fitted, calibrated take-up model of one product."""

    product_code: str
    spec: DesignSpec
    classifiers: list[Any]
    calibrators: list[Any]
    calibration: str
    train_rows: int
    train_takers: int
    base_rate: float
    cutoffs: list[str] = field(default_factory=list)

    def predict(self, frame: pl.DataFrame, batch_rows: int = 200_000) -> np.ndarray:
        """Calibrated P(take-up within the horizon), scored in batches of ``batch_rows``."""
        out = np.empty(frame.height)
        for start in range(0, frame.height, batch_rows):
            part = frame.slice(start, batch_rows)
            x = design_matrix(part, self.spec)
            p = [
                calibrate(cal, self.calibration, clf.predict_proba(x)[:, 1])
                for clf, cal in zip(self.classifiers, self.calibrators, strict=True)
            ]
            out[start : start + part.height] = np.mean(p, axis=0)
        return out


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q)).reshape(-1, 1)


def fit_calibrator(raw: np.ndarray, y: np.ndarray, method: str) -> Any:
    """Platt scaling (a logistic regression on the raw score's logit) or isotonic regression."""
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, y)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=1e4).fit(_logit(raw), y)


def calibrate(calibrator: Any, method: str, raw: np.ndarray) -> np.ndarray:
    """Apply a calibrator from :func:`fit_calibrator`."""
    if method == "isotonic":
        return np.asarray(calibrator.predict(raw), dtype=float)
    return np.asarray(calibrator.predict_proba(_logit(raw))[:, 1], dtype=float)


def customer_folds(customer_id: pl.Series, folds: int) -> np.ndarray:
    """Fold of each row by a hash of its customer: a customer is in one fold at every cut-off."""
    return (customer_id.hash(seed=20261127) % folds).cast(pl.Int64).to_numpy()


def _classifier(settings: CrossSellConfig) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=settings.max_iter,
        learning_rate=0.08,
        max_leaf_nodes=15,
        min_samples_leaf=40,
        l2_regularization=1.0,
        random_state=settings.seed,
        early_stopping=False,
    )


def fit_takeup_model(rows: pl.DataFrame, product: str, settings: CrossSellConfig) -> TakeupModel:
    """Fit and calibrate the take-up model of ``product`` on labelled rows.

    Parameters
    ----------
    rows
        Non-holders of ``product`` at past cut-offs whose label window has closed, with
        ``customer_id``, ``cutoff_date``, ``took_<product>`` and the features.
    product
        Spec product code.
    settings
        ``lists.cross_sell`` of the configuration.

    Returns
    -------
    TakeupModel
        One classifier per customer fold, each fitted without its fold and calibrated on it.
    """
    require_columns(rows, ["customer_id", "cutoff_date", took_column(product)], "fit_takeup_model")
    spec = design_spec(rows, product)
    x = design_matrix(rows, spec)
    y = rows[took_column(product)].cast(pl.Int8).to_numpy()
    fold = customer_folds(rows["customer_id"], settings.calibration_folds)
    classifiers: list[Any] = []
    calibrators: list[Any] = []
    for k in range(settings.calibration_folds):
        held, train = fold == k, fold != k
        if not (0 < y[train].sum() < train.sum() and y[held].sum() > 0):
            continue
        clf = _classifier(settings).fit(x[train], y[train])
        classifiers.append(clf)
        raw = clf.predict_proba(x[held])[:, 1]
        calibrators.append(fit_calibrator(raw, y[held], settings.calibration))
    if not classifiers:
        raise ValueError(f"fit_takeup_model: {product} has too few takers in some fold")
    return TakeupModel(
        product_code=product,
        spec=spec,
        classifiers=classifiers,
        calibrators=calibrators,
        calibration=settings.calibration,
        train_rows=rows.height,
        train_takers=int(y.sum()),
        base_rate=float(y.mean()) if len(y) else 0.0,
        cutoffs=sorted({str(d) for d in rows["cutoff_date"].to_list()}),
    )


def top_decile_lift(y_true: np.ndarray, scores: np.ndarray) -> float | None:
    """Takers' rate among the top-scored 10 % over the takers' rate among all.

    The top decile is the ``ceil(n / 10)`` best scores (ties broken by position, stable).
    None when there are no takers.
    """
    n = len(y_true)
    base = float(np.mean(y_true)) if n else 0.0
    if n == 0 or base == 0.0:
        return None
    k = int(np.ceil(n / 10))
    order = np.argsort(-scores, kind="stable")[:k]
    return float(np.mean(y_true[order])) / base


def takeup_metrics(y: np.ndarray, p: np.ndarray, base_rate: float) -> dict[str, float | None]:
    """AUC, top-decile lift, Brier score, the base rate's Brier score, mean predicted, observed."""
    from sklearn.metrics import roc_auc_score

    y = y.astype(float)
    has_both = 0 < y.sum() < len(y)
    brier = float(np.mean((p - y) ** 2)) if len(y) else None
    brier_base = float(np.mean((base_rate - y) ** 2)) if len(y) else None
    return {
        "auc": float(roc_auc_score(y, p)) if has_both else None,
        "top_decile_lift": top_decile_lift(y, p),
        "brier_score": brier,
        "brier_base_rate": brier_base,
        "mean_predicted": float(np.mean(p)) if len(y) else None,
        "observed_rate": float(np.mean(y)) if len(y) else None,
    }


def labelled_rows(history: pl.DataFrame, product: str) -> pl.DataFrame:
    """Non-holders of ``product`` at cut-offs whose label window has closed."""
    return history.filter(pl.col("label_complete") & ~pl.col(holds_column(product)))


def evaluate_out_of_time(
    history: pl.DataFrame, product: str, settings: CrossSellConfig
) -> dict[str, Any]:
    """Train on cut-offs whose outcome was known by the test cut-off; score the test cut-off.

    The test cut-off is the latest whose label window has closed; training rows are those
    whose label window ended on or before it, so nothing the test outcome depends on is seen.

    Returns
    -------
    dict
        ``test_cutoff_date``, ``train_cutoffs``, ``train_rows``, ``train_takers``,
        ``test_rows``, ``takers`` (test), the metrics of :func:`takeup_metrics` and ``status``.
    """
    rows = labelled_rows(history, product)
    out: dict[str, Any] = {"product_code": product, "test_cutoff_date": None}
    if rows.height == 0:
        return {**out, "status": "no complete cut-off", "train_takers": 0, "takers": 0}
    test_cutoff = rows["cutoff_date"].max()
    test = rows.filter(pl.col("cutoff_date") == test_cutoff)
    train = rows.filter(pl.col("label_end_date") <= test_cutoff)
    y_train = train[took_column(product)].sum() if train.height else 0
    out.update(
        test_cutoff_date=test_cutoff,
        train_cutoffs=train["cutoff_date"].n_unique() if train.height else 0,
        train_rows=train.height,
        train_takers=int(y_train),
        test_rows=test.height,
        takers=int(test[took_column(product)].sum()),
    )
    if y_train < settings.min_takers:
        return {**out, "status": f"too few takers to learn ({y_train} < {settings.min_takers})"}
    model = fit_takeup_model(train, product, settings)
    p = model.predict(test, settings.score_batch_rows)
    y = test[took_column(product)].cast(pl.Int8).to_numpy()
    return {**out, **takeup_metrics(y, p, model.base_rate), "status": "validated"}


def lookalike_learnable(customers: int, holders: int, settings: CrossSellConfig) -> bool:
    """Whether a look-alike of a product can be learnt at the current cut-off: at least 200
    customers, of whom at least ``min_takers`` hold the product and as many do not."""
    enough = holders >= settings.min_takers and customers - holders >= settings.min_takers
    return enough and customers >= 200


@dataclass
class LookalikeModel:
    """Who resembles today's holders of one product: a classifier per customer fold, each
    fitted without its fold (None where the others hold no holder or no non-holder)."""

    product_code: str
    spec: DesignSpec
    classifiers: list[Any | None]

    def predict(self, frame: pl.DataFrame, batch_rows: int = 200_000) -> np.ndarray:
        """Each customer's resemblance by the classifier of their fold, one that never saw
        them (0 where the fold has none), scored in batches of ``batch_rows``. An order, not
        a probability: ranked over every customer afterwards. A row's score depends on that
        row alone, so the customers may be scored in parts."""
        require_columns(frame, ["customer_id"], "LookalikeModel.predict")
        fold = customer_folds(frame["customer_id"], len(self.classifiers))
        raw = np.zeros(frame.height)
        for k, clf in enumerate(self.classifiers):
            if clf is None:
                continue
            test = np.flatnonzero(fold == k)
            for start in range(0, len(test), batch_rows):
                rows = test[start : start + batch_rows]
                raw[rows] = clf.predict_proba(design_matrix(frame[rows], self.spec))[:, 1]
        return raw


def fit_lookalike(sample: pl.DataFrame, product: str, settings: CrossSellConfig) -> LookalikeModel:
    """Learn who holds ``product`` from the features at the current cut-off.

    Parameters
    ----------
    sample
        Customers at the current cut-off, one row each in ``customer_id`` order, with
        ``holds_<product>`` and the features: everyone, or in a larger bank the md5 sample
        (``sql/lists/int_cross_sell_inputs.sql``'s rule) of about
        ``training_sample_customers`` customers outside each fold.
    product
        Spec product code.
    settings
        ``lists.cross_sell`` of the configuration.

    Returns
    -------
    LookalikeModel
        One classifier per customer fold (:func:`customer_folds`), fitted on the sample's
        customers outside the fold, so that every customer, in the sample or not, is scored
        by a model that did not see them.
    """
    flag = holds_column(product)
    require_columns(sample, ["customer_id", flag], "fit_lookalike")
    frame = sample.drop([c for c in sample.columns if c.startswith("took_")])
    spec = design_spec(frame, product)
    x = design_matrix(frame, spec)
    y = sample[flag].cast(pl.Int8).to_numpy()
    fold = customer_folds(sample["customer_id"], settings.calibration_folds)
    classifiers: list[Any | None] = []
    for k in range(settings.calibration_folds):
        train = fold != k
        learnable = 0 < y[train].sum() < train.sum()
        classifiers.append(_classifier(settings).fit(x[train], y[train]) if learnable else None)
    return LookalikeModel(product_code=product, spec=spec, classifiers=classifiers)


SCORES_SCHEMA = {
    "customer_id": pl.String,
    "product_code": pl.String,
    "score_kind": pl.String,
    "is_held": pl.Boolean,
    "propensity_score": pl.Float64,
    "resemblance_score": pl.Float64,
}
""":func:`score_products`' columns."""


def score_products(
    current: pl.DataFrame, models: dict[str, TakeupModel | LookalikeModel], batch_rows: int
) -> pl.DataFrame:
    """Customers' scores at the current cut-off, per product of ``models``.

    Parameters
    ----------
    current
        Customers at the current cut-off (``int_cross_sell_inputs``), one row each: all of
        them, or one part of them: a customer's rows depend on that customer's row alone.
    models
        Per product, its stored take-up model or its look-alike.
    batch_rows
        Customers scored per batch.

    Returns
    -------
    pl.DataFrame
        :data:`SCORES_SCHEMA`: a take-up product's non-holders with their calibrated
        ``propensity_score``; a look-alike product's customers, holders too (``is_held``),
        with their ``resemblance_score``, to be ranked over every customer
        (``sql/lists/cross_sell_scores.sql``).
    """
    require_columns(current, ["customer_id"], "score_products")
    frames = [pl.DataFrame(schema=SCORES_SCHEMA)]
    for product, model in models.items():
        held = pl.col(holds_column(product))
        if isinstance(model, TakeupModel):
            rows = current.filter(~held)
            p = pl.Series(model.predict(rows, batch_rows), dtype=pl.Float64)
            scored = rows.select("customer_id", held.alias("is_held"), propensity_score=p)
        else:
            raw = pl.Series(model.predict(current, batch_rows), dtype=pl.Float64)
            scored = current.select("customer_id", held.alias("is_held"), resemblance_score=raw)
        kind = "takeup" if isinstance(model, TakeupModel) else "lookalike"
        frames.append(scored.with_columns(product_code=pl.lit(product), score_kind=pl.lit(kind)))
    return pl.concat(frames, how="diagonal_relaxed")


def rank_products(
    scores: pl.DataFrame, product_value: dict[str, float], call_cost: float, top_k: int
) -> pl.DataFrame:
    """Each customer's best products by expected value of a call, look-alikes after.

    Parameters
    ----------
    scores
        ``customer_id``, ``product_code``, ``score_kind`` (``takeup`` or ``lookalike``),
        ``propensity_score`` (calibrated P, null for look-alikes), ``lookalike_rank``.
    product_value
        Annual contribution of one holder of each product (CNY, the contribution model).
    call_cost
        Cost of one outbound call (CNY).
    top_k
        Products kept per customer.

    Returns
    -------
    pl.DataFrame
        scores plus ``expected_value_amount`` = P x product value - call cost (null for
        look-alikes) and ``product_rank`` (1 = best), at most ``top_k`` per customer.
    """
    require_columns(
        scores,
        ["customer_id", "product_code", "score_kind", "propensity_score", "lookalike_rank"],
        "rank_products",
    )
    value = pl.col("product_code").replace_strict(
        product_value, default=None, return_dtype=pl.Float64
    )
    return (
        scores.with_columns(
            expected_value_amount=pl.when(pl.col("score_kind") == "takeup").then(
                pl.col("propensity_score") * value - call_cost
            ),
            _kind=(pl.col("score_kind") != "takeup").cast(pl.Int8),
        )
        .sort(
            ["customer_id", "_kind", "expected_value_amount", "lookalike_rank", "product_code"],
            descending=[False, False, True, True, False],
            nulls_last=True,
        )
        .with_columns(product_rank=pl.int_range(1, pl.len() + 1).over("customer_id").cast(pl.Int32))
        .filter(pl.col("product_rank") <= top_k)
        .drop("_kind")
    )
