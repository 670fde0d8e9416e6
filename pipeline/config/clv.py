"""Configuration of the clv stage (section ``clv``): the lifetime-value models' parameters,
which live with the models (models/params/clv.py)."""

from __future__ import annotations

from models.params.clv import ClvConfig, EventRules, LifeStageRules
from models.params.spec import TXN_CODES

__all__ = ["TXN_CODES", "ClvConfig", "EventRules", "LifeStageRules"]
