"""Market clusters: merchants linked by the counterparties they share, or by their market.

The merchant–counterparty graph is bipartite; projected onto merchants, two merchants are
linked when they share at least ``min_shared_counterparties`` counterparties (the same buyers
walking the same market, the same wholesalers). Counterparties that trade with very many
merchants (a utility, a national wholesaler) are hubs and link nothing. A cluster is a
connected component of that projection (networkx). Merchants left alone whose home branch
serves a market area are grouped per branch: they trade in the same market.
"""

from __future__ import annotations

import polars as pl

from models.errors import ModelInputError
from models.params.merchant_network import ClusterConfig

LINK_SHARED = "shared_counterparties"
LINK_BRANCH = "same_market_branch"


def _require(frame: pl.DataFrame, columns: tuple[str, ...], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ModelInputError(f"{what}: required column {', '.join(missing)} missing")


def link_merchants(counterparties: pl.DataFrame, settings: ClusterConfig) -> pl.DataFrame:
    """Pairs of merchants that share enough counterparties.

    Parameters
    ----------
    counterparties
        One row per merchant ``customer_id`` and ``counterparty_key`` (any role).
    settings
        Minimum shared counterparties and the hub limit.

    Returns
    -------
    pl.DataFrame
        ``merchant_a`` < ``merchant_b`` and ``shared_count``, for linked pairs only.

    Examples
    --------
    >>> import polars as pl
    >>> from models.params.merchant_network import ClusterConfig
    >>> cp = pl.DataFrame({"customer_id": ["A", "A", "B", "B"],
    ...                    "counterparty_key": ["x", "y", "x", "y"]})
    >>> link_merchants(cp, ClusterConfig(min_shared_counterparties=2)).rows()
    [('A', 'B', 2)]
    """
    _require(counterparties, ("customer_id", "counterparty_key"), "merchant counterparties")
    edges = counterparties.select("customer_id", "counterparty_key").unique()
    degree = edges.group_by("counterparty_key").agg(pl.len().alias("merchant_count"))
    useful = degree.filter(
        (pl.col("merchant_count") >= 2)
        & (pl.col("merchant_count") <= settings.max_counterparty_merchants)
    ).select("counterparty_key")
    edges = edges.join(useful, on="counterparty_key", how="semi")
    pairs = (
        edges.join(edges, on="counterparty_key", suffix="_b")
        .filter(pl.col("customer_id") < pl.col("customer_id_b"))
        .group_by(
            pl.col("customer_id").alias("merchant_a"), pl.col("customer_id_b").alias("merchant_b")
        )
        .agg(pl.len().cast(pl.Int64).alias("shared_count"))
        .filter(pl.col("shared_count") >= settings.min_shared_counterparties)
        .sort("merchant_a", "merchant_b")
    )
    return pairs


def find_market_clusters(
    merchants: pl.DataFrame, counterparties: pl.DataFrame, settings: ClusterConfig
) -> pl.DataFrame:
    """Group merchants into market clusters, each with its members and total turnover.

    Parameters
    ----------
    merchants
        One row per detected merchant: ``customer_id``, ``turnover_amount``,
        ``home_branch_id``, ``is_market_home_branch``.
    counterparties
        The merchants' counterparties: ``customer_id``, ``counterparty_key``.
    settings
        How merchants are linked (``merchants.clusters`` in the configuration).

    Returns
    -------
    pl.DataFrame
        One row per cluster: ``market_cluster_id`` (``MC-`` + its smallest member id, so it
        stays put while that member does), ``link_type`` (shared_counterparties or
        same_market_branch), ``member_count``, ``turnover_amount``, ``member_customer_ids``,
        ``home_branch_ids``, ``main_branch_id`` and ``link_count`` (merchant pairs linked).
        Merchants in no cluster do not appear.
    """
    _require(
        merchants,
        ("customer_id", "turnover_amount", "home_branch_id", "is_market_home_branch"),
        "merchants",
    )
    import networkx as nx

    pairs = link_merchants(counterparties, settings)
    graph = nx.Graph()
    graph.add_nodes_from(merchants["customer_id"].to_list())
    graph.add_edges_from(
        (a, b)
        for a, b in pairs.select("merchant_a", "merchant_b").iter_rows()
        if a in graph and b in graph
    )
    # A cluster's id is its smallest member, so it stays put from night to night.
    rows: list[tuple[str, str, str]] = []
    alone: list[str] = []
    for component in nx.connected_components(graph):
        if len(component) >= 2:
            first = min(component)
            rows += [(m, LINK_SHARED, f"MC-{first}") for m in sorted(component)]
        else:
            alone += list(component)
    membership = pl.DataFrame(
        rows,
        schema={"customer_id": pl.String, "link_type": pl.String, "market_cluster_id": pl.String},
        orient="row",
    ).join(merchants, on="customer_id")
    if settings.link_same_market_branch and alone:
        lonely = merchants.filter(
            pl.col("customer_id").is_in(alone) & pl.col("is_market_home_branch").fill_null(False)
        )
        per_branch = lonely.with_columns(
            pl.len().over("home_branch_id").alias("_n"),
            pl.col("customer_id").min().over("home_branch_id").alias("_first"),
        ).filter(pl.col("_n") >= 2)
        membership = pl.concat(
            [
                membership,
                per_branch.select(
                    "customer_id",
                    pl.lit(LINK_BRANCH).alias("link_type"),
                    *[c for c in merchants.columns if c != "customer_id"],
                    ("MC-" + pl.col("_first")).alias("market_cluster_id"),
                ),
            ],
            how="diagonal_relaxed",
        )
    links = (
        pairs.join(
            membership.select("customer_id", "market_cluster_id"),
            left_on="merchant_a",
            right_on="customer_id",
        )
        .group_by("market_cluster_id")
        .agg(pl.len().alias("link_count"))
    )
    clusters = (
        membership.sort("customer_id")
        .group_by("market_cluster_id")
        .agg(
            pl.col("link_type").first(),
            pl.len().alias("member_count"),
            pl.col("turnover_amount").sum().alias("turnover_amount"),
            pl.col("customer_id").alias("member_customer_ids"),
            pl.col("home_branch_id").unique().sort().alias("home_branch_ids"),
            pl.col("home_branch_id").mode().sort().first().alias("main_branch_id"),
        )
        .join(links, on="market_cluster_id", how="left")
        .with_columns(pl.col("link_count").fill_null(0).cast(pl.Int64))
        .sort("turnover_amount", "market_cluster_id", descending=[True, False])
    )
    return clusters
