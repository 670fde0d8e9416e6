"""Configuration of the lifetime-value stage: events, models, horizon, validation, life stages."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from models.params import Params
from models.params.spec import CHANNELS, TXN_CODES, require_known


class EventRules(Params):
    txn_codes: list[str] = Field(
        default_factory=lambda: ["DEP", "WDL", "TRO", "PAY", "POS", "PRB", "PRR", "LDR", "LRP"]
    )
    """Transaction codes that count as a value-generating event. Default: what the customer
    initiates and that moves money. Left out: TRI (a transfer in is the payer's act), FEE
    (the bank charges it) and QRY (non-financial)."""
    channels: list[str] = Field(default_factory=lambda: list(CHANNELS))
    """Channels whose transactions count; default all five (one customer view across channels)."""

    @field_validator("txn_codes")
    @classmethod
    def _known_codes(cls, codes: list[str]) -> list[str]:
        require_known(codes, TXN_CODES, "txn codes")
        if not codes:
            raise ValueError("at least one transaction code must count as an event")
        return codes

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: list[str]) -> list[str]:
        require_known(channels, CHANNELS, "channels")
        if not channels:
            raise ValueError("at least one channel must count")
        return channels


class LifeStageRules(Params):
    """Rules applied in order; the first that matches gives the stage (docs/clv.md)."""

    dormant_max_p_alive: float = Field(default=0.3, ge=0, le=1)
    """Dormant when the probability of being alive is below this."""
    dormant_min_days_since_last_event: int = Field(default=180, ge=1)
    """Dormant when the last event is at least this many days before the business date."""
    new_max_tenure_days: int = Field(default=90, ge=0)
    """New when the first event is fewer than this many days before the business date."""
    recent_window_days: int = Field(default=90, ge=1)
    """Window (days up to the business date) whose event rate is compared with the lifetime rate."""
    declining_max_p_alive: float = Field(default=0.7, ge=0, le=1)
    """Declining when the probability of being alive is below this."""
    declining_max_rate_ratio: float = Field(default=0.5, ge=0)
    """Declining when the recent event rate is below this multiple of the lifetime rate."""
    growing_min_rate_ratio: float = Field(default=1.5, ge=0)
    """Growing when the recent event rate is above this multiple of the lifetime rate."""
    mature_min_frequency: int = Field(default=6, ge=0)
    """Fewer repeat events than this (and not declining) is still growing, not mature."""

    @model_validator(mode="after")
    def _ordered(self) -> LifeStageRules:
        if self.dormant_max_p_alive > self.declining_max_p_alive:
            raise ValueError("dormant_max_p_alive must not exceed declining_max_p_alive")
        if self.declining_max_rate_ratio > self.growing_min_rate_ratio:
            raise ValueError("declining_max_rate_ratio must not exceed growing_min_rate_ratio")
        return self


class ClvConfig(Params):
    events: EventRules = EventRules()
    """Which transactions are events (at most one event per customer and day)."""
    model: Literal["bgnbd", "mbgnbd"] = "bgnbd"
    """Purchase model: BG/NBD (Fader, Hardie & Lee 2005), or MBG/NBD (Batislam et al. 2007),
    which lets one-time customers drop out too (BG/NBD gives them P(alive) = 1)."""
    min_history_days: int = Field(default=90, ge=1)
    """Fewer days than this between the first event in the warehouse and the business date:
    too little history to fit (see ``on_insufficient_history``). A few weeks of events cannot
    tell a slow buyer from a lost one."""
    on_insufficient_history: Literal["skip", "fail"] = "skip"
    """Too little history to fit (fewer than ``min_history_days`` of events, fewer than
    ``min_customers`` with an event or ``min_repeaters`` repeaters, as in the first weeks of
    a warehouse): ``skip`` writes each
    customer's frequency, recency and T with no model outputs (``clv_amount`` and ``p_alive``
    null, ``life_stage = 'insufficient_history'``) and logs a warning, so the night goes on;
    ``fail`` stops the stage with the error."""
    time_unit_days: int = Field(default=7, ge=1, le=31)
    """Days per model time unit for fitting (7 = weeks, as in the BG/NBD paper). Only alpha
    depends on it; every prediction is converted back to days and months."""
    days_per_month: float = Field(default=365.25 / 12, gt=0)
    """Length of one month of the horizon in days (the mean Gregorian month)."""
    horizon_months: int = Field(default=12, ge=1, le=120)
    """CLV horizon: the expected contribution of this many future months is summed."""
    monthly_discount_rate: float = Field(default=0.01, ge=0, lt=1)
    """Monthly discount rate applied to month i's contribution as 1 / (1 + d)^i. 0.01/month is
    about 12.7%/year, a cost-of-equity-style hurdle; set it to the bank's own."""
    penalizer: float = Field(default=0.0, ge=0)
    """L2 penalty on the model parameters (lifetimes' penalizer_coef); raise it if the fit
    does not converge. Applied to both the purchase and the Gamma-Gamma model."""
    max_penalizer: float = Field(default=0.01, ge=0)
    """Fallback when a fit does not converge: retry with penalizer 1e-4, 1e-3, ... up to this
    (each ten times the last); the penalizer used is stored in clv_fit_runs. 0 disables it."""
    holdout_months: int = Field(default=3, ge=1, le=24)
    """Validation: calibrate on history up to the month end this many months before the last
    closed month end (on or before the business date) and predict the events and the
    contribution of the months after, beside the naive baseline (docs/clv.md)."""
    value_method: Literal["contribution", "gamma_gamma"] = "contribution"
    """How CLV is valued: ``contribution`` = sum over the horizon of P(still a customer at
    month m) x expected monthly contribution x discount (most contribution accrues on balances,
    not per event); ``gamma_gamma`` = expected events x Gamma-Gamma value per event, used only
    while its assumption holds (see gg_max_abs_correlation), else ``contribution``, recorded."""
    run_rate_months: int = Field(default=3, ge=1, le=12)
    """Expected monthly contribution: the mean of the customer's last this many closed months
    of contribution (the contribution model's run rate; its year-long average lags a trend)."""
    trend_window_months: int = Field(default=6, ge=0, le=24)
    """The expected monthly contribution follows the customer's trend: the slope of their
    closed months' contribution over this many months, shrunk toward the mean slope of
    customers of similar run rate (docs/clv.md, "Trend"). 0 values the run rate flat; a
    window needs at least 3 months."""
    trend_bands: int = Field(default=5, ge=1, le=50)
    """Customers are grouped by run rate into this many equal-sized bands; a customer's slope
    is shrunk toward the mean slope of their band."""
    trend_damping: float = Field(default=0.9, gt=0, le=1)
    """Month m after the run rate's centre adds slope x (phi + phi^2 + ... + phi^m), phi this
    damping: a trend fades instead of running on over the whole horizon (1 = linear)."""
    gg_max_abs_correlation: float = Field(default=0.3, gt=0, le=1)
    """Gamma-Gamma assumes value per event independent of frequency: it is used only when
    |Spearman(frequency, value per event)| among repeaters is at most this (tested nightly)."""
    spend_sample_customers: int = Field(default=500_000, ge=1)
    """Gamma-Gamma and the Spearman(frequency, value) test read at most about this many repeat
    customers with positive contribution: more, and they read those whose md5(customer_id)
    sorts below the share's bound (the same customers on every engine and night); fewer,
    every one of them."""
    min_customers: int = Field(default=100, ge=10)
    """Fewer customers with an event than this: the fit is refused with an error."""
    min_repeaters: int = Field(default=20, ge=1)
    """Fewer repeat customers than this: the purchase model is refused with an error; fewer
    repeat customers with positive contribution than this: Gamma-Gamma is skipped and each
    customer's own contribution per event is used (logged)."""
    param_jump_threshold: float = Field(default=0.25, gt=0)
    """A parameter changing by more than this fraction from the previous run is flagged."""
    p_active_days: int = Field(default=30, ge=1)
    """Window for ``p_active_30d``: probability of at least one event within this many days."""
    holdout_bucket_cap: int = Field(default=7, ge=1, le=50)
    """Holdout error is reported per calibration frequency 0, 1, ..., cap - 1 and cap-or-more."""
    life_stages: LifeStageRules = LifeStageRules()
    """Rules for new, growing, mature, declining, dormant."""

    @model_validator(mode="after")
    def _trend_window(self) -> ClvConfig:
        if 0 < self.trend_window_months < 3:
            raise ValueError(
                f"trend_window_months = {self.trend_window_months}: a slope needs at least 3 "
                "months (0 turns the trend off)"
            )
        return self
