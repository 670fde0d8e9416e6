"""Parameters of the next-product take-up models (models/cross_sell.py, docs/cross_sell.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from models.params import Params
from models.params.spec import PRODUCTS, require_known


class CrossSellConfig(Params):
    products: list[str] = Field(default_factory=lambda: ["TDA", "WMP", "FND", "INS", "CCD", "PLN"])
    """Products to recommend; one take-up model each (spec product codes)."""
    top_k: int = Field(default=3, ge=1, le=9)
    """Recommendations kept per customer, best first, products already held excluded."""
    horizon_months: int = Field(default=3, ge=1, le=12)
    """The label: the customer opened the product within this many months after the cut-off."""
    window_months: int = Field(default=3, ge=1, le=12)
    """Activity features cover this many closed months ending at the cut-off."""
    history_months: int = Field(default=12, ge=2, le=36)
    """Cut-offs (month ends) of at most this many months back are used for training."""
    min_takers: int = Field(default=30, ge=2)
    """A product with fewer takers than this in training is not modelled: look-alike rank."""
    calibration: Literal["sigmoid", "isotonic"] = "sigmoid"
    """Platt scaling (sigmoid; steady with few takers) or isotonic regression."""
    calibration_folds: int = Field(default=2, ge=2, le=10)
    """Folds by customer for the out-of-fold scores the calibration is fitted on."""
    training_sample_customers: int = Field(default=20_000, ge=100)
    """Training uses at most about this many customers (a fixed hash sample): a model is fitted
    once a month, on a sample, not on every customer every night."""
    score_batch_rows: int = Field(default=200_000, ge=1000)
    """Customers scored per batch (bounds memory at a million customers)."""
    seed: int = 20261127
    """Random seed of the models, so a re-run gives the same scores."""
    max_iter: int = Field(default=60, ge=10)
    """Boosting iterations of each product's model (HistGradientBoostingClassifier)."""
    threads: int | None = Field(default=1, ge=1)
    """OpenMP threads for fitting; 1 avoids fighting DuckDB for the cores; empty means all."""

    @field_validator("products")
    @classmethod
    def _known_products(cls, products: list[str]) -> list[str]:
        require_known(products, PRODUCTS, "products")
        if not products:
            raise ValueError("give at least one product")
        return products
