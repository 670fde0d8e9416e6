"""Run stages for business dates: skip what is done, resume what failed, refuse what is unready.

A stage's *inputs token* for a date is a hash of what its result depends on: the config
sections it declares, the code version, and the tokens of the stages it needs; for ingest,
the files loaded for every business date up to this one (name, checksum, outcome). A stage
whose latest run for the date succeeded with the same token is skipped (unless forced), so a
re-run is cheap, a run after a failure resumes at the failed stage, a corrected re-send or a
changed rate re-runs exactly the stages downstream of it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import date

import duckdb

from pipeline.config import Config
from pipeline.engine.choose import open_engine, refuse_unported
from pipeline.errors import StageFailed
from pipeline.history import check_history, check_min_history
from pipeline.progress import RunProgress
from pipeline.stages import BY_NAME, STAGES
from pipeline.stages.base import Stage, StageContext, run_stage
from pipeline.warehouse import RunLedger, code_version

ORDER = [s.name for s in STAGES]


@dataclass(frozen=True)
class Step:
    business_date: date
    stage: str
    action: str
    """run or skip"""
    reason: str


def _latest(con: duckdb.DuckDBPyConnection, stage: str, day: date) -> tuple[str, str] | None:
    rows = con.execute(
        "select status, inputs_hash from run_ledger where stage = ? and business_date = ? "
        "and status <> 'skipped' order by started_at desc limit 1",
        [stage, day],
    ).fetchall()
    return (rows[0][0], rows[0][1] or "") if rows else None


def succeeded(con: duckdb.DuckDBPyConnection, stage: str, business_date: date) -> bool:
    """True when the latest run of ``stage`` for the date succeeded."""
    latest = _latest(con, stage, business_date)
    return latest is not None and latest[0] == "succeeded"


class Tokens:
    """Inputs tokens per (stage, date), computed from the warehouse's ledgers and the config."""

    def __init__(self, con: duckdb.DuckDBPyConnection, cfg: Config) -> None:
        self.con, self.cfg = con, cfg
        self._memo: dict[tuple[str, date], str] = {}

    def forget(self, day: date) -> None:
        self._memo = {k: v for k, v in self._memo.items() if k[1] != day}

    def of(self, stage: Stage, day: date) -> str:
        key = (stage.name, day)
        if key not in self._memo:
            digest = hashlib.sha256()
            digest.update(stage.name.encode())
            digest.update(self.cfg.section_fingerprint(*stage.config_sections).encode())
            digest.update(code_version().encode())
            if stage.name == "ingest":
                rows = self.con.execute(
                    "select file_name, business_date, sha256, outcome from file_ledger "
                    "where business_date <= ? order by business_date, file_name, received_at",
                    [day],
                ).fetchall()
                digest.update(repr(rows).encode())
            for need in stage.needs:
                digest.update(self.of(BY_NAME[need], day).encode())
            self._memo[key] = digest.hexdigest()[:16]
        return self._memo[key]


def stale_needs(
    con: duckdb.DuckDBPyConnection, tokens: Tokens, stage: Stage, day: date, planned: set[str]
) -> list[tuple[str, str]]:
    """The stages ``stage`` reads through for ``day`` (its needs, theirs, ...) whose outputs
    for the date are not what the current config and deliveries give, and which are not
    planned to run first, each with why.

    A need is current when its latest run for the date succeeded with the inputs token it
    would have now (same config sections, same code, same deliveries up to the date), and the
    needs it read are current in turn: "it last succeeded" is not enough (a run under a
    what-if config, or before a late delivery, succeeded too), nor is a matching token alone
    (a value built under this config still sits on a contribution rebuilt since under
    another). A run recorded without a token was made outside the runner (by hand, or a
    stage's own test) and is taken as it is, with what it read."""
    out: dict[str, str] = {}
    todo, seen = list(stage.needs), set()
    while todo:
        need = todo.pop(0)
        if need in seen or need in planned:
            continue
        seen.add(need)
        latest = _latest(con, need, day)
        if need == "ingest":  # its token is only known after it ran: the files it loaded
            if latest is None or latest[0] != "succeeded":
                out[need] = "not loaded" if latest is None else f"last run {latest[0]}"
            continue
        if latest is None:
            out[need] = "never run for the date"
        elif latest[0] != "succeeded":
            out[need] = f"last run {latest[0]}"
        elif latest[1] and latest[1] != tokens.of(BY_NAME[need], day):
            out[need] = "built with another configuration or before later deliveries"
        elif latest[1]:
            todo.extend(BY_NAME[need].needs)
    return [(n, out[n]) for n in ORDER if n in out]


def _rerun(stage: Stage, first_stale: str) -> list[str]:
    """The stages to run again for ``stage``: from the first stale one on, those it reads
    through, and itself."""
    upstream, todo = set(), list(stage.needs)
    while todo:
        name = todo.pop()
        if name not in upstream:
            upstream.add(name)
            todo.extend(BY_NAME[name].needs)
    start = ORDER.index(first_stale)
    return [n for n in ORDER[start:] if n in upstream or n == stage.name]


def check_needs(
    con: duckdb.DuckDBPyConnection, tokens: Tokens, stage: Stage, day: date, planned: set[str]
) -> None:
    """Refuse to run ``stage`` for ``day`` on outputs that are not current (see
    :func:`stale_needs`).

    Raises
    ------
    StageFailed
        Naming each stale need, why, and the command that brings them up to date.
    """
    stale = stale_needs(con, tokens, stage, day, planned)
    if stale:
        names = ", ".join(n for n, _ in stale)
        why = "; ".join(f"{n}: {w}" for n, w in stale)
        raise StageFailed(
            f"stage {stage.name} for {day} needs {names} first ({why}): "
            f"run `cvp run --date {day}` (or `cvp run --date {day} --stages "
            f"{','.join(_rerun(stage, stale[0][0]))}`)"
        )


def decide(
    con: duckdb.DuckDBPyConnection, tokens: Tokens, stage: Stage, day: date, force: bool
) -> Step:
    """Whether ``stage`` must run for ``day``, and why."""
    if stage.name == "ingest":
        return Step(day, stage.name, "run", "ingest always looks; loaded files are skipped")
    if force:
        return Step(day, stage.name, "run", "forced")
    latest = _latest(con, stage.name, day)
    if latest is None:
        return Step(day, stage.name, "run", "never run")
    status, token = latest
    if status != "succeeded":
        return Step(day, stage.name, "run", f"last run {status}: resume here")
    if token != tokens.of(stage, day):
        return Step(day, stage.name, "run", "inputs or configuration changed")
    if stage.name == "export":  # the files are the result, not the ledger's word for them
        from pipeline.export import verify_export

        problems = verify_export(tokens.cfg.paths.export_dir / f"{day:%Y%m%d}")
        if problems:
            return Step(day, stage.name, "run", f"published folder: {problems[0]}")
    return Step(day, stage.name, "skip", "done with the same inputs and configuration")


def plan(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    names: list[str],
    dates: list[date],
    force: bool = False,
) -> list[Step]:
    """What a run would do, as of now (``--dry-run``). A stage planned to run re-runs the
    stages after it in the same date, whatever their ledger says."""
    tokens = Tokens(con, cfg)
    steps = []
    for day in dates:
        rerun: set[str] = set()
        for name in names:
            step = decide(con, tokens, BY_NAME[name], day, force)
            upstream = rerun & set(BY_NAME[name].needs)
            if upstream and step.action == "skip":
                step = Step(day, name, "run", f"{', '.join(sorted(upstream))} re-runs")
            steps.append(step)
            if step.action == "run" and name != "ingest":
                rerun.add(name)
    return steps


def run_stages(
    con: duckdb.DuckDBPyConnection,
    cfg: Config,
    names: list[str],
    dates: list[date],
    log: logging.Logger,
    force: bool = True,
    progress: RunProgress | None = None,
    run_id: str | None = None,
) -> dict[str, int]:
    """Run the named stages for each date in order, stopping at the first failure.

    Stages run in pipeline order whatever order ``names`` gives. With ``force`` False a stage
    already done with the same inputs token is skipped (recorded as ``skipped``). ``progress``
    is told each stage as it starts and ends; ``run_id`` is recorded in the run ledger.
    Returns how many stage runs were run and skipped. The stages run on ``cfg.engine.name``;
    a run with a stage that does not run on it is refused before anything runs.
    """
    names = [n for n in ORDER if n in set(names)]
    refuse_unported([BY_NAME[n] for n in names], cfg.engine.name)
    engine = open_engine(con, cfg)
    ledger = RunLedger(con, cfg.fingerprint(), run_id)
    tokens = Tokens(con, cfg)
    counts = {"run": 0, "skip": 0}
    if progress is not None:
        progress.plan(dates, names)
    for day in dates:
        planned: set[str] = set()
        rerun: set[str] = set()
        for name in names:
            stage = BY_NAME[name]
            if name == "ingest":  # a date after a gap is not loaded: the gap's files could not
                check_history(con, day, including=False)
            elif not planned - {"ingest"}:  # the date's first stage after ingest
                check_history(con, day)
            check_needs(con, tokens, stage, day, planned)
            step = decide(con, tokens, stage, day, force or bool(rerun & set(stage.needs)))
            planned.add(name)
            if step.action == "skip":
                ledger.record_skip(name, day, tokens.of(stage, day), step.reason)
                counts["skip"] += 1
                if progress is not None:
                    progress.stage_finished(name, day, "skipped")
                continue
            check_min_history(con, cfg, name, day)
            if progress is not None:
                progress.stage_started(name, day)
            ctx = StageContext(
                con=con, cfg=cfg, business_date=day, ledger=ledger, log=log, engine=engine
            )
            run_stage(ctx, stage, inputs_token=None if name == "ingest" else tokens.of(stage, day))
            counts["run"] += 1
            if name != "ingest":
                rerun.add(name)  # the stages that need it read what it rewrote
            if name == "ingest":
                tokens.forget(day)
                ledger.set_token(name, day, tokens.of(stage, day))
            if progress is not None:
                progress.stage_finished(name, day, "succeeded")
        tokens.forget(day)
    return counts
