"""Synthetic landing zone: a provincial capital's personal customers, their accounts and a
year of transactions, in the extract-spec format, with ground-truth files beside it (one row per
customer, one row per account: see ``truth``).

Modules: ``vocab`` (word lists), ``identity`` (names, IDs, mobiles), ``population`` (branches,
customers, personas), ``accounts`` (products), ``network`` (counterparties, merchants' trade),
``world`` (everything drawn once), ``activity`` / ``schedule`` / ``trade`` (one day's rows),
``ledger`` (rows and balances), ``writer`` (files), ``truth`` and ``landing`` (the entry point).
"""

from pipeline.generate.landing import (
    GenerationSummary,
    accounts_truth_path_for,
    generate_landing_zone,
    truth_path_for,
)

__all__ = [
    "GenerationSummary",
    "accounts_truth_path_for",
    "generate_landing_zone",
    "truth_path_for",
]
