"""The stages of the nightly run, in run order. Each module defines one ``STAGE``.

    ingest → features → contribution → merchants → clv → value → tiers → export

Add a stage by writing ``pipeline/stages/<name>.py`` with a ``STAGE`` and listing it here;
the CLI gives every stage its own command (``cvp <name> --date D``).
"""

from __future__ import annotations

from pipeline.stages import clv, contribution, export, features, ingest, merchants, tiers, value
from pipeline.stages.base import Stage

STAGES: list[Stage] = [
    ingest.STAGE,
    features.STAGE,
    contribution.STAGE,
    merchants.STAGE,
    clv.STAGE,
    value.STAGE,
    tiers.STAGE,
    export.STAGE,
]

BY_NAME = {s.name: s for s in STAGES}
