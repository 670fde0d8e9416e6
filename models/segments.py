"""Customer segments: demographic keys and behavioural clusters (spending habits).

Behavioural clusters are KMeans on standardised features of the customer view, fitted with a
fixed seed on a deterministic sample (:func:`fit_clusters`, on the driver), so a customer's
cluster is stable between runs on the same data; every customer is then assigned from their
own row (:func:`assign_clusters`, per part of the customers). Clusters are numbered by size
(0 the largest) so numbers do not depend on KMeans' internal order, and each gets a readable
profile: its size and the features that set it apart (the members' centre in standard
deviations from the sample's mean).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
from numpy.typing import NDArray

BEHAVIOUR_FEATURES: dict[str, str] = {
    "log_txn_count": "transactions",
    "ctr_share": "counter use",
    "atm_share": "self-service use",
    "tel_share": "phone banking use",
    "net_share": "online/mobile use",
    "pos_share": "card purchases",
    "log_pos_amount": "card spending",
    "log_aum_amount": "assets",
    "log_loans_amount": "borrowing",
    "products_held": "products held",
    "log_trend": "recent trend",
    "regular_inflow": "regular income",
}
"""Model features and the words a profile uses for them."""

REQUIRED = [
    "customer_id",
    "txn_count",
    "ctr_txn_count",
    "atm_txn_count",
    "tel_txn_count",
    "net_txn_count",
    "pos_txn_count",
    "pos_amount",
    "aum_amount",
    "adb_loans_amount",
    "products_held",
    "amount_trend_ratio",
    "has_regular_inflow",
]


def behaviour_matrix(features: pl.DataFrame) -> pl.DataFrame:
    """The model features of :data:`BEHAVIOUR_FEATURES`, one row per customer, sorted by id."""
    missing = [c for c in REQUIRED if c not in features.columns]
    if missing:
        raise ValueError(f"Required column {missing[0]} missing from the customer view")
    total = pl.col("txn_count").cast(pl.Float64)

    def share(col: str) -> pl.Expr:
        return pl.when(total > 0).then(pl.col(col).cast(pl.Float64) / total).otherwise(0.0)

    def log1p(col: str) -> pl.Expr:
        return pl.col(col).cast(pl.Float64).clip(lower_bound=0).log1p()

    return features.sort("customer_id").select(
        "customer_id",
        log1p("txn_count").alias("log_txn_count"),
        share("ctr_txn_count").alias("ctr_share"),
        share("atm_txn_count").alias("atm_share"),
        share("tel_txn_count").alias("tel_share"),
        share("net_txn_count").alias("net_share"),
        share("pos_txn_count").alias("pos_share"),
        log1p("pos_amount").alias("log_pos_amount"),
        log1p("aum_amount").alias("log_aum_amount"),
        log1p("adb_loans_amount").alias("log_loans_amount"),
        pl.col("products_held").cast(pl.Float64),
        pl.col("amount_trend_ratio")
        .cast(pl.Float64)
        .fill_null(1.0)
        .fill_nan(1.0)
        .clip(0.1, 10.0)
        .log()
        .alias("log_trend"),
        pl.col("has_regular_inflow").cast(pl.Float64).alias("regular_inflow"),
    )


@dataclass(frozen=True)
class ClusterModel:
    """Behavioural clusters fitted on a sample: the sample's standardisation (``mean``,
    ``std`` of each of :data:`BEHAVIOUR_FEATURES`) and the KMeans centres in standard
    deviations (one row per cluster, in KMeans' order: the raw cluster number)."""

    mean: NDArray[np.float64]
    std: NDArray[np.float64]
    centres: NDArray[np.float64]


def fit_clusters(sample: pl.DataFrame, k: int, seed: int) -> ClusterModel:
    """Fit KMeans (seeded, so the same sample gives the same clusters) on the standardised
    features of a sample of the customer view (``sample``: its :data:`REQUIRED` columns).

    Fewer than ``k`` clusters when the sample has fewer than ``k`` distinct customers' rows.
    """
    from sklearn.cluster import KMeans

    x = behaviour_matrix(sample).select(list(BEHAVIOUR_FEATURES)).to_numpy().astype(np.float64)
    if x.shape[0] == 0:
        raise ValueError("no customers to fit the behavioural clusters on")
    mean = x.mean(axis=0)
    std = x.std(axis=0)
    std[std == 0] = 1.0
    z = (x - mean) / std
    # fewer clusters only when the sample has fewer than k distinct rows: its first rows
    # usually show k already, which spares sorting all of them (0.4 s at 200k rows)
    head = len(np.unique(z[:1000], axis=0))
    k_eff = max(1, min(k, head if head >= k else len(np.unique(z, axis=0))))
    model = KMeans(n_clusters=k_eff, random_state=seed, n_init=4).fit(z)
    return ClusterModel(mean, std, np.asarray(model.cluster_centers_, dtype=np.float64))


def assign_clusters(features: pl.DataFrame, model: ClusterModel) -> pl.DataFrame:
    """Each customer's nearest centre (``raw_cluster``, the model's order; the first of equally
    near ones) and standardised features (``z_<feature>``), from the customer's own row: the
    customers can be assigned in parts.

    The distance is the plain sum of squared differences, so a customer's cluster does not
    depend on which other customers are assigned with them.
    """
    matrix = behaviour_matrix(features)
    names = list(BEHAVIOUR_FEATURES)
    z = (matrix.select(names).to_numpy().astype(np.float64) - model.mean) / model.std
    best = np.zeros(z.shape[0], dtype=np.int32)
    nearest = np.full(z.shape[0], np.inf)
    for c, centre in enumerate(model.centres):
        distance = ((z - centre) ** 2).sum(axis=1)
        closer = distance < nearest
        best[closer], nearest[closer] = c, distance[closer]
    return pl.DataFrame(
        {
            "customer_id": matrix.get_column("customer_id"),
            "raw_cluster": best,
            **{f"z_{name}": z[:, i] for i, name in enumerate(names)},
        }
    )


def cluster_profiles(
    model: ClusterModel, members: pl.DataFrame, top_features: int
) -> tuple[dict[int, int], pl.DataFrame]:
    """Number the clusters by size and describe them.

    Parameters
    ----------
    model
        The fitted clusters.
    members
        Per raw cluster with members: ``raw_cluster``, ``customers`` and the members' mean of
        each ``z_<feature>`` (their centre in standard deviations); a cluster without members
        is described by its KMeans centre.
    top_features
        How many distinguishing features a profile names.

    Returns
    -------
    (numbers, profiles)
        numbers: raw cluster -> behaviour_cluster, 0 the largest (equal sizes in the order of
        their centres), so numbers do not depend on KMeans' internal order. profiles:
        behaviour_cluster, customers, customer_share, profile (readable text), and the centre
        (``z_<feature>``), one row per cluster.
    """
    names = list(BEHAVIOUR_FEATURES)
    found = {r["raw_cluster"]: r for r in members.iter_rows(named=True)}
    k = len(model.centres)
    sizes = [int(found[c]["customers"]) if c in found else 0 for c in range(k)]
    n = sum(sizes)
    order = sorted(range(k), key=lambda c: (-sizes[c], tuple(model.centres[c])))
    rows = []
    for number, raw in enumerate(order):
        centre = (
            [float(found[raw][f"z_{name}"]) for name in names]
            if raw in found
            else [float(v) for v in model.centres[raw]]
        )
        ranked = sorted(range(len(names)), key=lambda i: -abs(centre[i]))[:top_features]
        words = ", ".join(
            f"{'high' if centre[i] > 0 else 'low'} {BEHAVIOUR_FEATURES[names[i]]} "
            f"({centre[i]:+.1f} sd)"
            for i in ranked
        )
        size = sizes[raw]
        row: dict[str, object] = {
            "behaviour_cluster": number,
            "customers": size,
            "customer_share": round(size / n, 6) if n else 0.0,
            "profile": f"cluster {number}: {size} customers ({size / n if n else 0:.1%}); {words}",
        }
        row.update({f"z_{name}": round(centre[i], 4) for i, name in enumerate(names)})
        rows.append(row)
    numbers = {raw: number for number, raw in enumerate(order)}
    return numbers, pl.DataFrame(rows)


DEMOGRAPHIC_COLUMNS = [
    "customer_id",
    "industry",
    "education",
    "region_code",
    "age_band",
    "occupation",
]
"""The customer view's columns :func:`demographic_segments` reads."""


def demographic_segments(features: pl.DataFrame) -> pl.DataFrame:
    """Segment keys by industry, education, region, age band and occupation."""
    cols = DEMOGRAPHIC_COLUMNS
    missing = [c for c in cols if c not in features.columns]
    if missing:
        raise ValueError(f"Required column {missing[0]} missing from the customer view")
    return features.select(cols).with_columns(
        pl.concat_str(
            [
                pl.col("industry").fill_null("-"),
                pl.col("education").fill_null("UNK"),
                pl.col("region_code").fill_null("-"),
                pl.col("age_band").fill_null("unknown"),
            ],
            separator="|",
        ).alias("demographic_segment")
    )
