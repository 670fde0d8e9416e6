"""The one error tree of cvp, and the exit codes the CLI maps it to.

::

    (the command line is wrong)   exit 2: typer refuses it before anything runs
    PipelineError                 exit 1 unless stated
    ├── ConfigError               a configuration file or value is wrong
    ├── ExtractError              a delivered file cannot be used (bad control file, mismatch)
    │   └── DeliveryIncomplete    exit 3: a required feed is missing or was rejected; retry later
    ├── SqlError                  a SQL file is malformed or failed
    ├── DataContractError         a table or frame lacks what a step needs
    ├── WarehouseBusy             exit 4: another cvp process holds the warehouse
    ├── WarehouseMissing          no warehouse at the path (only cvp init makes one)
    ├── WarehouseUnreadable       the warehouse file is corrupt or unreadable: restore it
    ├── StageFailed               a stage failed; the run ledger records it
    │   └── CheckFailed           exit 5: a check (e.g. reconciliation) failed: no export
    └── ExportBlocked             exit 5: a check failed, so the export was refused

Messages name the file, line or field and say what to do next. They never carry personal data.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
"""The command line itself is wrong (an unknown command or option, a required option
missing, a value out of an option's range): nothing ran. Set by typer, before cvp's code."""
EXIT_DELIVERY_INCOMPLETE = 3
EXIT_WAREHOUSE_BUSY = 4
EXIT_EXPORT_BLOCKED = 5


class PipelineError(Exception):
    """Base of every error cvp raises on purpose."""

    exit_code = EXIT_FAILURE


class ConfigError(PipelineError):
    """A configuration file or value is wrong."""


class ExtractError(PipelineError):
    """A delivered file cannot be used."""


class DeliveryIncomplete(ExtractError):
    """A required feed is missing or was rejected for a business date."""

    exit_code = EXIT_DELIVERY_INCOMPLETE


class SqlError(PipelineError):
    """A SQL file is malformed or failed to run."""


class DataContractError(PipelineError):
    """A table or frame lacks a column or property that a step needs."""


class WarehouseBusy(PipelineError):
    """Another cvp process holds the warehouse lock."""

    exit_code = EXIT_WAREHOUSE_BUSY


class WarehouseMissing(PipelineError):
    """No warehouse at the configured path: a wrong path is never turned into a new one."""


class WarehouseUnreadable(PipelineError):
    """DuckDB cannot open the warehouse file (corrupt, truncated, not a database): exit 1,
    not "busy", so a scheduler does not retry it for ever."""


class StageFailed(PipelineError):
    """A stage failed for a business date."""


class CheckFailed(StageFailed):
    """A check inside a stage failed, so the date's export is blocked."""

    exit_code = EXIT_EXPORT_BLOCKED


class ExportBlocked(PipelineError):
    """An upstream check failed for the date, so the export is refused."""

    exit_code = EXIT_EXPORT_BLOCKED
