"""Samples of customers that both engines draw alike: a customer is in the sample when the md5
of their id sorts below a bound, so DuckDB and Spark (and every night, while the share stays)
take the same customers without drawing random numbers."""

from __future__ import annotations

import math


def sample_permille(customers: int, wanted: int) -> int:
    """The md5 sample's share (of 1000) that holds about ``wanted`` of ``customers``; 1000
    (everyone) when they are no more.

    >>> sample_permille(100_000, 20_000), sample_permille(3_000, 20_000)
    (200, 1000)
    """
    return min(1000, math.ceil(1000 * wanted / max(customers, 1)))


def sample_md5_below(permille: int) -> str:
    """The bound of an md5 sample of customers (cross-sell's training sample in
    ``int_cross_sell_inputs``, value's cluster fit, clv's Gamma-Gamma): a customer is in it when
    ``md5(customer_id)`` (lowercase hex, the same on DuckDB and Spark) sorts below this string,
    so ``permille`` of 1000 of the ids are, in expectation (the first 8 hex digits of an md5 are
    uniform over 16^8 values; a digest that starts with the bound itself sorts above it).

    >>> sample_md5_below(500)
    '80000000'
    >>> sample_md5_below(0)
    '00000000'
    """
    return f"{min(permille, 1000) * 16**8 // 1000:08x}"
