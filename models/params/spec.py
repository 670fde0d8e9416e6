"""Codes of the extract specification (shared/extract-spec.md) the models' parameters name."""

from __future__ import annotations

CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")
"""TXN_<CH> channels: branch counter, self-service, phone, online/mobile, bank cards."""
TXN_CODES = ("DEP", "WDL", "TRI", "TRO", "PAY", "POS", "FEE", "PRB", "PRR", "LDR", "LRP", "QRY")
"""TXN column 7, txn_code."""
PRODUCTS = ("DDA", "TDA", "WMP", "FND", "INS", "CCD", "PLN", "MTG", "BLN")
"""ACCT column 3, product_code."""


def require_known(values: list[str], known: tuple[str, ...], what: str) -> list[str]:
    """``values`` when each is one of ``known``, for a field validator; else a ValueError that
    names the unknown ``what`` and lists the known ones."""
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} {sorted(unknown)}; known: {', '.join(known)}")
    return values
