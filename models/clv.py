"""Customer lifetime value: BG/NBD (or MBG/NBD) purchase model and Gamma-Gamma spend model.

The only importer of ``lifetimes`` in the project; it is imported lazily, inside functions,
because importing it takes about a second and sets a (deprecated) pandas option.

Vocabulary (Fader, Hardie & Lee 2005, "Counting your customers the easy way", Marketing
Science 24(2)): ``frequency`` x is the number of repeat events (event days after the first),
``recency`` t_x the time from the first to the last event, ``T`` the time from the first event
to the end of the observation period, all in model time units of ``time_unit_days`` days.
Monetary value is the profit contribution per event (CNY), not the transaction amount.

Speed: customers share few distinct (x, t_x, T) triples, so the purchase model is fitted on the
unique triples with ``weights`` (their counts) and scored on them, then joined back.

Equations used here (numbers refer to the papers):

- E[Y(t) | x, t_x, T]: BG/NBD conditional expectation, FHL 2005 eq. (10) (lifetimes'
  ``conditional_expected_number_of_purchases_up_to_time``).
- P(alive | x, t_x, T): FHL 2005 eq. (13) (MBG/NBD: Batislam, Denizel & Filiztekin 2007).
- Given alive at T, the event rate is Gamma(r + x, alpha + T) (FHL 2005, section 3), so
  P(no event in (T, T + s]) = ((alpha + T) / (alpha + T + s))^(r + x). Hence
  P(at least one event within s) = P(alive) * (1 - ((alpha + T)/(alpha + T + s))^(r + x)) and
  the median wait to the next event, given alive, is (alpha + T) * (2^(1/(r + x)) - 1).
- E[M | p, q, gamma, x, m_x] = (p (gamma + x m_x)) / (p x + q - 1): Fader & Hardie 2013,
  "The Gamma-Gamma model of monetary value", eq. (5).
- CLV = sum_{i=1..H} E[M] * (E[Y(i tau)] - E[Y((i-1) tau)]) / (1 + d)^i, tau one month in model
  units, d the monthly discount rate: the discrete discounted sum of Fader, Hardie & Lee 2005b
  ("RFM and CLV", JMR 42(4), eq. 2 discretised by month), as in lifetimes'
  ``customer_lifetime_value``. This is ``value_method: gamma_gamma``.
- CLV in money (``value_method: contribution``, the default): a bank earns most contribution
  on balances, not per event, so CLV = sum_{m=1..H} S(m) * c_m / (1 + d)^m with c_m the
  customer's expected contribution in month m (their run rate plus their trend shrunk toward
  the mean trend of customers of similar run rate, damped:
  ``sql/clv/clv_expected_contribution.sql``) and
  S(m) = P(still a customer at the end of month m | x, t_x, T). In BG/NBD a customer alive at
  T with rate lambda and dropout probability p survives each event with 1 - p, so
  P(alive at T + t | alive at T, lambda, p) = E[(1 - p)^N(t)] = exp(-lambda p t); lambda given
  alive is Gamma(r + x, alpha + T) (above) and p given alive after x repeat events Beta(a, b + x)
  (FHL 2005, section 3), so S(t) = P(alive) * E_p[((alpha + T) / (alpha + T + p t))^(r + x)],
  the expectation over p taken on 16 quantile midpoints of the Beta.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import warnings
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from models.errors import ModelInputError
from models.params.clv import ClvConfig, LifeStageRules

if TYPE_CHECKING:  # pragma: no cover
    from numpy.typing import NDArray

LIFE_STAGES = ("new", "growing", "mature", "declining", "dormant")
KEY = ["frequency", "recency_days", "t_days"]
GG_METHOD = "gamma_gamma"
CONTRIBUTION_METHOD = "survival_x_contribution"
OWN_VALUE_METHOD = "own_value_per_event"
"""How a customer's CLV was valued (``clv_method``)."""


class ClvFitError(ModelInputError):
    """The data cannot support a lifetime-value fit (too few customers, no repeaters,
    no convergence); the message says which and what to change."""


def require_columns(frame: pl.DataFrame, columns: list[str], what: str) -> None:
    """Raise ModelInputError naming the first required column that ``frame`` lacks."""
    for col in columns:
        if col not in frame.columns:
            raise ModelInputError(f"{what}: required column {col} missing")


def _lifetimes() -> Any:
    """Import lifetimes lazily, without letting its import-time pandas option warn."""
    with warnings.catch_warnings():
        # lifetimes 0.11.3 sets pandas' mode.chained_assignment at import; pandas 3 deprecates
        # the option (Pandas4Warning) but it is harmless.
        warnings.simplefilter("ignore")
        import lifetimes

    return lifetimes


@dataclass(frozen=True)
class PurchaseFit:
    """A fitted BG/NBD or MBG/NBD model and what it was fitted on."""

    model: str
    params: dict[str, float]
    std_errors: dict[str, float | None]
    log_likelihood: float
    n_customers: int
    n_unique_rows: int
    n_repeaters: int
    time_unit_days: int
    penalizer: float
    fitter: Any = field(repr=False, compare=False)


@dataclass(frozen=True)
class SpendFit:
    """A fitted Gamma-Gamma model, or why it was skipped (``fitter`` None)."""

    status: str
    params: dict[str, float] = field(default_factory=dict)
    std_errors: dict[str, float | None] = field(default_factory=dict)
    n_customers: int = 0
    fitter: Any = field(default=None, repr=False, compare=False)

    @property
    def fitted(self) -> bool:
        return self.fitter is not None


def _std_errors(fitter: Any) -> dict[str, float | None]:
    try:
        # a parameter at its boundary gives a negative variance: its error is unknown (None)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            se = fitter._compute_standard_errors()
    except (np.linalg.LinAlgError, ValueError, AttributeError):
        return dict.fromkeys(fitter.params_.index)
    return {k: (float(v) if math.isfinite(float(v)) else None) for k, v in se.items()}


def _checked_params(fitter: Any, what: str, hint: str) -> dict[str, float]:
    params = {str(k): float(v) for k, v in fitter.params_.items()}
    bad = [k for k, v in params.items() if not (math.isfinite(v) and v > 0)]
    if bad:
        raise ClvFitError(f"{what}: parameters {bad} not finite and positive; {hint}")
    return params


def fit_purchase_model(
    rfm: pl.DataFrame, cfg: ClvConfig, initial_params: dict[str, float] | None = None
) -> PurchaseFit:
    """Fit BG/NBD (or MBG/NBD, ``cfg.model``) on unique (frequency, recency, T) rows.

    Parameters
    ----------
    rfm
        One row per customer with ``frequency`` (repeat event days), ``recency_days`` and
        ``t_days`` (exact day differences); or, with a ``weight`` column, one row per
        distinct (frequency, recency, T) and how many customers share it (a SQL ``group
        by``: the same fit without a row per customer).
    cfg
        The ``clv`` section: model, time unit, penalizer, minimum customers and repeaters.
    initial_params
        Start the optimiser here (r, alpha in model units, a, b), e.g. the previous night's
        parameters; lifetimes' default start otherwise.

    Returns
    -------
    PurchaseFit
        Parameters (alpha in model units), standard errors (None where the Hessian is
        singular), log-likelihood and counts.

    Raises
    ------
    ClvFitError
        Too few customers or repeaters, everyone observed for zero days, or no convergence.

    Examples
    --------
    >>> import polars as pl
    >>> from models.params.clv import ClvConfig
    >>> rfm = pl.DataFrame({"frequency": [0, 1, 2] * 50, "recency_days": [0, 20, 60] * 50,
    ...                     "t_days": [90, 100, 120] * 50})
    >>> fit_purchase_model(rfm, ClvConfig(min_customers=100)).model
    'bgnbd'
    """
    require_columns(rfm, KEY, "customer RFM summary")
    _check_rfm(rfm)
    count = pl.col("weight").sum() if "weight" in rfm.columns else pl.len()
    unique = rfm.group_by(KEY).agg(count.alias("weight")).sort(KEY)
    n = int(unique["weight"].sum())
    repeaters = int(unique.filter(pl.col("frequency") > 0)["weight"].sum())
    if n < cfg.min_customers:
        raise ClvFitError(
            f"only {n} customers with an event, fewer than clv.min_customers = "
            f"{cfg.min_customers}: load more history or lower the minimum"
        )
    if repeaters < cfg.min_repeaters:
        raise ClvFitError(
            f"only {repeaters} of {n} customers made a repeat event, fewer than "
            f"clv.min_repeaters = {cfg.min_repeaters}: the purchase model cannot be fitted "
            "(load more history, or widen clv.events)"
        )
    if rfm.filter(pl.col("t_days") > 0).height == 0:
        raise ClvFitError("every customer was first seen on the business date (T = 0)")
    unit = float(cfg.time_unit_days)
    lt = _lifetimes()
    hint = "raise clv.penalizer / clv.max_penalizer or check the event definition"
    fitter = None
    for penalizer in penalizer_ladder(cfg.penalizer, cfg.max_penalizer):
        fitter = (
            lt.ModifiedBetaGeoFitter(penalizer_coef=penalizer)
            if cfg.model == "mbgnbd"
            else lt.BetaGeoFitter(penalizer_coef=penalizer)
        )
        try:
            # lifetimes prints the optimiser's state before raising ConvergenceError (and sets
            # standard errors with a sqrt of possibly negative variances): keep both quiet.
            with (
                contextlib.redirect_stdout(io.StringIO()),
                warnings.catch_warnings(),
                np.errstate(all="ignore"),
            ):
                warnings.simplefilter("ignore", RuntimeWarning)
                fitter.fit(
                    unique["frequency"].to_numpy(),
                    unique["recency_days"].to_numpy() / unit,
                    unique["t_days"].to_numpy() / unit,
                    weights=unique["weight"].to_numpy(),
                    # lifetimes optimises the logs of the parameters
                    initial_params=None
                    if initial_params is None
                    else np.log([initial_params[k] for k in ("r", "alpha", "a", "b")]),
                )
            break
        except lt.utils.ConvergenceError:
            fitter = None
    if fitter is None:
        raise ClvFitError(
            f"{cfg.model} fit did not converge on {n} customers with penalizer up to "
            f"{max(cfg.penalizer, cfg.max_penalizer)}; {hint}"
        )
    params = _checked_params(fitter, cfg.model, hint)
    ll = -float(fitter._negative_log_likelihood_) * float(unique["weight"].sum())
    return PurchaseFit(
        model=cfg.model,
        params=params,
        std_errors=_std_errors(fitter),
        log_likelihood=ll,
        n_customers=n,
        n_unique_rows=unique.height,
        n_repeaters=repeaters,
        time_unit_days=cfg.time_unit_days,
        penalizer=float(fitter.penalizer_coef),
        fitter=fitter,
    )


FIT_KEY_LAYOUT = 1
"""Version of :func:`purchase_fit_key`'s recipe (bump it when fit_purchase_model changes)."""


def purchase_fit_key(rfm: pl.DataFrame, cfg: ClvConfig) -> str:
    """A fingerprint of everything :func:`fit_purchase_model` from the default start depends
    on: the unique (frequency, recency, T) rows with their counts, the fit's settings and the
    versions of the libraries that fit. Equal keys, equal fits, so a stored fit can stand in
    for a refit (the clv stage reuses the month's calibration fit this way): a late posting
    before the cut-off, another penalizer or model, a library upgrade all change the key.

    ``rfm`` as :func:`fit_purchase_model` takes it: one row per customer, or the distinct
    triples with a ``weight`` column (the clv stage's SQL ``group by``); the same customers
    give the same key either way."""
    from importlib.metadata import version

    require_columns(rfm, KEY, "customer RFM summary")
    settings = {
        "model": cfg.model,
        "time_unit_days": cfg.time_unit_days,
        "penalizer": cfg.penalizer,
        "max_penalizer": cfg.max_penalizer,
        "min_customers": cfg.min_customers,
        "min_repeaters": cfg.min_repeaters,
        "layout": FIT_KEY_LAYOUT,
        "versions": [version(p) for p in ("lifetimes", "autograd", "scipy", "numpy")],
    }
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    count = pl.col("weight").sum() if "weight" in rfm.columns else pl.len()
    unique = rfm.group_by(KEY).agg(count.alias("weight")).sort(KEY)
    for col in (*KEY, "weight"):
        digest.update(unique[col].cast(pl.Int64).fill_null(-1).to_numpy().tobytes())
    return digest.hexdigest()[:32]


def stored_purchase_fit(row: dict[str, Any]) -> PurchaseFit:
    """A purchase model rebuilt from what :func:`fit_purchase_model` returned and the stage
    stored (``model``, ``penalizer``, counts, log-likelihood, each parameter and its ``_se``).
    lifetimes predicts from ``params_`` alone, so it predicts the same numbers as the fit."""
    names = ["r", "alpha", "a", "b"]
    lt = _lifetimes()
    fitter = (
        lt.ModifiedBetaGeoFitter(penalizer_coef=row["penalizer"])
        if row["model"] == "mbgnbd"
        else lt.BetaGeoFitter(penalizer_coef=row["penalizer"])
    )
    _set_params(fitter, {k: float(row[k]) for k in names})
    return PurchaseFit(
        model=str(row["model"]),
        params={k: float(row[k]) for k in names},
        std_errors={k: row[f"{k}_se"] for k in names},
        log_likelihood=float(row["log_likelihood"]),
        n_customers=int(row["n_customers"]),
        n_unique_rows=int(row["n_unique_rows"]),
        n_repeaters=int(row["n_repeaters"]),
        time_unit_days=int(row["time_unit_days"]),
        penalizer=float(row["penalizer"]),
        fitter=fitter,
    )


def _set_params(fitter: Any, params: dict[str, float]) -> None:
    import pandas as pd

    fitter.params_ = pd.Series(list(params.values()), index=list(params))


def bare_purchase_fit(purchase: PurchaseFit) -> PurchaseFit:
    """``purchase`` on a lifetimes fitter that holds its parameters and nothing else (no
    training data, no Hessian): what a function shipped to Spark's executors carries; it
    predicts the same numbers (:func:`stored_purchase_fit`)."""
    return stored_purchase_fit(
        {
            "model": purchase.model,
            "penalizer": purchase.penalizer,
            "log_likelihood": purchase.log_likelihood,
            "n_customers": purchase.n_customers,
            "n_unique_rows": purchase.n_unique_rows,
            "n_repeaters": purchase.n_repeaters,
            "time_unit_days": purchase.time_unit_days,
            **purchase.params,
            **{f"{k}_se": v for k, v in purchase.std_errors.items()},
        }
    )


def scoring_fits(purchase: PurchaseFit, spend: SpendFit) -> tuple[PurchaseFit, SpendFit]:
    """The fits as :func:`score_customers` needs them, for a function shipped to other
    processes (Spark's executors): the same parameters on fitters that hold nothing else.
    A fitted lifetimes model keeps its training data (``data``: the unique triples, millions
    of rows for a large bank) and its Hessian; predictions read ``params_`` alone."""
    lt = _lifetimes()
    bare = bare_purchase_fit(purchase)
    if not spend.fitted:
        return bare, spend
    fitter = lt.GammaGammaFitter(penalizer_coef=spend.fitter.penalizer_coef)
    _set_params(fitter, spend.params)
    return bare, replace(spend, fitter=fitter)


def penalizer_ladder(first: float, ceiling: float) -> list[float]:
    """The penalizers to try in turn: ``first``, then 1e-4, 1e-3, ... (x10) up to ``ceiling``.

    >>> penalizer_ladder(0.0, 0.01)
    [0.0, 0.0001, 0.001, 0.01]
    """
    ladder = [first]
    step = 1e-4
    while step <= ceiling * (1 + 1e-9):
        if step > first:
            ladder.append(step)
        step = round(step * 10, 12)
    return ladder


def _check_rfm(rfm: pl.DataFrame) -> None:
    bad = rfm.filter(
        (pl.col("frequency") < 0)
        | (pl.col("recency_days") < 0)
        | (pl.col("recency_days") > pl.col("t_days"))
        | ((pl.col("frequency") == 0) & (pl.col("recency_days") != 0))
        | pl.any_horizontal(pl.col(KEY).is_null())
    )
    if bad.height:
        raise ModelInputError(
            f"customer RFM summary: {bad.height} rows break 0 <= recency <= T (recency 0 when "
            "frequency is 0) or hold nulls; the RFM SQL is wrong"
        )


def fit_spend_model(rfm: pl.DataFrame, cfg: ClvConfig) -> SpendFit:
    """Fit Gamma-Gamma on repeat customers with positive contribution per event.

    Parameters
    ----------
    rfm
        One row per customer with ``frequency`` and ``monetary_value`` (mean contribution per
        event, CNY; or mean repeat spend for the CDNOW check).
    cfg
        The ``clv`` section (penalizer, min_repeaters).

    Returns
    -------
    SpendFit
        Fitted, or skipped (``fitted`` False, ``status`` says why) when fewer than
        ``min_repeaters`` customers qualify or the fit does not converge: the caller then uses
        each customer's own contribution per event.
    """
    require_columns(rfm, ["frequency", "monetary_value"], "customer RFM summary")
    eligible = rfm.filter(
        (pl.col("frequency") > 0)
        & (pl.col("monetary_value") > 0)
        & pl.col("monetary_value").is_finite()
    )
    if eligible.height < cfg.min_repeaters:
        return SpendFit(
            status=f"skipped: {eligible.height} repeat customers with positive contribution "
            f"(< clv.min_repeaters = {cfg.min_repeaters})",
            n_customers=eligible.height,
        )
    # sorted: the likelihood's sum runs in the rows' order, and group_by's order varies from
    # run to run (the parameters then differed in the 14th digit, and a few cents with them)
    unique = (
        eligible.group_by(["frequency", "monetary_value"])
        .agg(pl.len().alias("weight"))
        .sort(["frequency", "monetary_value"])
    )
    lt = _lifetimes()
    fitter = None
    for penalizer in penalizer_ladder(cfg.penalizer, cfg.max_penalizer):
        fitter = lt.GammaGammaFitter(penalizer_coef=penalizer)
        try:
            with (
                contextlib.redirect_stdout(io.StringIO()),
                warnings.catch_warnings(),
                np.errstate(all="ignore"),
            ):
                warnings.simplefilter("ignore", RuntimeWarning)
                fitter.fit(
                    unique["frequency"].to_numpy(),
                    unique["monetary_value"].to_numpy().astype(float),
                    weights=unique["weight"].to_numpy(),
                )
            break
        except lt.utils.ConvergenceError:
            fitter = None
    if fitter is None:
        return SpendFit(status="skipped: Gamma-Gamma did not converge", n_customers=eligible.height)
    params = {str(k): float(v) for k, v in fitter.params_.items()}
    if not all(math.isfinite(v) and v > 0 for v in params.values()) or params["q"] <= 1:
        # q <= 1 makes the population mean p*gamma/(q-1) infinite or negative.
        return SpendFit(
            status=f"skipped: Gamma-Gamma parameters unusable {params}",
            n_customers=eligible.height,
        )
    return SpendFit(
        status="fitted",
        params=params,
        std_errors=_std_errors(fitter),
        n_customers=eligible.height,
        fitter=fitter,
    )


def expected_events(
    fit: PurchaseFit, t: float, frequency: NDArray[Any], recency: NDArray[Any], T: NDArray[Any]
) -> NDArray[np.float64]:
    """E[Y(t) | x, t_x, T] (FHL 2005 eq. 10), all times in model units."""
    out = fit.fitter.conditional_expected_number_of_purchases_up_to_time(
        t, np.asarray(frequency), np.asarray(recency, dtype=float), np.asarray(T, dtype=float)
    )
    return np.asarray(out, dtype=float)


def _unique_scores(unique: pl.DataFrame, fit: PurchaseFit, cfg: ClvConfig) -> pl.DataFrame:
    unit = float(fit.time_unit_days)
    x = unique["frequency"].to_numpy()
    tx = unique["recency_days"].to_numpy() / unit
    T = unique["t_days"].to_numpy() / unit
    r, alpha = fit.params["r"], fit.params["alpha"]
    month = cfg.days_per_month / unit
    cumulative = [np.zeros(len(x))]
    for i in range(1, cfg.horizon_months + 1):
        cumulative.append(expected_events(fit, i * month, x, tx, T))
    discounted = np.zeros(len(x))
    for i in range(1, cfg.horizon_months + 1):
        discounted += (cumulative[i] - cumulative[i - 1]) / (1 + cfg.monthly_discount_rate) ** i
    p_alive = np.asarray(fit.fitter.conditional_probability_alive(x, tx, T), dtype=float)
    s = cfg.p_active_days / unit
    silent = ((alpha + T) / (alpha + T + s)) ** (r + x)
    median_wait = (alpha + T) * (2.0 ** (1.0 / (r + x)) - 1.0) * unit
    return unique.with_columns(
        expected_events=pl.Series(cumulative[-1]),
        discounted_events=pl.Series(discounted),
        p_alive=pl.Series(np.clip(p_alive, 0.0, 1.0)),
        p_active_30d=pl.Series(np.clip(p_alive * (1.0 - silent), 0.0, 1.0)),
        expected_days_to_next_event=pl.Series(median_wait),
    )


def score_customers(
    rfm: pl.DataFrame,
    purchase: PurchaseFit,
    spend: SpendFit,
    cfg: ClvConfig,
    value_method: str = "gamma_gamma",
) -> pl.DataFrame:
    """Score every customer: expected events, P(alive), activity, value per event, CLV, stage.

    Parameters
    ----------
    rfm
        One row per customer: ``customer_id``, ``frequency``, ``recency_days``, ``t_days``,
        ``monetary_value`` (contribution per event, CNY; null means unknown, taken as 0),
        ``days_since_last_event`` and ``events_recent`` (events in the last
        ``life_stages.recent_window_days`` days).
    purchase, spend
        The fitted models.
    cfg
        The ``clv`` section: horizon, discount rate, life-stage rules.
    value_method
        ``gamma_gamma`` (expected events x value per event) or ``survival_x_contribution``
        (:func:`value_in_money`; needs ``monthly_contribution``): from
        :func:`choose_value_method`.

    Returns
    -------
    pl.DataFrame
        rfm plus ``expected_events`` (over the horizon), ``p_alive``, ``p_active_30d``,
        ``expected_days_to_next_event`` (median wait given alive, days),
        ``expected_contribution_per_event``, ``clv_amount`` (float CNY), ``clv_method`` (per
        customer: ``gamma_gamma``, ``own_value_per_event`` or ``survival_x_contribution``)
        and ``life_stage``.

    Notes
    -----
    Expected contribution per event: Gamma-Gamma's conditional expectation for customers with
    positive contribution (a one-time customer gets the population mean, x = 0 in eq. 5); the
    customer's own contribution per event, unshrunk, when it is zero or negative (Gamma-Gamma
    only describes positive values) or when Gamma-Gamma was skipped. CLV is the discounted
    expected number of events times that value, so a loss-making customer has a negative CLV.

    Raises
    ------
    ClvFitError
        If any score is NaN or infinite.
    """
    require_columns(
        rfm,
        ["customer_id", *KEY, "monetary_value", "days_since_last_event", "events_recent"],
        "customer RFM summary",
    )
    _check_rfm(rfm)
    unique = rfm.select(KEY).unique()
    scored = rfm.join(_unique_scores(unique, purchase, cfg), on=KEY, how="left")
    monetary = pl.col("monetary_value").cast(pl.Float64).fill_null(0.0)
    if spend.fitted:
        p, q, v = spend.params["p"], spend.params["q"], spend.params["v"]
        x = pl.col("frequency").cast(pl.Float64)
        shrunk = (p * (v + x * monetary)) / (p * x + q - 1.0)
        per_event = pl.when(monetary > 0).then(shrunk).otherwise(monetary)
    else:
        per_event = monetary
    scored = scored.with_columns(expected_contribution_per_event=per_event).with_columns(
        clv_amount=pl.col("discounted_events") * pl.col("expected_contribution_per_event"),
        clv_method=pl.when(pl.lit(spend.fitted) & (monetary > 0))
        .then(pl.lit(GG_METHOD))
        .otherwise(pl.lit(OWN_VALUE_METHOD)),
    )
    if value_method == CONTRIBUTION_METHOD:
        scored = value_in_money(scored, purchase, cfg).with_columns(
            clv_amount=pl.col("money_clv_amount"), clv_method=pl.lit(CONTRIBUTION_METHOD)
        )
    elif value_method != GG_METHOD:
        raise ValueError(f"score_customers: unknown value_method {value_method}")
    scored = assign_life_stage(scored, cfg.life_stages).drop("discounted_events")
    _require_finite(
        scored,
        [
            "expected_events",
            "p_alive",
            "p_active_30d",
            "expected_days_to_next_event",
            "expected_contribution_per_event",
            "clv_amount",
        ],
    )
    return scored


def _require_finite(frame: pl.DataFrame, columns: list[str]) -> None:
    for col in columns:
        bad = frame.filter(~pl.col(col).is_finite() | pl.col(col).is_null()).height
        if bad:
            raise ClvFitError(
                f"{bad} customers got a NaN or infinite {col}; no scores were written. "
                "Check the fitted parameters in clv_fit_runs and raise clv.penalizer"
            )


def assign_life_stage(scored: pl.DataFrame, rules: LifeStageRules) -> pl.DataFrame:
    """Give each customer a life stage; the first matching rule wins.

    1. dormant: P(alive) < ``dormant_max_p_alive`` or the last event is at least
       ``dormant_min_days_since_last_event`` days ago;
    2. new: first event fewer than ``new_max_tenure_days`` days ago;
    3. declining: P(alive) < ``declining_max_p_alive`` or the recent event rate (events in the
       last ``recent_window_days`` / window) is below ``declining_max_rate_ratio`` times the
       lifetime rate ((frequency + 1) / (T + 1) days);
    4. growing: the recent rate is above ``growing_min_rate_ratio`` times the lifetime rate, or
       fewer than ``mature_min_frequency`` repeat events so far;
    5. mature: everyone else.

    Parameters
    ----------
    scored
        Customers with ``p_alive``, ``days_since_last_event``, ``t_days``, ``frequency``,
        ``events_recent``.
    rules
        The ``clv.life_stages`` section.

    Returns
    -------
    pl.DataFrame
        ``scored`` plus ``life_stage``.
    """
    require_columns(
        scored,
        ["p_alive", "days_since_last_event", "t_days", "frequency", "events_recent"],
        "customer scores",
    )
    window = float(rules.recent_window_days)
    recent_rate = pl.col("events_recent") / pl.min_horizontal(
        pl.lit(window), pl.col("t_days").cast(pl.Float64) + 1.0
    )
    lifetime_rate = (pl.col("frequency") + 1) / (pl.col("t_days").cast(pl.Float64) + 1.0)
    stage = (
        pl.when(
            (pl.col("p_alive") < rules.dormant_max_p_alive)
            | (pl.col("days_since_last_event") >= rules.dormant_min_days_since_last_event)
        )
        .then(pl.lit("dormant"))
        .when(pl.col("t_days") < rules.new_max_tenure_days)
        .then(pl.lit("new"))
        .when(
            (pl.col("p_alive") < rules.declining_max_p_alive)
            | (recent_rate < rules.declining_max_rate_ratio * lifetime_rate)
        )
        .then(pl.lit("declining"))
        .when(
            (recent_rate > rules.growing_min_rate_ratio * lifetime_rate)
            | (pl.col("frequency") < rules.mature_min_frequency)
        )
        .then(pl.lit("growing"))
        .otherwise(pl.lit("mature"))
    )
    return scored.with_columns(life_stage=stage)


@dataclass(frozen=True)
class HoldoutResult:
    """How a model calibrated before the holdout predicted the holdout's events."""

    fit: PurchaseFit
    holdout_days: int
    n_customers: int
    predicted_events: float
    actual_events: int
    rmse: float
    spearman: float | None
    top_decile_share: float | None
    buckets: pl.DataFrame

    def metrics(self) -> dict[str, Any]:
        return {
            "holdout_days": self.holdout_days,
            "n_customers": self.n_customers,
            "predicted_events": self.predicted_events,
            "actual_events": self.actual_events,
            "rmse": self.rmse,
            "spearman": self.spearman,
            "top_decile_share": self.top_decile_share,
        }


def validate_holdout(
    calibration: pl.DataFrame,
    holdout_days: int,
    cfg: ClvConfig,
    fit: PurchaseFit | None = None,
) -> HoldoutResult:
    """Fit on the calibration period and compare predicted with actual holdout events.

    The reference in numpy, over every customer's row in one process: the clv stage takes
    the same metrics in SQL from :func:`holdout_predictions` per part of the customers
    (``pipeline.stages.clv.validate_on_holdout``; tests/test_clv_holdout_sql.py holds them
    equal).

    Parameters
    ----------
    calibration
        One row per customer first seen by the calibration end: ``frequency``,
        ``recency_days``, ``t_days`` (as of the calibration end) and ``holdout_events`` (event
        days after it, up to the holdout end).
    holdout_days
        Length of the holdout in days.
    cfg
        The ``clv`` section.
    fit
        The purchase model fitted on ``calibration`` already (a stored fit whose
        :func:`purchase_fit_key` matches); fitted here when None.

    Returns
    -------
    HoldoutResult
        Totals, RMSE per customer, Spearman rank correlation of predicted and actual events,
        the share of actual holdout events made by the top decile by prediction, and error per
        calibration-frequency bucket (0 .. cap-1, cap+).
    """
    require_columns(calibration, [*KEY, "holdout_events"], "calibration RFM summary")
    if holdout_days <= 0:
        raise ClvFitError(f"holdout of {holdout_days} days: the holdout end must be later")
    if fit is None:
        fit = fit_purchase_model(calibration, cfg)
    unit = float(cfg.time_unit_days)
    unique = calibration.select(KEY).unique()
    pred = expected_events(
        fit,
        holdout_days / unit,
        unique["frequency"].to_numpy(),
        unique["recency_days"].to_numpy() / unit,
        unique["t_days"].to_numpy() / unit,
    )
    frame = calibration.join(
        unique.with_columns(predicted=pl.Series(pred)), on=KEY, how="left"
    ).with_columns(actual=pl.col("holdout_events").cast(pl.Float64))
    _require_finite(frame, ["predicted"])
    predicted = frame["predicted"].to_numpy()
    actual = frame["actual"].to_numpy()
    rmse = float(np.sqrt(np.mean((predicted - actual) ** 2)))
    spearman = _spearman(predicted, actual)
    top = None
    if actual.sum() > 0:
        k = max(1, len(actual) // 10)
        order = np.argsort(-predicted, kind="stable")[:k]
        top = float(actual[order].sum() / actual.sum())
    cap = cfg.holdout_bucket_cap
    buckets = (
        frame.with_columns(bucket_order=pl.min_horizontal(pl.col("frequency"), pl.lit(cap)))
        .group_by("bucket_order")
        .agg(
            n_customers=pl.len(),
            predicted_events=pl.col("predicted").sum(),
            actual_events=pl.col("actual").sum(),
        )
        .sort("bucket_order")
        .with_columns(
            frequency_bucket=pl.when(pl.col("bucket_order") == cap)
            .then(pl.lit(f"{cap}+"))
            .otherwise(pl.col("bucket_order").cast(pl.Utf8)),
            mean_predicted=pl.col("predicted_events") / pl.col("n_customers"),
            mean_actual=pl.col("actual_events") / pl.col("n_customers"),
        )
        .with_columns(mean_error=pl.col("mean_predicted") - pl.col("mean_actual"))
    )
    return HoldoutResult(
        fit=fit,
        holdout_days=holdout_days,
        n_customers=frame.height,
        predicted_events=float(predicted.sum()),
        actual_events=int(actual.sum()),
        rmse=rmse,
        spearman=spearman,
        top_decile_share=top,
        buckets=buckets,
    )


HOLDOUT_PREDICTION_SCHEMA = {
    "customer_id": pl.String,
    "frequency": pl.Int32,
    "holdout_events": pl.Int32,
    "predicted_events": pl.Float64,
    "survival_months": pl.Float64,
    "survival_trend_months": pl.Float64,
}
""":func:`holdout_predictions`' columns."""


def holdout_predictions(
    rows: pl.DataFrame,
    fit: PurchaseFit,
    cfg: ClvConfig,
    holdout_days: int,
    money_months: int = 0,
) -> pl.DataFrame:
    """Each calibration customer's predictions for the holdout, from their own row alone (the
    clv stage applies it per part of the customers, ``Engine.map_frame``, and takes the
    metrics in SQL: sql/clv/clv_holdout_metrics.sql and its siblings).

    Parameters
    ----------
    rows
        One row per customer: ``customer_id``, ``frequency``, ``recency_days``, ``t_days`` (as
        of the calibration end) and ``holdout_events`` (event days after it).
    fit
        The purchase model fitted on the calibration summary (a bare one will do:
        :func:`bare_purchase_fit`).
    holdout_days
        Length of the holdout in days.
    money_months
        When positive, the money backtest's weights over that many months, undiscounted
        (:func:`survival_weights`); NULL otherwise.

    Returns
    -------
    pl.DataFrame
        :data:`HOLDOUT_PREDICTION_SCHEMA`: ``customer_id``, ``frequency``,
        ``holdout_events``, ``predicted_events`` (E[Y(holdout)], NULL where not finite: the
        stage refuses the validation then, as :func:`validate_holdout` does),
        ``survival_months`` and ``survival_trend_months``.
    """
    require_columns(rows, ["customer_id", *KEY, "holdout_events"], "calibration RFM summary")
    if rows.height == 0:
        return pl.DataFrame(schema=HOLDOUT_PREDICTION_SCHEMA)
    unit = float(cfg.time_unit_days)
    unique = rows.select(KEY).unique()
    predicted = expected_events(
        fit,
        holdout_days / unit,
        unique["frequency"].to_numpy(),
        unique["recency_days"].to_numpy() / unit,
        unique["t_days"].to_numpy() / unit,
    )
    unique = unique.with_columns(predicted_events=pl.Series(predicted, dtype=pl.Float64))
    if money_months > 0:
        unique = survival_weights(unique, fit, cfg, money_months, discount=False)
    else:
        unique = unique.with_columns(
            survival_months=pl.lit(None, pl.Float64),
            survival_trend_months=pl.lit(None, pl.Float64),
        )
    out = rows.join(unique, on=KEY, how="left").with_columns(
        predicted_events=pl.when(pl.col("predicted_events").is_finite()).then(
            pl.col("predicted_events")
        )
    )
    return out.select([pl.col(name).cast(kind) for name, kind in HOLDOUT_PREDICTION_SCHEMA.items()])


def _spearman(a: NDArray[Any], b: NDArray[Any]) -> float | None:
    """Spearman rank correlation with average ranks for ties; None when either is constant."""
    ra = pl.Series(a).rank("average").to_numpy()
    rb = pl.Series(b).rank("average").to_numpy()
    if np.std(ra) == 0 or np.std(rb) == 0:
        return None
    return float(np.corrcoef(ra, rb)[0, 1])


def survival_probabilities(
    fit: PurchaseFit,
    frequency: NDArray[Any],
    recency_days: NDArray[Any],
    t_days: NDArray[Any],
    months: int,
    days_per_month: float,
) -> NDArray[np.float64]:
    """P(still a customer at the end of month m), m = 1..months, one row per customer.

    S(t) = P(alive | x, t_x, T) * E_p[((alpha + T) / (alpha + T + p t))^(r + x)], p ~ Beta(a,
    b + x) (module docstring); t in model units.
    """
    from scipy.stats import beta

    unit = float(fit.time_unit_days)
    x = np.asarray(frequency, dtype=float)
    tx = np.asarray(recency_days, dtype=float) / unit
    T = np.asarray(t_days, dtype=float) / unit
    r, alpha, a, b = (fit.params[k] for k in ("r", "alpha", "a", "b"))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        p_alive = np.clip(
            np.asarray(fit.fitter.conditional_probability_alive(x, tx, T), dtype=float), 0, 1
        )
    q = (np.arange(16) + 0.5) / 16
    # the Beta's quantiles depend on x alone: computed once per distinct frequency (a few
    # hundred) instead of once per customer, the same numbers (beta.ppf is elementwise)
    distinct, row = np.unique(x, return_inverse=True)
    p = beta.ppf(q[None, :], a, (b + distinct)[:, None])[row]
    base = (alpha + T)[:, None]
    shape = (r + x)[:, None]
    out = np.empty((len(x), months))
    for m in range(1, months + 1):
        t = m * days_per_month / unit
        out[:, m - 1] = p_alive * np.mean((base / (base + p * t)) ** shape, axis=1)
    return out


def frequency_value_correlation(rfm: pl.DataFrame) -> float | None:
    """Spearman(frequency, value per event) among repeat customers with positive value: the
    Gamma-Gamma model assumes they are independent (Fader & Hardie 2013, section 2)."""
    require_columns(rfm, ["frequency", "monetary_value"], "customer RFM summary")
    rows = rfm.filter((pl.col("frequency") > 0) & (pl.col("monetary_value") > 0))
    if rows.height < 3:
        return None
    return _spearman(
        rows["frequency"].to_numpy(), rows["monetary_value"].cast(pl.Float64).to_numpy()
    )


def choose_value_method(
    rfm: pl.DataFrame, spend: SpendFit, cfg: ClvConfig
) -> tuple[str, float | None, str]:
    """The valuation the night uses, the frequency-value correlation and why.

    ``gamma_gamma`` only when configured, fitted and its independence assumption holds
    (|Spearman| <= ``gg_max_abs_correlation``); otherwise ``survival_x_contribution``. The
    reason is stored with the fit and logged, so the method never changes silently.
    """
    corr = frequency_value_correlation(rfm)
    if cfg.value_method == "contribution":
        return CONTRIBUTION_METHOD, corr, "configured: value_method contribution"
    if not spend.fitted:
        return CONTRIBUTION_METHOD, corr, f"Gamma-Gamma {spend.status}"
    if corr is None or abs(corr) > cfg.gg_max_abs_correlation:
        return (
            CONTRIBUTION_METHOD,
            corr,
            f"Gamma-Gamma assumption fails: Spearman(frequency, value) = {corr} beyond "
            f"+/-{cfg.gg_max_abs_correlation}",
        )
    return GG_METHOD, corr, "Gamma-Gamma assumption holds"


def value_in_money(
    scored: pl.DataFrame,
    fit: PurchaseFit,
    cfg: ClvConfig,
    months: int | None = None,
    discount: bool = True,
) -> pl.DataFrame:
    """CLV in money: sum over months of S(m) x expected contribution of month m (x discount).

    Parameters
    ----------
    scored
        One row per customer with ``frequency``, ``recency_days``, ``t_days``,
        ``monthly_contribution`` (c, the run rate, CNY a month; null counts 0) and optionally
        ``monthly_trend`` (b, CNY a month per month,
        ``sql/clv/clv_expected_contribution.sql``; null or absent counts 0):
        month m is expected to bring c + b x :func:`trend_steps` (m).
    fit
        The purchase model.
    cfg
        ``days_per_month``, ``horizon_months``, ``monthly_discount_rate``.
    months, discount
        Horizon (default ``horizon_months``) and whether to discount (the backtest compares
        undiscounted money with what was earned).

    Returns
    -------
    pl.DataFrame
        scored plus ``survival_months`` (sum of the weights S(m)/(1+d)^m),
        ``survival_trend_months`` (the same weighted by the trend steps) and
        ``money_clv_amount`` = c x survival_months + b x survival_trend_months.
    """
    require_columns(scored, [*KEY, "monthly_contribution"], "value_in_money")
    unique = survival_weights(scored.select(KEY).unique(), fit, cfg, months, discount)
    if "monthly_trend" not in scored.columns:
        scored = scored.with_columns(monthly_trend=pl.lit(None, pl.Float64))
    return scored.join(unique, on=KEY, how="left").with_columns(
        money_clv_amount=pl.col("survival_months")
        * pl.col("monthly_contribution").cast(pl.Float64).fill_null(0.0)
        + pl.col("survival_trend_months") * pl.col("monthly_trend").cast(pl.Float64).fill_null(0.0)
    )


def survival_weights(
    unique: pl.DataFrame,
    fit: PurchaseFit,
    cfg: ClvConfig,
    months: int | None = None,
    discount: bool = True,
) -> pl.DataFrame:
    """:func:`value_in_money`'s weights of each (frequency, recency_days, t_days) row of
    ``unique``: ``survival_months``, the sum over months m = 1..``months`` (default
    ``horizon_months``) of S(m)/(1+d)^m (d = 0 without ``discount``), and
    ``survival_trend_months``, the same weighted by :func:`trend_steps`."""
    horizon = months or cfg.horizon_months
    surv = survival_probabilities(
        fit,
        unique["frequency"].to_numpy(),
        unique["recency_days"].to_numpy(),
        unique["t_days"].to_numpy(),
        horizon,
        cfg.days_per_month,
    )
    rate = cfg.monthly_discount_rate if discount else 0.0
    weights = 1.0 / (1.0 + rate) ** np.arange(1, horizon + 1)
    steps = trend_steps(horizon, cfg.run_rate_months, cfg.trend_damping)
    return unique.with_columns(
        survival_months=pl.Series(surv @ weights, dtype=pl.Float64),
        survival_trend_months=pl.Series(surv @ (weights * steps), dtype=pl.Float64),
    )


def trend_steps(months: int, run_rate_months: int, damping: float) -> NDArray[np.float64]:
    """How many slopes month m = 1..months adds to the run rate: the run rate is the mean of
    the last ``run_rate_months`` closed months, centred h0 = (run_rate_months - 1) / 2 months
    before the last one, so month m lies h = m + h0 months after that centre and adds
    slope x (phi + phi^2 + ... + phi^h) = slope x phi (1 - phi^h) / (1 - phi) (h at phi = 1):
    Gardner's damped trend."""
    h = np.arange(1, months + 1) + (run_rate_months - 1) / 2
    if damping >= 1.0:
        return h.astype(float)
    return np.asarray(damping * (1.0 - damping**h) / (1.0 - damping), dtype=float)


MONEY_BACKTEST_SCHEMA = pl.Schema(
    {
        "predictor": pl.String,
        "customers": pl.Int64,
        "spearman": pl.Float64,
        "mae_amount": pl.Float64,
        "top_decile_capture": pl.Float64,
        "predicted_total_amount": pl.Float64,
        "realized_total_amount": pl.Float64,
    }
)
"""The money backtest's columns per predictor (:func:`money_backtest`, and the clv stage's
``clv/clv_money_backtest_metrics``)."""


def money_backtest(frame: pl.DataFrame) -> pl.DataFrame:
    """Predicted money against what customers actually produced, per predictor.

    The reference in numpy: the clv stage's money backtest is SQL
    (sql/clv/clv_money_backtest_metrics.sql; tests/test_clv_holdout_sql.py holds them equal).

    Parameters
    ----------
    frame
        One row per customer with ``realized_amount`` and one column per predictor (every
        other numeric column but ``customer_id``), all in CNY over the same months.

    Returns
    -------
    pl.DataFrame
        One row per predictor: ``predictor``, ``customers``, ``spearman``, ``mae_amount``,
        ``top_decile_capture`` (share of the realised total earned by the predictor's top 10%),
        ``predicted_total_amount``, ``realized_total_amount``.
    """
    require_columns(frame, ["customer_id", "realized_amount"], "money_backtest")
    realized = frame["realized_amount"].cast(pl.Float64).fill_null(0.0).to_numpy()
    total = float(realized.sum())
    rows = []
    for col in frame.columns:
        if col in ("customer_id", "realized_amount"):
            continue
        pred = frame[col].cast(pl.Float64).fill_null(0.0).to_numpy()
        k = int(np.ceil(len(pred) / 10))
        top = np.argsort(-pred, kind="stable")[:k]
        rows.append(
            {
                "predictor": col,
                "customers": len(pred),
                "spearman": _spearman(pred, realized) if len(pred) > 2 else None,
                "mae_amount": float(np.mean(np.abs(pred - realized))) if len(pred) else None,
                "top_decile_capture": float(realized[top].sum() / total) if total else None,
                "predicted_total_amount": float(pred.sum()),
                "realized_total_amount": total,
            }
        )
    return pl.DataFrame(rows, schema=MONEY_BACKTEST_SCHEMA)
