"""Configuration of the contribution model: every rate that turns balances and transactions
into revenue and cost (section ``economics``).

Rates are annual percentages like ACCT.interest_rate (``2.30`` means 2.30% a year). Interest
and every other time-based amount use the ACT/365 day count: amount = balance-days × rate /
100 / 365, where balance-days is the sum over the window's days of the end-of-day balance.
"""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.params.spec import CHANNELS, PRODUCTS

DEPOSIT_PRODUCTS = ("DDA", "TDA")
INVESTMENT_PRODUCTS = ("WMP", "FND", "INS")
LENDING_PRODUCTS = ("CCD", "PLN", "MTG", "BLN")
TXN_CODES = ("DEP", "WDL", "TRI", "TRO", "PAY", "POS", "FEE", "PRB", "PRR", "LDR", "LRP", "QRY")


Rate = Annotated[Decimal, Field(ge=0, le=100)]
"""An annual rate in percent: never negative, at most 100."""
Amount = Annotated[Decimal, Field(ge=0)]
"""A cost or charge in CNY: never negative."""
Percent = Annotated[Decimal, Field(ge=0, le=100)]
"""A share of an exposure in percent (LGD)."""


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


class CreditStaging(_Frozen):
    watch_days_past_due: int = Field(default=30, ge=1)
    """Days past due from which a performing exposure moves to watch (stage 2): IFRS 9
    5.5.11 / CAS 22 rebuttable presumption of a significant increase in credit risk at 30."""
    default_days_past_due: int = Field(default=90, ge=1)
    """Days past due from which an exposure is in default (stage 3): IFRS 9 B5.5.37 / CAS 22
    presumption at 90; the CBIRC five-category rules put 90+ at least substandard."""
    default_statuses: list[str] = Field(default_factory=lambda: ["D"])
    """ACCT statuses that mean default whatever the days past due (D: delinquent)."""
    lifetime_years_without_maturity: int = Field(default=3, ge=1, le=40)
    """Years of life assumed for the lifetime expected loss of an exposure without a
    maturity date (cards: the behavioural life of a revolving facility, IFRS 9 B5.5.40)."""

    @model_validator(mode="after")
    def _ordered(self) -> CreditStaging:
        if self.watch_days_past_due >= self.default_days_past_due:
            raise ValueError("watch_days_past_due must be below default_days_past_due")
        return self


class CardCycles(_Frozen):
    grace_days: int = Field(default=25, ge=0, le=27)
    """Days from the statement date (each month's last day) to the payment due date: a
    statement balance repaid in full by then earns no interest (the cardholder is a
    transactor that cycle); otherwise the card revolves and earns its rate the next month.
    At most 27, so that every closed month's cycle is settled by the month's end."""


class FtpPoint(_Frozen):
    tenor_months: int = Field(ge=0, le=600)
    """Tenor of the curve point in months (0: overnight)."""
    rate_percent: Decimal = Field(ge=0, le=30)
    """Transfer-pricing rate at that tenor, annual percent."""


class DemandDepositSplit(_Frozen):
    core_share: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    """Share of demand deposits that is stable (core) and priced at ``core_tenor_months``;
    the rest is volatile and priced overnight."""
    core_tenor_months: int = Field(default=24, ge=0, le=600)
    """Behavioural tenor of the core part, months."""


class ReserveRequirement(_Frozen):
    ratio_percent: Decimal = Field(default=Decimal("6.2"), ge=0, le=30)
    """Required-reserve ratio on deposits, percent (PBoC weighted average after the May 2025
    cut: about 6.2%)."""
    remuneration_rate_percent: Decimal = Field(default=Decimal("1.62"), ge=0, le=30)
    """Rate the PBoC pays on required reserves, annual percent (1.62%)."""


class CapitalCharge(_Frozen):
    capital_ratio_percent: Decimal = Field(default=Decimal("10.5"), gt=0, le=50)
    """Capital held per risk-weighted asset, percent: 8% minimum + 2.5% conservation buffer
    (NFRA 商业银行资本管理办法, 2023, art. 22-23)."""
    hurdle_rate_percent: Decimal = Field(default=Decimal("10"), ge=0, le=50)
    """Cost of that capital (the shareholders' required return), annual percent."""
    risk_weight_percent: dict[str, Annotated[Decimal, Field(ge=0, le=1250)]] = Field(
        default_factory=lambda: _d(CCD=75, PLN=75, MTG=30, BLN=75)
    )
    """Risk weight by lending product, percent of exposure (NFRA 2023 rules, annex 2:
    regulatory retail 75%; residential mortgage by loan-to-value, 30% at 60-80%)."""
    default_risk_weight_percent: Decimal = Field(default=Decimal("100"), ge=0, le=1250)
    """Risk weight of an exposure in default (NFRA 2023 rules: 100% for retail in default
    with specific provisions of at least 20%)."""


class EconomicsConfig(_Frozen):
    day_count_days: int = Field(default=365, ge=360, le=366)
    """Days in the year of the day-count convention (ACT/365 fixed: 365)."""
    ftp_rate_percent: dict[str, Rate] = Field(
        default_factory=lambda: _d(DDA=1.80, TDA=2.30, CCD=2.60, PLN=2.60, MTG=2.80, BLN=2.70)
    )
    """Funds-transfer-pricing rate by product, annual percent: what treasury pays for a
    deposit and charges for a loan."""
    commission_rate_percent: dict[str, Rate] = Field(
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
    unit_cost_amount: dict[str, Amount] = Field(
        default_factory=lambda: _d(CTR=12.00, ATM=2.50, TEL=4.00, NET=0.30, POS=0.20)
    )
    """Cost to serve one transaction by channel, CNY."""
    unit_cost_override_amount: dict[str, dict[str, Amount]] = Field(default_factory=dict)
    """Cost of one transaction for a channel and txn_code where it differs from the channel's
    unit cost, CNY (e.g. a counter enquiry costs less than a counter cash deposit)."""
    upkeep_amount_per_year: dict[str, Amount] = Field(
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
    lgd_percent: dict[str, Percent] = Field(
        default_factory=lambda: _d(CCD=75, PLN=60, MTG=25, BLN=50)
    )
    """Loss given default by lending product, percent of exposure."""
    credit: CreditStaging = CreditStaging()
    """Credit staging of loans and cards (performing / watch / default, docs/contribution.md)."""
    cards: CardCycles = CardCycles()
    """Statement cycles of credit cards: who revolves and earns interest."""
    system_txn_codes: list[str] = Field(default_factory=lambda: ["FEE"])
    """Transaction codes the bank posts itself (fee charges): no cost to serve."""
    ftp_curve: list[FtpPoint] | None = Field(
        default_factory=lambda: [
            FtpPoint(tenor_months=m, rate_percent=Decimal(r))
            for m, r in [
                (0, "1.45"),
                (3, "1.70"),
                (6, "1.80"),
                (12, "1.95"),
                (24, "2.10"),
                (36, "2.30"),
                (60, "2.50"),
                (120, "2.75"),
                (360, "2.90"),
            ]
        ]
    )
    """Matched-maturity transfer-pricing curve, ascending tenors, linear between points and
    flat beyond the ends. Time deposits and loans with a maturity date are priced at the
    point of their original term, demand deposits by ``demand_deposit``; accounts without a
    term (cards) keep ``ftp_rate_percent``. Empty: the flat per-product rates for all."""
    demand_deposit: DemandDepositSplit = DemandDepositSplit()
    """Core/volatile split of demand deposits for their price on the FTP curve."""
    reserve_requirement: ReserveRequirement = ReserveRequirement()
    """Required reserves: the part of a deposit treasury cannot lend earns the reserve rate."""
    capital: CapitalCharge = CapitalCharge()
    """Capital charge of lending, subtracted from contribution to give economic profit."""
    annual_days: int = Field(default=365, ge=360, le=366)
    """Contribution is a yearly figure: the window's flows × annual_days / history_days."""
    reconciliation_tolerance_per_row: Decimal = Field(default=Decimal("0.000001"), ge=0)
    """Allowed difference per summed row between the customer sum and the source figure:
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
        need(
            "capital.risk_weight_percent", dict(self.capital.risk_weight_percent), LENDING_PRODUCTS
        )
        bad_codes = sorted(set(self.system_txn_codes) - set(TXN_CODES))
        if bad_codes:
            raise ValueError(f"system_txn_codes: unknown {bad_codes}")
        if self.ftp_curve is not None:
            tenors = [p.tenor_months for p in self.ftp_curve]
            if not tenors or tenors != sorted(set(tenors)):
                raise ValueError("ftp_curve: tenors must strictly ascend (and not be empty)")
        mins = [b.min_days_past_due for b in self.pd_buckets]
        if not mins or mins[0] != 0 or mins != sorted(set(mins)):
            raise ValueError("pd_buckets: minimums must start at 0 and strictly ascend")
        return self


TERM_PRICED_PRODUCTS = ("TDA", "PLN", "MTG", "BLN")
"""Products priced on the FTP curve at their original term (open date to maturity date)."""
MAX_TERM_MONTHS = 600
"""Longest original term looked up on the curve (50 years); longer terms take this point."""
_SIX = Decimal("0.000001")


def curve_rate(curve: list[FtpPoint], tenor_months: int) -> Decimal:
    """The FTP curve's rate at a tenor: linear between points, flat beyond the ends.

    >>> pts = [FtpPoint(tenor_months=0, rate_percent=Decimal("1.4")),
    ...        FtpPoint(tenor_months=12, rate_percent=Decimal("2.0"))]
    >>> curve_rate(pts, 3), curve_rate(pts, 24)
    (Decimal('1.550000'), Decimal('2.000000'))
    """
    if tenor_months <= curve[0].tenor_months:
        return curve[0].rate_percent.quantize(_SIX)
    for lo, hi in itertools.pairwise(curve):
        if tenor_months <= hi.tenor_months:
            share = Decimal(tenor_months - lo.tenor_months) / (hi.tenor_months - lo.tenor_months)
            return (lo.rate_percent + (hi.rate_percent - lo.rate_percent) * share).quantize(_SIX)
    return curve[-1].rate_percent.quantize(_SIX)


def product_ftp_rate(eco: EconomicsConfig, product: str) -> Decimal | None:
    """A product's FTP rate where it does not depend on the account's term: demand deposits
    blend the curve's core tenor and overnight points; the rest take the flat rate."""
    if eco.ftp_curve is not None and product == "DDA":
        split = eco.demand_deposit
        core = curve_rate(eco.ftp_curve, split.core_tenor_months)
        overnight = curve_rate(eco.ftp_curve, 0)
        return (split.core_share * core + (1 - split.core_share) * overnight).quantize(_SIX)
    return eco.ftp_rate_percent.get(product)


def lifetime_pd(annual_pd_percent: Decimal, years: int) -> Decimal:
    """Probability of default over ``years`` from an annual PD, both percent:
    1 − (1 − PD)^years (a constant hazard).

    >>> lifetime_pd(Decimal("25"), 2)
    Decimal('43.750000')
    """
    survive = (1 - annual_pd_percent / 100) ** years
    return ((1 - survive) * 100).quantize(_SIX)
