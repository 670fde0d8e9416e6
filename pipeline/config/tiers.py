"""Configuration of the tiers stage (section ``tiers``): the parameters of the tier rules, which
live with the models (models/params/tiers.py)."""

from __future__ import annotations

from models.params.tiers import (
    MerchantPromotion,
    MigrationRules,
    PotentialRules,
    TierLevel,
    TiersConfig,
)

__all__ = ["MerchantPromotion", "MigrationRules", "PotentialRules", "TierLevel", "TiersConfig"]
