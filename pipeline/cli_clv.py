"""``cvp clv``: run the lifetime-value stage, or backtest it on demand.

Registered on the main app by :mod:`pipeline.cli`.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

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
)

clv_app = typer.Typer(
    help="Lifetime value (BG/NBD + Gamma-Gamma).\n\nExample: cvp clv --date 2026-11-27",
    add_completion=True,
)


@clv_app.callback(invoke_without_command=True)
@handle_errors
def clv(
    ctx: typer.Context,
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
    """Fit, validate and score lifetime value for a date or a range (needs contribution).

    Writes int_customer_clv, clv_fit_runs, clv_holdout_buckets and
    <export_dir>/clv/<YYYYMMDD>.json.

    Example: cvp clv --date 2026-11-27
    """
    if ctx.invoked_subcommand is not None:
        return
    cfg = load(config, landing_dir, warehouse, export_dir, engine)
    run_one_stage("clv", cfg, business_dates(date_, from_, to), log_format)


@clv_app.command("backtest")
@handle_errors
def backtest(
    calibration_end: Annotated[
        str, typer.Option("--calibration-end", help="Last day of the calibration period.")
    ],
    holdout_end: Annotated[str, typer.Option("--holdout-end", help="Last day of the holdout.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Machine-readable output.", metavar="")
    ] = False,
    config: ConfigOpt = None,
    warehouse: WarehouseOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Fit on history up to --calibration-end, predict events up to --holdout-end, compare.

    Prints predicted against actual events, RMSE, rank correlation and the error per
    calibration-frequency bucket. Writes nothing but the event aggregate's new deliveries.

    Example: cvp clv backtest --calibration-end 2026-08-31 --holdout-end 2026-11-27
    """
    from pipeline.engine.choose import open_engine
    from pipeline.stages.clv import backtest as run_backtest
    from pipeline.warehouse import connect, hold_warehouse, transaction

    cfg = load(config, warehouse=warehouse)
    cal_end = parse_date(calibration_end, "--calibration-end")
    hold_end = parse_date(holdout_end, "--holdout-end")
    with hold_warehouse(cfg, "cvp clv backtest"):  # it writes the event aggregate
        con = connect(cfg, create=False)
        try:
            with transaction(con):
                result = run_backtest(con, cfg.clv, cal_end, hold_end, open_engine(con, cfg))
        finally:
            con.close()
    metrics = {
        "calibration_end": cal_end.isoformat(),
        "holdout_end": hold_end.isoformat(),
        "model": result.fit.model,
        "params": result.fit.params,
        **result.metrics(),
        "buckets": result.buckets.to_dicts(),
    }
    if as_json:
        typer.echo(json.dumps(metrics, indent=2))
        return
    typer.echo(
        f"{result.fit.model} calibrated to {cal_end}, holdout to {hold_end} "
        f"({result.holdout_days} days, {result.n_customers} customers)"
    )
    typer.echo("  " + "  ".join(f"{k}={v:.4g}" for k, v in result.fit.params.items()))
    spearman = "n/a" if result.spearman is None else f"{result.spearman:.3f}"
    top = "n/a" if result.top_decile_share is None else f"{result.top_decile_share:.1%}"
    typer.echo(
        f"  events predicted {result.predicted_events:,.1f}  actual {result.actual_events:,}"
        f"  RMSE {result.rmse:.3f}  Spearman {spearman}  top-decile share {top}"
    )
    typer.echo("  frequency  customers  mean predicted  mean actual  error")
    for b in result.buckets.iter_rows(named=True):
        typer.echo(
            f"  {b['frequency_bucket']:>9}  {b['n_customers']:>9}  {b['mean_predicted']:>14.3f}"
            f"  {b['mean_actual']:>11.3f}  {b['mean_error']:>+6.3f}"
        )
