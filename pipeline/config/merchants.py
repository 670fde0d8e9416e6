"""Configuration of the merchants stage: the signal windows, the scorecard and the chain.

The scorecard is data: each rule names one signal of ``int_merchant_signals``, a threshold
(``at_least`` and/or ``at_most``), the points it adds and, by its key, the reason code that
appears in ``int_merchants.reasons``. An analyst tunes detection by editing
``configs/default.yaml`` (section ``merchants``), never the code.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from models.params.merchant_network import ClusterConfig
from models.params.merchants import (
    SIGNALS,
    DecoyRules,
    MerchantScoring,
    ScoreRule,
    default_rules,
)

__all__ = [
    "SIGNALS",
    "ClusterConfig",
    "DecoyRules",
    "MerchantScoring",
    "MerchantsConfig",
    "ScoreRule",
    "default_rules",
]


class MerchantsConfig(MerchantScoring):
    """The merchants stage: the scorecard's parameters (models/params/merchants.py) and the
    windows, screen and chain settings of the SQL."""

    window_days: int = Field(default=365, ge=28, le=731)
    """Trailing window of transactions, in days ending on the business date."""
    annualise: bool = True
    """Scale the window's turnover to a year when fewer days of history exist (a new
    customer, or a warehouse younger than the window)."""
    min_history_days: int = Field(default=28, ge=1)
    """Customers with fewer days of history in the window are not scored (too little to say)."""
    candidate_min_amount: float = Field(default=300_000, ge=0)
    """Only customers whose yearly inflow reaches this (CNY) get signals computed and kept in
    ``int_merchant_signals``; below it nobody can pass the turnover floor. Keeps the table and
    the stage small at a million customers."""
    small_payment_max_amount: float = Field(default=20_000, gt=0)
    """An inflow of at most this (CNY) is a small payment (a buyer at the stall)."""
    round_amount_unit: float = Field(default=1_000, gt=0)
    """An outflow that is a whole multiple of this (CNY) counts as a round amount."""
    recurring_supplier_min_months: int = Field(default=3, ge=2)
    """A payee paid in at least this many distinct months is a recurring supplier."""
    top_suppliers: int = Field(default=5, ge=1)
    """How many payees make up ``top_supplier_share`` (their share of outflows to others)."""
    pass_through_days: int = Field(default=7, ge=0)
    """An outflow within this many days after an inflow counts as passed through."""
    max_buyers: int = Field(default=50, ge=1)
    """Main buyers kept per merchant in ``int_merchant_counterparties`` (by amount)."""
    max_suppliers: int = Field(default=20, ge=1)
    """Main suppliers kept per merchant in ``int_merchant_counterparties`` (by amount)."""
    prospect_min_amount: float = Field(default=200_000, ge=0)
    """A counterparty at another bank is a prospect when its flows with our merchants over the
    window reach this much (CNY)."""
    clusters: ClusterConfig = ClusterConfig()
    """How merchants are grouped into market clusters."""

    @model_validator(mode="after")
    def _candidates_cover_floor(self) -> MerchantsConfig:
        if self.candidate_min_amount > self.turnover_floor_amount:
            raise ValueError(
                "candidate_min_amount is above turnover_floor_amount: merchants between the two "
                "would never be scored"
            )
        return self
