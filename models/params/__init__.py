"""The parameters each model takes, as plain pydantic models of the core.

``models/`` imports nothing from ``pipeline/``: a model's parameters live here, one module per
model, and ``pipeline/config`` composes them into the YAML schema (a stage's section extends a
model's parameters with the stage's own settings). Kept apart from the model modules so that
loading the configuration does not import polars or scikit-learn.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Params(BaseModel):
    """Immutable, and strict about unknown keys (a typo in the YAML is an error)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
