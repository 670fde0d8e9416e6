"""Parameters of the merchant scorecard (models/merchants.py).

The scorecard is data: each rule names one signal, a threshold (``at_least`` and/or
``at_most``), the points it adds and, by its key, the reason code that appears in the
merchants' reasons. ``pipeline/config/merchants.py`` extends :class:`MerchantScoring` with the
stage's windows and chain settings.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from models.params import Params

SIGNALS: tuple[str, ...] = (
    "turnover_amount",
    "inflow_count",
    "payer_count",
    "small_payment_share",
    "top_payer_share",
    "largest_inflow_share",
    "inflow_week_share",
    "inflow_business_day_share",
    "supplier_count",
    "recurring_supplier_count",
    "top_supplier_share",
    "round_outflow_share",
    "pass_through_ratio",
    "counter_cash_deposit_count",
    "counter_cash_deposit_share",
    "market_branch_share",
    "is_market_home_branch",
    "is_self_employed",
    "is_declared",
)
"""The per-customer signals a scorecard rule may test (columns of ``int_merchant_signals``)."""


class ScoreRule(Params):
    signal: str
    """The signal tested: one of :data:`SIGNALS` (booleans count as 0/1)."""
    at_least: float | None = None
    """The rule fires when the signal is at least this (inclusive); empty means no lower bound."""
    at_most: float | None = None
    """The rule fires when the signal is at most this (inclusive); empty means no upper bound."""
    points: float = Field(gt=0)
    """Points added to the merchant score when the rule fires."""

    @model_validator(mode="after")
    def _check(self) -> ScoreRule:
        if self.signal not in SIGNALS:
            raise ValueError(f"unknown signal {self.signal!r}; known: {', '.join(SIGNALS)}")
        if self.at_least is None and self.at_most is None:
            raise ValueError("give at_least, at_most or both")
        if self.at_least is not None and self.at_most is not None and self.at_least > self.at_most:
            raise ValueError("at_least is greater than at_most: the rule could never fire")
        return self

    def fires(self, value: float | None) -> bool:
        """True when ``value`` is within the rule's bounds (a missing value never fires)."""
        if value is None:
            return False
        if self.at_least is not None and value < self.at_least:
            return False
        return not (self.at_most is not None and value > self.at_most)


def default_rules() -> dict[str, ScoreRule]:
    return {
        "HIGH_TURNOVER": ScoreRule(signal="turnover_amount", at_least=1_000_000, points=20),
        "MANY_PAYERS": ScoreRule(signal="payer_count", at_least=30, points=15),
        "SMALL_PAYMENTS": ScoreRule(signal="small_payment_share", at_least=0.6, points=10),
        "WEEKLY_RHYTHM": ScoreRule(signal="inflow_week_share", at_least=0.7, points=10),
        "DAILY_RHYTHM": ScoreRule(signal="inflow_business_day_share", at_least=0.5, points=10),
        "RECURRING_SUPPLIERS": ScoreRule(signal="recurring_supplier_count", at_least=2, points=10),
        "CONCENTRATED_SUPPLIERS": ScoreRule(signal="top_supplier_share", at_least=0.6, points=5),
        "ROUND_SUPPLIER_PAYMENTS": ScoreRule(signal="round_outflow_share", at_least=0.5, points=5),
        "PASS_THROUGH": ScoreRule(signal="pass_through_ratio", at_least=0.6, points=10),
        "COUNTER_CASH": ScoreRule(signal="counter_cash_deposit_count", at_least=12, points=5),
        "MARKET_BRANCH_ACTIVITY": ScoreRule(signal="market_branch_share", at_least=0.5, points=5),
        "MARKET_HOME_BRANCH": ScoreRule(signal="is_market_home_branch", at_least=1, points=5),
        "SELF_EMPLOYED": ScoreRule(signal="is_self_employed", at_least=1, points=5),
        "DECLARED_BUSINESS": ScoreRule(signal="is_declared", at_least=1, points=5),
    }


class DecoyRules(Params):
    max_largest_inflow_share: float = Field(default=0.3, gt=0, le=1)
    """A customer whose single largest inflow is more than this share of the window's inflows
    is not a merchant (a flat sold, an inheritance): reason ``DECOY_SINGLE_INFLOW``."""
    max_top_payer_share: float = Field(default=0.5, gt=0, le=1)
    """A customer with more than this share of inflows from one payer ..."""
    one_payer_max_payers: int = Field(default=20, ge=1)
    """... and at most this many distinct payers in all is not a merchant (an employer, a
    relative): reason ``DECOY_ONE_PAYER``. A wholesaler whose biggest buyer is another merchant
    still has a market of payers behind it and is not vetoed."""
    salary_min_months: int = Field(default=6, ge=2)
    """Salary-like: the top payer paid in at least this many distinct months ..."""
    salary_max_cv: float = Field(default=0.25, ge=0)
    """... with a coefficient of variation of its payments at most this ..."""
    salary_min_share: float = Field(default=0.35, gt=0, le=1)
    """... making up at least this share of inflows: reason ``DECOY_SALARY``."""


class MerchantScoring(Params):
    """What the scorecard and the detection rule need."""

    turnover_floor_amount: float = Field(default=1_000_000, ge=0)
    """A merchant turns over at least this much a year (CNY); the issue's default 1,000,000."""
    score_cutoff: float = Field(default=60, ge=0)
    """Detection rule: score at least this AND turnover at least the floor AND no decoy rule."""
    rules: dict[str, ScoreRule] = Field(default_factory=default_rules)
    """The scorecard: reason code → rule. Score = sum of points of rules that fire."""
    decoys: DecoyRules = DecoyRules()
    """Rules that veto detection whatever the score (flat sale, inheritance, salary)."""
