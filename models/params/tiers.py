"""Parameters of the tier rules (models/tiers.py): the tier ladder, hysteresis, merchant
promotion, potential value, channel migration, and the call list.

Source of the default figures: the bank's retail segmentation rules for personal customers
(private banking from CNY 6 million of assets; wealth tiers below it) and the design notes
(points 8 and 11 of ``shared/DESIGN.md``). Every figure is a default for the synthetic data and is
meant to be tuned by the analysts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import Field, model_validator

from models.params import Params


class TierLevel(Params):
    name: str = Field(min_length=1, max_length=20)
    """The tier's name as exported (``private``, ``diamond`` …)."""
    min_contribution_amount: Decimal | None = Field(default=None, ge=0)
    """A yearly contribution (docs/contribution.md) at or above this qualifies; empty means
    not used."""
    min_aum_amount: Decimal | None = Field(default=None, ge=0)
    """Assets under management at or above this qualify; empty means not used."""
    min_clv_amount: Decimal | None = Field(default=None, ge=0)
    """A lifetime value at or above this qualifies; empty means not used."""


class MerchantPromotion(Params):
    tier: str = Field(min_length=1)
    """The tier a merchant meeting this rule gets at least (a ladder name)."""
    min_turnover_amount: Decimal = Field(ge=0)
    """Yearly business turnover through the accounts at or above this."""
    min_clv_amount: Decimal | None = None
    """And a lifetime value at or above this; empty: turnover alone decides (a busy merchant's
    lifetime value can be negative on counter costs while the relationship is worth winning)."""


class PotentialRules(Params):
    max_age: int = Field(default=30, ge=0, le=120)
    """Students and young graduates are potential up to and including this age."""
    student_occupations: list[str] = Field(default_factory=lambda: ["STU"])
    """Occupation codes of students (spec CUST column 9)."""
    graduate_educations: list[str] = Field(default_factory=lambda: ["BA", "MA", "PHD"])
    """Education codes that make a young customer a young graduate (spec CUST column 8)."""
    min_inflow_trend: float | None = Field(default=1.3, gt=0)
    """Inflows of the last 3 months over the 9 before (monthly rates) at or above this flag a
    growing customer; empty means not used."""
    min_trend_active_months: int = Field(default=6, ge=1)
    """The inflow trend counts only for customers active in at least this many months of the
    window: with less history the earlier months are mostly empty and every trend looks
    steep."""
    trend_recent_months: int = Field(default=6, ge=1, le=12)
    """The smoothed inflow trend compares this many recent closed months ...
    (sql/tiers/int_growth_signals.sql)"""
    trend_prior_months: int = Field(default=6, ge=1, le=12)
    """... with this many closed months before them (monthly averages). Six and six: a month's
    change moves each window by a sixth, so the flag persists from month to month."""
    exit_inflow_trend: float | None = Field(default=1.0, gt=0)
    """Hysteresis: a customer flagged INFLOW_GROWTH on the previous tiers date keeps the flag
    while the trend stays at or above this (it enters at min_inflow_trend; 1.0: while the
    recent months bring in no less than the earlier ones); empty: none."""
    min_trend_month_amount: Decimal = Field(default=Decimal(2000), ge=0)
    """Minimum size: INFLOW_GROWTH needs at least this much coming in a month over the recent
    closed months (CNY): a jump from 100 to 200 is not growth worth a call."""
    min_contribution_trend_share: float | None = Field(default=0.08, gt=0)
    """CLV_GROWTH: the customer's contribution trend (the clv stage's shrunk, closed-month
    slope, ``int_customer_clv.monthly_trend_amount``) is at least this share of their run rate
    a month (0.08: about doubling in a year; docs/potential.md); empty: not used."""
    exit_contribution_trend_share: float | None = Field(default=0.0, ge=0)
    """Hysteresis: a customer flagged CLV_GROWTH on the previous tiers date keeps the flag
    while the trend stays at or above this share of the run rate (0: while it still grows);
    empty: none."""
    min_growing_clv_amount: Decimal = Field(default=Decimal(2000), ge=0)
    """CLV_GROWTH needs at least this lifetime value (a growing customer worth a call)."""


class MigrationRules(Params):
    max_contribution_amount: Decimal = Field(default=Decimal(200))
    """Only customers whose yearly contribution is at or below this are invited."""
    min_counter_txns: int = Field(default=3, ge=1)
    """And who made at least this many online-capable counter transactions in the window."""
    online_capable_codes: list[str] = Field(
        default_factory=lambda: ["TRI", "TRO", "PAY", "QRY", "PRB", "PRR", "LRP"]
    )
    """Counter transaction codes that online or mobile banking can do (not cash DEP/WDL)."""
    window_months: int = Field(default=3, ge=1, le=24)
    """Counter transactions are counted over the date's month to date plus the
    ``window_months - 1`` whole months before it, and scaled to a year over its days."""
    protected_min_age: int = Field(default=60, ge=0, le=120)
    """Customers of this age or older are never invited to migrate. 60: the elderly as the
    PRC Law on the Protection of the Rights and Interests of the Elderly defines them (art. 2)."""
    eligible_tiers: list[str] = Field(default_factory=lambda: ["mass"])
    """Only customers whose effective tier is one of these are invited (ladder names);
    detected merchants are never invited, whatever their tier."""
    online_fee_amount: dict[str, Annotated[Decimal, Field(ge=0)]] = Field(default_factory=dict)
    """The fee one online (NET) transaction of a code would cost the customer, CNY; a code not
    listed is free online (e.g. online transfers). The counter fees the customer paid on the
    migratable transactions, less these, are fees the bank would no longer earn."""
    min_net_saving_amount: Decimal = Field(default=Decimal(0), ge=0)
    """A candidate must save the bank more than this a year, net of the fees forgone."""
    # Unit costs are the contribution model's (economics.unit_cost_amount and
    # unit_cost_override_amount, by channel and code, ref_channel_costs): one source of truth.
    # Merchant-like customers (merchants.score_cutoff on the scorecard) are protected too.


class TiersConfig(Params):
    ladder: list[TierLevel] = Field(
        default_factory=lambda: [
            TierLevel(
                name="private",
                min_aum_amount=Decimal(6_000_000),
                min_contribution_amount=Decimal(60_000),
            ),
            TierLevel(
                name="diamond",
                min_aum_amount=Decimal(1_000_000),
                min_contribution_amount=Decimal(15_000),
                min_clv_amount=Decimal(80_000),
            ),
            TierLevel(
                name="platinum",
                min_aum_amount=Decimal(300_000),
                min_contribution_amount=Decimal(5_000),
                min_clv_amount=Decimal(25_000),
            ),
            TierLevel(
                name="gold",
                min_aum_amount=Decimal(50_000),
                min_contribution_amount=Decimal(1_000),
                min_clv_amount=Decimal(5_000),
            ),
            TierLevel(name="mass"),
        ]
    )
    """Tiers from best to last. A customer gets the best tier whose any one threshold they meet;
    the last tier is the floor and must have no thresholds."""
    downgrade_months: int = Field(default=3, ge=0)
    """A downgrade takes effect only after the raw tier stayed below for this many months."""
    merchant_promotions: list[MerchantPromotion] = Field(
        default_factory=lambda: [
            MerchantPromotion(
                tier="diamond",
                min_turnover_amount=Decimal(10_000_000),
                min_clv_amount=Decimal(20_000),
            ),
            MerchantPromotion(tier="platinum", min_turnover_amount=Decimal(3_000_000)),
            MerchantPromotion(tier="gold", min_turnover_amount=Decimal(1_000_000)),
        ]
    )
    """Merchants meeting a rule get at least its tier, whatever their balances."""
    potential: PotentialRules = PotentialRules()
    migration: MigrationRules = MigrationRules()

    @model_validator(mode="after")
    def _ladder_ok(self) -> TiersConfig:
        names = [t.name for t in self.ladder]
        if len(names) < 2:
            raise ValueError("ladder needs at least two tiers")
        if len(set(names)) != len(names):
            raise ValueError(f"ladder names repeat: {names}")
        floor = self.ladder[-1]
        if any(
            v is not None
            for v in (floor.min_aum_amount, floor.min_contribution_amount, floor.min_clv_amount)
        ):
            raise ValueError(f"the last tier {floor.name!r} is the floor: give it no thresholds")
        for level in self.ladder[:-1]:
            if all(
                v is None
                for v in (level.min_aum_amount, level.min_contribution_amount, level.min_clv_amount)
            ):
                raise ValueError(f"tier {level.name!r} needs at least one threshold")
        unknown = set(self.migration.eligible_tiers) - set(names)
        if unknown:
            raise ValueError(f"migration.eligible_tiers: {sorted(unknown)} not in ladder {names}")
        for rule in self.merchant_promotions:
            if rule.tier not in names:
                raise ValueError(f"merchant_promotions: tier {rule.tier!r} not in ladder {names}")
        return self

    @property
    def tier_names(self) -> list[str]:
        """Ladder names, best first."""
        return [t.name for t in self.ladder]


CALL_REASONS = (
    "RETENTION",
    "TIER_UPGRADE",
    "MERCHANT_SERVICES",
    "CROSS_SELL",
    "POTENTIAL_NURTURE",
    "CHANNEL_MIGRATION",
)


class CallListConfig(Params):
    size: int = Field(default=500, ge=0)
    """Calls on the list each day, highest priority first."""
    reason_priority: list[str] = Field(default_factory=lambda: list(CALL_REASONS))
    """Reasons to call, most urgent first; a customer is called for their most urgent one."""
    script_codes: dict[str, str] = Field(
        default_factory=lambda: {
            "RETENTION": "S-RET-01",
            "TIER_UPGRADE": "S-UPG-01",
            "MERCHANT_SERVICES": "S-MER-01",
            "CROSS_SELL": "S-XSL-01",
            "POTENTIAL_NURTURE": "S-POT-01",
            "CHANNEL_MIGRATION": "S-MIG-01",
        }
    )
    """The call-centre script for each reason."""
    call_cost_amount: float = Field(default=15.0, ge=0)
    """Cost of one outbound call (CNY): a next-best product is a reason to call when
    P(take-up) x the product's annual contribution exceeds it."""
    retention_max_p_alive: float = Field(default=0.5, ge=0, le=1)
    """A customer of the top tiers with probability alive below this is a retention call."""
    retention_tiers: int = Field(default=3, ge=1)
    """How many tiers from the top of the ladder count for retention calls."""

    @model_validator(mode="after")
    def _reasons_ok(self) -> CallListConfig:
        unknown = set(self.reason_priority) - set(CALL_REASONS)
        if unknown:
            raise ValueError(f"unknown reasons {sorted(unknown)}; known: {', '.join(CALL_REASONS)}")
        missing = set(self.reason_priority) - set(self.script_codes)
        if missing:
            raise ValueError(f"script_codes: no script for reasons {sorted(missing)}")
        return self
