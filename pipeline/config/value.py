"""Configuration of the value score, golden customers and segments (section ``value``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.params.value import GoldenRules

__all__ = ["SCORE_PARTS", "GoldenRules", "ValueConfig"]

SCORE_PARTS = ("contribution", "assets", "clv", "activity", "breadth", "tenure")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValueConfig(_Frozen):
    score_weights: dict[str, float] = Field(
        default_factory=lambda: {
            "contribution": 0.35,
            "assets": 0.20,
            "clv": 0.20,
            "activity": 0.10,
            "breadth": 0.10,
            "tenure": 0.05,
        }
    )
    """Weight of each part of the 0-100 value score; each part is the customer's percentile
    rank on it. Without lifetime values for the date the clv weight is dropped and the others
    re-normalised."""
    golden: GoldenRules = GoldenRules()
    """Rules that make a golden customer (黄金客户)."""
    cluster_count: int = Field(default=6, ge=2, le=30)
    """Behavioural clusters (KMeans k)."""
    cluster_seed: int = 20261127
    """Random seed of KMeans: the same data gives the same clusters."""
    cluster_fit_sample: int = Field(default=200_000, ge=100)
    """About this many customers fit the clusters (a sample by md5(customer_id), the same on
    both engines and every night; everyone when fewer); all are then assigned."""
    profile_top_features: int = Field(default=3, ge=1, le=10)
    """Distinguishing features named in a cluster's profile."""

    @field_validator("score_weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = set(weights) - set(SCORE_PARTS)
        if unknown:
            raise ValueError(f"unknown parts {sorted(unknown)}; known: {', '.join(SCORE_PARTS)}")
        if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError("weights must be non-negative and not all zero")
        return weights
