"""Parameters of the golden-customer rule (models/value.py)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field, model_validator

from models.params import Params


class GoldenRules(Params):
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
