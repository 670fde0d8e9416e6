"""Configuration of the lists built by the tiers stage: next-best product, the call-centre list.

Product codes are the spec's (ACCT column 3). Script codes are the call centre's own scripts;
the defaults are placeholders the call centre replaces with its catalogue numbers.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from models.params.cross_sell import CrossSellConfig
from models.params.spec import PRODUCTS
from models.params.tiers import CALL_REASONS, CallListConfig

__all__ = [
    "CALL_REASONS",
    "PRODUCTS",
    "CallListConfig",
    "CrossSellConfig",
    "ListsConfig",
    "RmScorecardConfig",
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RmScorecardConfig(_Frozen):
    """Relationship-manager value created (docs/exports.md, rm_scorecard): the change in the
    book's contribution over the 12 closed months ending the last closed month against the 12
    ending ``period_months`` earlier, both at today's rates and costs."""

    period_months: int = Field(default=1, ge=1, le=12)


class ListsConfig(_Frozen):
    cross_sell: CrossSellConfig = CrossSellConfig()
    call_list: CallListConfig = CallListConfig()
    rm_scorecard: RmScorecardConfig = RmScorecardConfig()
