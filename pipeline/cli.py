"""The ``cvp`` command line: one command per stage, plus run, status, generate and config.

Every command takes ``--config PATH`` and the path flags; errors print one line and exit with
the code documented in :mod:`pipeline.errors` (the traceback only with ``--debug``).
"""

from __future__ import annotations

import json
import sys
from datetime import date, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from pipeline.cli_clv import clv_app
from pipeline.cli_lake import lake_app
from pipeline.cli_options import (
    ConfigOpt,
    DateOpt,
    DebugOpt,
    EngineOpt,
    ExportOpt,
    FromOpt,
    LandingOpt,
    LogFormatOpt,
    ToOpt,
    WarehouseOpt,
    business_dates,
    handle_errors,
    load,
    parse_date,
    run_one_stage,
    run_progress,
)
from pipeline.config import Config
from pipeline.errors import EXIT_FAILURE, DeliveryIncomplete, PipelineError, WarehouseBusy
from pipeline.logs import current_run_id, get_logger, setup_logging, uses_json

app = typer.Typer(
    help="cvp: the customer value pipeline. Nightly: `cvp run --date 2026-11-27`.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
)
config_app = typer.Typer(help="Inspect the configuration.", no_args_is_help=True)


def _show_version(value: bool) -> None:
    if value:
        from pipeline.warehouse import code_version

        typer.echo(f"cvp {code_version()}")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print cvp's version and exit.",
            is_eager=True,
            callback=_show_version,
            metavar="",
        ),
    ] = False,
) -> None:
    """cvp: the customer value pipeline. Nightly: `cvp run --date 2026-11-27`."""


app.add_typer(config_app, name="config")


@config_app.command("check")
@handle_errors
def config_check(config: ConfigOpt = None, debug: DebugOpt = False) -> None:
    """Validate the configuration and report every mistake with file and field.

    Example: cvp config check --config configs/default.yaml
    """
    from pipeline.config import default_config

    cfg = load(config)
    typer.echo(f"{config or default_config()}: ok (fingerprint {cfg.fingerprint()})")


@app.command()
@handle_errors
def ingest(
    date_: DateOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    config: ConfigOpt = None,
    landing_dir: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    new: Annotated[
        bool,
        typer.Option(
            "--new",
            help="Create the warehouse: only on the landing zone's first date.",
            metavar="",
        ),
    ] = False,
    engine: EngineOpt = None,
    log_format: LogFormatOpt = "auto",
    debug: DebugOpt = False,
) -> None:
    """Load a business date's delivered files into the warehouse, exactly once (on Spark,
    the date's rows then published to the lake: docs/scale.md).

    Exit 0 when every required feed loaded, 3 when a feed is missing or rejected (retry
    later), 4 when another cvp holds the warehouse, 1 on any other failure (a warehouse
    path where there is none included: the first ingest of a zone says --new).

    Example: cvp ingest --date 2026-11-27
    """
    from pipeline.ingest import ingest_dates
    from pipeline.warehouse import RunLedger, connect, hold_warehouse

    cfg = load(config, landing_dir, warehouse, None, engine)
    log = get_logger()
    dates = business_dates(date_, from_, to)
    if new:
        _check_new_warehouse(cfg, dates[0])
    what = f"cvp ingest {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")
    with (
        hold_warehouse(cfg, what, create=new),
        run_progress(cfg, what, log_format) as progress,
    ):
        progress.plan(dates, ["ingest"])
        con = connect(cfg, create=new)
        try:
            ledger = RunLedger(con, cfg.fingerprint(), current_run_id())
            lake = None
            if cfg.engine.name == "spark":
                from pipeline.engine.spark_engine import SparkEngine
                from pipeline.engine.spark_session import session_from_config

                lake = SparkEngine(session_from_config(cfg.engine.spark), cfg.engine.spark.lake)
            results = ingest_dates(con, cfg, dates, ledger, log, progress, lake)
        finally:
            con.close()
    problems = [f"{r.business_date}: {p}" for r in results for p in r.incomplete]
    if len(results) < len(dates):
        problems.append(
            f"{dates[len(results)]} to {dates[-1]}: not attempted (a range stops at the first "
            "incomplete date, so that its late files can still load)"
        )
    if problems:
        raise DeliveryIncomplete(
            "delivery incomplete:\n  " + "\n  ".join(problems) + "\nre-run when delivered"
        )


@app.command()
@handle_errors
def accept(
    file: Annotated[str, typer.Option("--file", help="The held data file's name.")],
    date_: DateOpt = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Accept a held snapshot (one that closes more records than ingest.snapshot_max_shrink
    allows, or an empty one): that exact file (by checksum) is applied by the next ingest.

    Example: cvp accept --file CUST_20261127.dat && cvp run --date 2026-11-27
    """
    from pipeline.ingest.guards import accept_file
    from pipeline.warehouse import connect, hold_warehouse, transaction

    cfg = load(config, None, warehouse)
    with hold_warehouse(cfg, f"cvp accept {file}"):
        con = connect(cfg, create=False)
        try:
            with transaction(con):
                held_date, sha = accept_file(con, file, parse_date(date_) if date_ else None)
        finally:
            con.close()
    typer.echo(
        f"accepted {file} of {held_date} (sha256 {sha[:12]}…): the next "
        f"`cvp ingest --date {held_date}` or `cvp run` applies it"
    )


def _check_new_warehouse(cfg: Config, first: date) -> None:
    """``--new`` makes a warehouse only where there is none, from the zone's first date."""
    from pipeline.ingest.discover import date_folder

    path = cfg.paths.warehouse
    if path.exists():
        raise PipelineError(f"--new: {path} exists already; drop --new to load into it")
    root = cfg.paths.landing_dir
    earlier = sorted(
        p.name
        for p in (root.iterdir() if root.is_dir() else [])
        if p.is_dir() and p.name.isdigit() and p.name < date_folder(root, first).name
    )
    if earlier:
        raise PipelineError(
            f"--new: the landing zone {root} has dates before {first} (from {earlier[0]}); "
            "a new warehouse starts at the zone's first date"
        )


@app.command()
@handle_errors
def init(
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Create an empty warehouse at the configured path (nothing else creates one).

    Every other command refuses a path where there is no warehouse (a typo, a volume not
    mounted), instead of starting an empty one there. An existing warehouse is left as is.

    Example: cvp init --warehouse /data/cvp/cvp.duckdb
    """
    from pipeline.warehouse import connect, hold_warehouse

    cfg = load(config, None, warehouse)
    path = cfg.paths.warehouse
    if path.exists():
        with hold_warehouse(cfg, "cvp init"):  # the schema brought up to date is a write
            connect(cfg, create=False).close()
        typer.echo(f"{path}: exists already; left as is")
        return
    with hold_warehouse(cfg, "cvp init", create=True):
        connect(cfg, create=True).close()
    typer.echo(f"created {path}")


@app.command()
@handle_errors
def status(
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output.", metavar="")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Only the dates from this one on (ISO).")
    ] = None,
    last: Annotated[
        int | None, typer.Option("--last", min=1, help="Only the last N dates.")
    ] = None,
    config: ConfigOpt = None,
    landing_dir: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Which dates are loaded, what is missing, rejected or quarantined, and what failed.

    While a run holds the warehouse, its live progress instead (which date of how many, the
    stage running, the last one finished); a progress file left by a run that was killed is
    shown as such before the status.

    Example: cvp status --last 7 --json
    """
    from pipeline.progress import read_progress, render_progress
    from pipeline.status import collect_status, keep_dates, render_status

    cfg = load(config, landing_dir, warehouse)
    first = parse_date(since, "--since") if since else None
    live = read_progress(cfg)
    if not (live and live["alive"]):
        try:
            report = collect_status(cfg)
        except WarehouseBusy:  # a run took the warehouse meanwhile: its progress then
            live = read_progress(cfg)
            if not (live and live["alive"]):
                raise
    if live and live["alive"]:
        if as_json:
            payload = {"warehouse": str(cfg.paths.warehouse), "run_in_progress": live}
            typer.echo(json.dumps(payload, indent=2, ensure_ascii=False))
        else:
            typer.echo(render_progress(live, cfg.paths.warehouse))
        return
    keep_dates(report, first, last)
    if live:
        report["stopped_run"] = live
        if not as_json:
            typer.echo(render_progress(live, cfg.paths.warehouse))
    if as_json:
        typer.echo(json.dumps(report, indent=2, default=str, ensure_ascii=False))
    else:
        typer.echo(render_status(report))


@app.command()
@handle_errors
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing zone folder to write.")],
    customers: Annotated[int, typer.Option("--customers", min=10, help="Population size.")] = 2000,
    start: Annotated[str, typer.Option("--start", help="First business date.")] = "2026-01-01",
    days: Annotated[int, typer.Option("--days", min=1, help="Number of business dates.")] = 30,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 1,
    bank_code: Annotated[
        str | None, typer.Option("--bank-code", help="Our bank's code (default: config).")
    ] = None,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write a synthetic landing zone in the spec's format, with a ground-truth file beside it.

    Example: cvp generate --out var/landing --customers 5000 --start 2025-10-01 --days 400
    """
    from pipeline.generate import generate_landing_zone

    code = bank_code or load(config).bank_code
    try:
        summary = generate_landing_zone(
            out, customers, parse_date(start, "--start"), days, seed, bank_code=code
        )
    except ValueError as exc:
        raise PipelineError(f"generate: {exc}") from None
    typer.echo(
        f"wrote {summary.landing_dir} ({summary.first_date} to {summary.last_date}, "
        f"{summary.customers} customers, {summary.txn_rows} transactions, "
        f"{summary.bytes_written / 1e6:.1f} MB in {summary.seconds:.1f} s); "
        f"ground truth {summary.truth_path} and {summary.accounts_truth_path}"
    )


@app.command("run")
@handle_errors
def run_command(
    date_: DateOpt = None,
    from_: FromOpt = None,
    to: ToOpt = None,
    stages: Annotated[
        str | None, typer.Option("--stages", help="Comma-separated subset, e.g. tiers,export.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Re-run stages already done.", metavar="")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print the plan and what would be skipped, and why.", metavar=""
        ),
    ] = False,
    config: ConfigOpt = None,
    landing_dir: LandingOpt = None,
    warehouse: WarehouseOpt = None,
    export_dir: ExportOpt = None,
    engine: EngineOpt = None,
    log_format: LogFormatOpt = "auto",
    debug: DebugOpt = False,
) -> None:
    """Run the nightly pipeline for a date, or backfill a range in date order.

    Stages: ingest, features, contribution, merchants, clv, value, tiers, export. A stage done
    with the same inputs and configuration is skipped (unless --force); after a failure the
    next run resumes at the failed stage. Exit 0 done, 1 failed, 3 delivery incomplete,
    4 warehouse busy, 5 a check blocked the export.

    Example: cvp run --date 2026-11-27
    """
    from pipeline.runner import ORDER, plan, run_stages
    from pipeline.warehouse import connect, hold_warehouse

    cfg = load(config, landing_dir, warehouse, export_dir, engine)
    dates = business_dates(date_, from_, to)
    names = ORDER
    if stages:
        names = [s.strip() for s in stages.split(",") if s.strip()]
        unknown = [n for n in names if n not in ORDER]
        if unknown:
            raise PipelineError(
                f"--stages: unknown {', '.join(unknown)}; known: {', '.join(ORDER)}"
            )
    if dry_run:
        from pipeline.history import gaps, stale_dates

        con = connect(cfg, read_only=True, create=False)
        try:
            earlier = [] if stages else stale_dates(con, dates[0])
            for day in earlier:
                typer.echo(f"{day}  (stale: a delivery arrived after it ran; re-run first)")
            for step in plan(con, cfg, [n for n in ORDER if n in names], earlier + dates):
                typer.echo(
                    f"{step.business_date}  {step.stage:<12} {step.action:<4}  {step.reason}"
                )
            holes = gaps(con, dates[-1] - timedelta(days=1))
            if holes:
                typer.echo(
                    f"history incomplete: {', '.join(str(g.business_date) for g in holes[:5])}"
                    + (" ..." if len(holes) > 5 else "")
                    + ": the run stops at the first date after it (exit 3)"
                )
        finally:
            con.close()
        return
    log = get_logger()
    what = f"cvp run {dates[0]}" + (f" to {dates[-1]}" if len(dates) > 1 else "")
    with hold_warehouse(cfg, what), run_progress(cfg, what, log_format) as progress:
        progress.plan(dates, names)
        con = connect(cfg, create=False)
        try:
            if not stages:  # the whole night: first the dates a late delivery made stale
                from pipeline.history import stale_dates

                earlier = stale_dates(con, dates[0])
                if earlier:
                    log.warning(
                        f"re-running {len(earlier)} earlier date(s) first, built before a "
                        f"delivery for them or an earlier date was loaded: "
                        + ", ".join(str(d) for d in earlier[:10])
                        + (" ..." if len(earlier) > 10 else "")
                    )
                    dates = earlier + dates
            counts = run_stages(
                con,
                cfg,
                names,
                dates,
                log,
                force=force,
                progress=progress,
                run_id=current_run_id(),
            )
        finally:
            con.close()
        # on Spark the tables are the lake's, readable by any Parquet reader: a copy of the
        # warehouse file (ledgers and histories) would show analysts stale transactions
        if cfg.warehouse.analyst_snapshot and cfg.engine.name == "duckdb":
            from pipeline.snapshot import publish_snapshot

            progress.stage_started("snapshot", dates[-1])
            con = connect(cfg, create=False)
            try:
                path, seconds = publish_snapshot(con, cfg)
            finally:
                con.close()
            progress.stage_finished("snapshot", dates[-1], "succeeded")
            log.info(
                f"analysts' snapshot published: {path}",
                extra={"stage": "snapshot", "seconds": round(seconds, 3)},
            )
    last = dates[-1].strftime("%Y%m%d")
    log.info(f"run done: {counts['run']} stage runs, {counts['skip']} skipped")
    if "export" in names:
        typer.echo(f"exports: {cfg.paths.export_dir / last}")
    typer.echo(f"warehouse: {cfg.paths.warehouse}")


FormatOpt = Annotated[
    str, typer.Option("--format", help="table (readable), csv or json (one object a line).")
]


def _print_result(rel: Any, fmt: str) -> None:
    import csv

    if fmt == "table":
        typer.echo(str(rel))
        return
    names = list(rel.columns)
    rows = rel.fetchall()
    if fmt == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
    elif fmt == "json":
        for row in rows:
            typer.echo(
                json.dumps(dict(zip(names, row, strict=True)), default=str, ensure_ascii=False)
            )
    else:
        raise PipelineError(f"--format {fmt!r}: expected table, csv or json")


@app.command("sql")
@handle_errors
def sql_command(
    query: Annotated[str, typer.Argument(help="A SQL query (DuckDB dialect).")],
    fmt: FormatOpt = "table",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Run a query on the analysts' snapshot of the warehouse (read-only; published after each
    successful night, so it never blocks the nightly run). Tables and views: docs/tables.md.

    Example: cvp sql "select tier, count(*) from int_customer_tiers group by 1" --format csv
    """
    import duckdb

    from pipeline.snapshot import open_snapshot

    cfg = load(config, None, warehouse)
    con = open_snapshot(cfg)
    try:
        _print_result(con.sql(query), fmt)
    except duckdb.Error as exc:
        raise PipelineError(f"sql: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


@app.command("show")
@handle_errors
def show_command(
    table: Annotated[str | None, typer.Argument(help="A table or view; none lists them.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Rows to show.")] = 20,
    fmt: FormatOpt = "table",
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Show a table's first rows from the analysts' snapshot, or list the tables.

    Example: cvp show customers --limit 5
    """
    from pipeline.snapshot import open_snapshot, table_names

    cfg = load(config, None, warehouse)
    con = open_snapshot(cfg)
    try:
        names = table_names(con)
        if table is None:
            typer.echo("\n".join(names))
            return
        if table not in names:
            import difflib

            close = difflib.get_close_matches(table, names, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else "; `cvp show` lists them"
            raise PipelineError(f"show: no table or view {table!r}{hint}")
        quoted = '"' + table.replace('"', '""') + '"'
        _print_result(con.sql(f"select * from {quoted} limit {int(limit)}"), fmt)
    finally:
        con.close()


@app.command()
@handle_errors
def waive(
    date_: Annotated[str, typer.Option("--date", help="The business date to accept as is.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it will never be complete.")],
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Accept a business date as incomplete for good, so that later dates can run.

    A date runs only when every date since the first loaded one is complete; a date that
    will never be (a holiday without deliveries, a file the source cannot resend) is waived
    by name with a reason, recorded in the table history_waivers.

    Example: cvp waive --date 2026-10-30 --reason "source system outage, no resend"
    """
    from pipeline.history import waive as record_waiver
    from pipeline.warehouse import connect, hold_warehouse

    if not reason.strip():
        raise PipelineError("--reason: say why the date will never be complete")
    day = parse_date(date_)
    cfg = load(config, None, warehouse)
    with hold_warehouse(cfg, "cvp waive"):
        con = connect(cfg, create=False)
        try:
            record_waiver(con, day, reason)
        finally:
            con.close()
    typer.echo(f"waived {day}: {reason.strip()}")


class ReportLang(StrEnum):
    """The languages of ``cvp report`` (pipeline/report/messages/)."""

    en = "en"
    zh = "zh"


@app.command("report")
@handle_errors
def report_command(
    date_: Annotated[str, typer.Option("--date", help="Business date, ISO: 2026-11-27.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="HTML file to write (default <export_dir>/report_<D>.html)."),
    ] = None,
    lang: Annotated[
        ReportLang | None,
        typer.Option("--lang", help="Language of the report: en or zh (default: report.lang)."),
    ] = None,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    export_dir: ExportOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write the date's HTML report: tiers, concentration, lifetime value, merchants, channels,
    managers, branches and data quality, as one self-contained file (no network needed).

    Reads the warehouse read-only; a section whose table is missing for the date says so.
    Prints the path written.

    Example: cvp report --date 2026-11-27 --lang zh
    """
    from pipeline.report import write_report

    cfg = load(config, None, warehouse, export_dir)
    chosen = lang.value if lang else None
    typer.echo(str(write_report(cfg, parse_date(date_), out, chosen)))


def _stage_command(name: str, doc: str) -> None:
    @handle_errors
    def command(
        date_: DateOpt = None,
        from_: FromOpt = None,
        to: ToOpt = None,
        config: ConfigOpt = None,
        landing_dir: LandingOpt = None,
        warehouse: WarehouseOpt = None,
        export_dir: ExportOpt = None,
        engine: EngineOpt = None,
        log_format: LogFormatOpt = "auto",
        debug: DebugOpt = False,
    ) -> None:
        cfg = load(config, landing_dir, warehouse, export_dir, engine)
        run_one_stage(name, cfg, business_dates(date_, from_, to), log_format)

    command.__doc__ = f"{doc}\n\nExample: cvp {name} --date 2026-11-27"
    app.command(name)(command)


def _register_stage_commands() -> None:
    from pipeline.stages import STAGES

    for stage in STAGES:
        if stage.name in {"ingest"} or stage.name in CUSTOM_STAGE_COMMANDS:
            continue
        doc = (stage.run.__doc__ or f"Run the {stage.name} stage.").strip().splitlines()[0]
        _stage_command(stage.name, doc)


CUSTOM_STAGE_COMMANDS: set[str] = {"clv"}
"""Stages whose command is defined by hand (e.g. a group with subcommands)."""

_register_stage_commands()
app.add_typer(clv_app, name="clv")
app.add_typer(lake_app, name="lake")


def _json_requested(argv: list[str]) -> bool:
    """Whether this command line logs JSON: ``--log-format json``, or a command that has
    ``--log-format`` left at ``auto`` off a terminal."""
    for i, word in enumerate(argv):
        if word == "--log-format" and i + 1 < len(argv):
            return uses_json(argv[i + 1])
        if word.startswith("--log-format="):
            return uses_json(word.split("=", 1)[1])
    import typer.main

    group = typer.main.get_command(app)
    command = group.commands.get(argv[0]) if argv else None  # type: ignore[attr-defined]
    takes_format = command is not None and any(p.name == "log_format" for p in command.params)
    return takes_format and uses_json("auto")


def main() -> None:
    """The ``cvp`` console script. A command line that logs JSON gets its usage errors (an
    unknown option, a missing one: exit 2) as a JSON line too."""
    if not _json_requested(sys.argv[1:]):
        try:
            app()
        except KeyboardInterrupt:
            sys.exit(EXIT_FAILURE)
        return
    try:
        code = app(standalone_mode=False)
    except typer.TyperException as exc:  # the command line is wrong: nothing ran
        setup_logging("json")
        get_logger().error(
            f"usage error: {exc.format_message()} (see `cvp COMMAND --help`)",
            extra={"exit_code": exc.exit_code},
        )
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        sys.exit(EXIT_FAILURE)
    sys.exit(code if isinstance(code, int) else 0)
