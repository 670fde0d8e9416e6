"""Configuration of the contribution model: every rate that turns balances and transactions
into revenue and cost (section ``economics``).

Rates are annual percentages like ACCT.interest_rate (``2.30`` means 2.30% a year). Interest
and every other time-based amount use the ACT/365 day count: amount = balance-days × rate /
100 / 365, where balance-days is the sum over the window's days of the end-of-day balance.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRODUCTS = ("DDA", "TDA", "WMP", "FND", "INS", "CCD", "PLN", "MTG", "BLN")
DEPOSIT_PRODUCTS = ("DDA", "TDA")
INVESTMENT_PRODUCTS = ("WMP", "FND", "INS")
LENDING_PRODUCTS = ("CCD", "PLN", "MTG", "BLN")
TXN_CODES = ("DEP", "WDL", "TRI", "TRO", "PAY", "POS", "FEE", "PRB", "PRR", "LDR", "LRP", "QRY")
CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")


def _d(**values: float) -> dict[str, Decimal]:
    return {k: Decimal(str(v)) for k, v in values.items()}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InterchangeRate(_Frozen):
    rate_percent: Decimal = Field(ge=0, le=5)
    """Issuer's share of the merchant discount, percent of the purchase amount."""
    cap_amount: Decimal | None = Field(default=None, gt=0)
    """Ceiling per transaction in CNY (debit cards: 13); empty means no cap."""


class PdBucket(_Frozen):
    min_days_past_due: int = Field(ge=0)
    """Lowest days past due in the bucket (inclusive); buckets run up to the next one's minimum."""
    pd_percent: Decimal = Field(ge=0, le=100)
    """Annual probability of default of an exposure in this bucket, percent."""


class EconomicsConfig(_Frozen):
    day_count_days: int = Field(default=365, ge=360, le=366)
    """Days in the year of the day-count convention (ACT/365 fixed: 365)."""
    ftp_rate_percent: dict[str, Decimal] = Field(
        default_factory=lambda: _d(DDA=1.80, TDA=2.30, CCD=2.60, PLN=2.60, MTG=2.80, BLN=2.70)
    )
    """Funds-transfer-pricing rate by product, annual percent: what treasury pays for a
    deposit and charges for a loan."""
    commission_rate_percent: dict[str, Decimal] = Field(
        default_factory=lambda: _d(WMP=0.50, FND=0.80, INS=1.20)
    )
    """Commission earned on wealth products, funds and insurance, annual percent of the
    average held value (trailing fee)."""
    interchange: dict[str, InterchangeRate] = Field(
        default_factory=lambda: {
            "DDA": InterchangeRate(rate_percent=Decimal("0.35"), cap_amount=Decimal("13")),
            "CCD": InterchangeRate(rate_percent=Decimal("0.45")),
        }
    )
    """Issuer interchange on POS purchases by the product of the card's account (DDA = debit
    card on a current account, CCD = credit card)."""
    unit_cost_amount: dict[str, Decimal] = Field(
        default_factory=lambda: _d(CTR=12.00, ATM=2.50, TEL=4.00, NET=0.30, POS=0.20)
    )
    """Cost to serve one transaction by channel, CNY."""
    unit_cost_override_amount: dict[str, dict[str, Decimal]] = Field(default_factory=dict)
    """Cost of one transaction for a channel and txn_code where it differs from the channel's
    unit cost, CNY (e.g. a counter enquiry costs less than a counter cash deposit)."""
    upkeep_amount_per_year: dict[str, Decimal] = Field(
        default_factory=lambda: _d(
            DDA=12, TDA=10, WMP=15, FND=15, INS=15, CCD=60, PLN=120, MTG=240, BLN=240
        )
    )
    """Account upkeep per account and year by product, CNY (charged pro rata per day held)."""
    pd_buckets: list[PdBucket] = Field(
        default_factory=lambda: [
            PdBucket(min_days_past_due=0, pd_percent=Decimal("1.0")),
            PdBucket(min_days_past_due=1, pd_percent=Decimal("8.0")),
            PdBucket(min_days_past_due=30, pd_percent=Decimal("25.0")),
            PdBucket(min_days_past_due=60, pd_percent=Decimal("50.0")),
            PdBucket(min_days_past_due=90, pd_percent=Decimal("100.0")),
        ]
    )
    """Probability of default by days-past-due bucket, ascending by minimum."""
    lgd_percent: dict[str, Decimal] = Field(
        default_factory=lambda: _d(CCD=75, PLN=60, MTG=25, BLN=50)
    )
    """Loss given default by lending product, percent of exposure."""
    reconciliation_tolerance_per_row: Decimal = Field(default=Decimal("0.000001"), ge=0)
    """Allowed difference per summed row between the customer sum and the portfolio figure:
    per-customer amounts are rounded to 6 decimals, so n rows may differ by n × 0.5e-6."""

    @model_validator(mode="after")
    def _complete(self) -> EconomicsConfig:
        def need(name: str, mapping: dict[str, object], keys: tuple[str, ...]) -> None:
            missing = [k for k in keys if k not in mapping]
            if missing:
                raise ValueError(f"{name}: missing {', '.join(missing)}")
            unknown = sorted(set(mapping) - set(PRODUCTS) - set(CHANNELS))
            if unknown:
                raise ValueError(f"{name}: unknown keys {', '.join(unknown)}")

        need("ftp_rate_percent", dict(self.ftp_rate_percent), DEPOSIT_PRODUCTS + LENDING_PRODUCTS)
        need("commission_rate_percent", dict(self.commission_rate_percent), INVESTMENT_PRODUCTS)
        need("unit_cost_amount", dict(self.unit_cost_amount), CHANNELS)
        need("upkeep_amount_per_year", dict(self.upkeep_amount_per_year), PRODUCTS)
        need("lgd_percent", dict(self.lgd_percent), LENDING_PRODUCTS)
        for channel, codes in self.unit_cost_override_amount.items():
            if channel not in CHANNELS:
                raise ValueError(f"unit_cost_override_amount: unknown channel {channel}")
            bad = sorted(set(codes) - set(TXN_CODES))
            if bad:
                raise ValueError(f"unit_cost_override_amount.{channel}: unknown {bad}")
        mins = [b.min_days_past_due for b in self.pd_buckets]
        if not mins or mins[0] != 0 or mins != sorted(set(mins)):
            raise ValueError("pd_buckets: minimums must start at 0 and strictly ascend")
        return self
