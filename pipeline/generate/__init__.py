"""Synthetic landing zone: a provincial capital's personal customers, their accounts and a
year of transactions, in the extract-spec format, with a ground-truth file beside it.

Modules: ``vocab`` (word lists), ``identity`` (names, IDs, mobiles), ``population`` (branches,
customers, personas), ``accounts`` (products), ``network`` (counterparties, merchants' trade),
``world`` (everything drawn once), ``activity`` / ``schedule`` / ``trade`` (one day's rows),
``ledger`` (rows and balances), ``writer`` (files), ``truth`` and ``landing`` (the entry point).
"""

from pipeline.generate.landing import GenerationSummary, generate_landing_zone, truth_path_for

__all__ = ["GenerationSummary", "generate_landing_zone", "truth_path_for"]
