"""Configuration of the value score, golden customers and segments (section ``value``)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCORE_PARTS = ("contribution", "assets", "clv", "activity", "breadth", "tenure")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class GoldenRules(_Frozen):
    min_contribution_percentile: float = Field(default=0.90, ge=0, le=1)
    """A customer is in the top contribution band of a month when their contribution's
    percentile rank among that month's customers is at least this (0.90 = the top 10%)."""
    min_contribution_amount: Decimal = Field(default=Decimal("0"), ge=0)
    """...and their contribution that month is above this, CNY."""
    band_months: int = Field(default=6, ge=1, le=11)
    """The closed months looked at: the last 6 before the business date's month, computed
    from the warehouse's monthly history (not from earlier runs)."""
    min_months_in_band: int = Field(default=4, ge=1)
    """Months of those in the top band that make a golden customer."""
    max_days_past_due: int = Field(default=0, ge=0)
    """No delinquency: the worst days past due on any account at the date is at most this."""

    @model_validator(mode="after")
    def _fits(self) -> GoldenRules:
        if self.min_months_in_band > self.band_months:
            raise ValueError("min_months_in_band cannot exceed band_months")
        return self


class ValueConfig(_Frozen):
    score_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "contribution": 0.35,
            "assets": 0.20,
            "clv": 0.20,
            "activity": 0.10,
            "breadth": 0.10,
            "tenure": 0.05,
        }
    )
    """Weight of each part of the 0-100 value score; each part is the customer's percentile
    rank on it. Without lifetime values for the date the clv weight is dropped and the others
    re-normalised."""
    golden: GoldenRules = GoldenRules()
    """Rules that make a golden customer (黄金客户)."""
    cluster_count: int = Field(default=6, ge=2, le=30)
    """Behavioural clusters (KMeans k)."""
    cluster_seed: int = 20261127
    """Random seed of KMeans: the same data gives the same clusters."""
    cluster_fit_sample: int = Field(default=200_000, ge=100)
    """Customers sampled (deterministically) to fit the clusters; all are then assigned."""
    profile_top_features: int = Field(default=3, ge=1, le=10)
    """Distinguishing features named in a cluster's profile."""

    @field_validator("score_weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = set(weights) - set(SCORE_PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; known: {', '.join(SCORE_PARTS)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return weights
