"""Codes of the extract specification (shared/extract-spec.md) the models' parameters name."""

from __future__ import annotations

CHANNELS = ("CTR", "ATM", "TEL", "NET", "POS")
"""TXN_<CH> channels: branch counter, self-service, phone, online/mobile, bank cards."""
TXN_CODES = ("DEP", "WDL", "TRI", "TRO", "PAY", "POS", "FEE", "PRB", "PRR", "LDR", "LRP", "QRY")
"""TXN column 7, txn_code."""
PRODUCTS = ("DDA", "TDA", "WMP", "FND", "INS", "CCD", "PLN", "MTG", "BLN")
"""ACCT column 3, product_code."""
