"""Configuration of the customer view (section ``features``): windows, bands, categories."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class FeaturesConfig(_Frozen):
    window_months: int = Field(default=12, ge=2, le=36)
    """Trailing window in calendar months: the month of the business date (to that date) and
    the ``window_months - 1`` whole months before it."""
    trend_recent_months: int = Field(default=3, ge=1)
    """Recent part of the trend: the last months of the window (against the rest)."""
    regular_inflow_min_amount: Decimal = Field(default=Decimal("2000"), gt=0)
    """A month counts as having a regular (salary-like) inflow when its transfers in reach this."""
    regular_inflow_min_months: int = Field(default=6, ge=1)
    """Months with such an inflow needed to call the customer's inflow regular."""
    age_bands: list[int] = Field(default_factory=lambda: [25, 35, 45, 55, 65])
    """Upper bounds (exclusive) of the age bands in years: <25, 25-34, ..., 65+."""
    mcc_categories: dict[str, list[str]] = Field(default_factory=dict)
    """Card-spending category by merchant category code; unlisted MCCs are ``other``."""

    @model_validator(mode="after")
    def _consistent(self) -> FeaturesConfig:
        if self.trend_recent_months >= self.window_months:
            raise ValueError("trend_recent_months must be less than window_months")
        if self.age_bands != sorted(set(self.age_bands)):
            raise ValueError("age_bands must strictly ascend")
        seen: dict[str, str] = {}
        for cat, codes in self.mcc_categories.items():
            for code in codes:
                if code in seen:
                    raise ValueError(f"mcc {code} in both {seen[code]} and {cat}")
                seen[code] = cat
        return self
