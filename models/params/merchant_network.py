"""Parameters of the market clusters of merchants (models/merchant_network.py)."""

from __future__ import annotations

from pydantic import Field

from models.params import Params


class ClusterConfig(Params):
    min_shared_counterparties: int = Field(default=3, ge=1)
    """Two merchants are linked when they share at least this many counterparties."""
    max_counterparty_merchants: int = Field(default=60, ge=2)
    """A counterparty trading with more merchants than this is a hub (a utility, a big
    wholesaler) and does not link merchants; otherwise everyone would be one cluster."""
    link_same_market_branch: bool = True
    """Merchants without a counterparty link whose home branch serves a market area form one
    cluster per market-area branch (the same market)."""
