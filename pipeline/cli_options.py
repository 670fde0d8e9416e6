"""What every ``cvp`` command shares: the options, the error handler, dates, loading the
configuration, and running one stage. Imported by :mod:`pipeline.cli` and the command groups
beside it (:mod:`pipeline.cli_clv`), which import nothing from each other."""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from pipeline.config import Config, load_config
from pipeline.errors import EXIT_FAILURE, PipelineError
from pipeline.logs import FORMATS, current_run_id, get_logger, setup_logging, uses_json
from pipeline.progress import RunProgress

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="YAML configuration (default configs/default.yaml here, else the packaged one).",
    ),
]
LandingOpt = Annotated[
    Path | None, typer.Option("--landing-dir", help="Landing zone root (env CVP_LANDING_DIR).")
]
WarehouseOpt = Annotated[
    Path | None, typer.Option("--warehouse", help="DuckDB file (env CVP_WAREHOUSE).")
]
ExportOpt = Annotated[
    Path | None, typer.Option("--export-dir", help="Export root (env CVP_EXPORT_DIR).")
]
DateOpt = Annotated[str | None, typer.Option("--date", help="Business date, ISO: 2026-11-27.")]
FromOpt = Annotated[str | None, typer.Option("--from", help="First business date of a range.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="Last business date of a range.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.", metavar="")]
LogFormatOpt = Annotated[
    str, typer.Option("--log-format", help="auto (text on a terminal, else JSON), text or json.")
]


class EngineChoice(StrEnum):
    """The engines a stage runs on (docs/scale.md, "The engine layer")."""

    duckdb = "duckdb"
    spark = "spark"


EngineOpt = Annotated[
    EngineChoice | None,
    typer.Option(
        "--engine",
        help="duckdb or spark (default: engine.name of the config, duckdb); docs/scale.md.",
    ),
]

F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(func: F) -> F:
    """One error handler for every command: a red line, the documented exit code.

    A command with ``--log-format`` has its logging set up here, before anything can fail,
    with the run id its ledger rows get; in JSON mode its error is a JSON line like the rest
    of its log (an unexpected one too, with the traceback inside), so that every line of
    stderr parses.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        fmt = kwargs.get("log_format")
        if fmt is not None:
            if fmt not in FORMATS:
                raise typer.BadParameter(
                    f"{fmt!r}: expected one of {', '.join(FORMATS)}", param_hint="--log-format"
                )
            setup_logging(fmt)
        as_json = fmt is not None and uses_json(fmt)
        try:
            return func(*args, **kwargs)
        except PipelineError as exc:
            if kwargs.get("debug"):
                raise
            if as_json:
                get_logger().error(f"error: {exc}", extra={"exit_code": exc.exit_code})
            else:
                typer.secho(f"error: {exc}", fg=typer.colors.RED, err=True)
            raise typer.Exit(exc.exit_code) from None
        except Exception as exc:
            if not as_json or kwargs.get("debug"):
                raise
            get_logger().error(
                f"unexpected error: {type(exc).__name__}: {exc}",
                exc_info=True,
                extra={"exit_code": EXIT_FAILURE},
            )
            raise typer.Exit(EXIT_FAILURE) from None

    return wrapper  # type: ignore[return-value]


def parse_date(text: str, option: str = "--date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PipelineError(f"{option} {text!r}: expected an ISO date such as 2026-11-27") from None


def business_dates(day: str | None, start: str | None, end: str | None) -> list[date]:
    """``--date D`` or ``--from D1 --to D2`` (inclusive), in date order."""
    if day and (start or end):
        raise PipelineError("give either --date or --from/--to, not both")
    if day:
        return [parse_date(day)]
    if not (start and end):
        raise PipelineError("give --date D, or both --from D1 and --to D2")
    first, last = parse_date(start, "--from"), parse_date(end, "--to")
    if last < first:
        raise PipelineError(f"--to {end} is before --from {start}")
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def load(
    config: Path | None,
    landing: Path | None = None,
    warehouse: Path | None = None,
    export: Path | None = None,
    engine: EngineChoice | None = None,
) -> Config:
    from pipeline.privacy import restrict_umask

    cfg = load_config(
        config, {"landing_dir": landing, "warehouse": warehouse, "export_dir": export}
    )
    if engine is not None:
        cfg = cfg.model_copy(
            update={"engine": cfg.engine.model_copy(update={"name": engine.value})}
        )
    restrict_umask(cfg)  # before anything is written: warehouse, exports, report 0600/0700
    return cfg


def run_progress(cfg: Config, command: str, log_format: str) -> RunProgress:
    """The progress of this command's run: its file for ``cvp status``, and a bar when it
    logs text to a terminal."""
    bar = sys.stderr.isatty() and not uses_json(log_format)
    return RunProgress(cfg, current_run_id(), command, bar=bar)


def run_one_stage(name: str, cfg: Config, dates: list[date], log_format: str) -> None:
    """What ``cvp <stage> --date D`` does: run that stage alone (always, never skipped)."""
    from pipeline.runner import run_stages
    from pipeline.warehouse import connect, hold_warehouse

    what = f"cvp {name} {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")
    with hold_warehouse(cfg, what), run_progress(cfg, what, log_format) as progress:
        progress.plan(dates, [name])
        con = connect(cfg, create=False)
        try:
            run_stages(
                con,
                cfg,
                [name],
                dates,
                get_logger(),
                force=True,
                progress=progress,
                run_id=current_run_id(),
            )
        finally:
            con.close()
