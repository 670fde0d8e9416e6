"""``cvp status``: what the warehouse holds per business date, and what needs attention."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pipeline.config import Config
from pipeline.history import gaps, stale_dates
from pipeline.ingest.discover import discover
from pipeline.ingest.guards import UNKNOWN_CUSTOMER
from pipeline.warehouse import connect, table_exists


def _landing_dates(cfg: Config) -> list[date]:
    root = cfg.paths.landing_dir
    if not root.exists():
        return []
    out = []
    for child in sorted(root.iterdir()):
        try:
            out.append(datetime.strptime(child.name, "%Y%m%d").date())
        except ValueError:
            continue
    return out


def collect_status(cfg: Config) -> dict[str, Any]:
    """Per business date (landed or loaded): files by outcome, rows, quarantine, missing feeds,
    and the latest stage runs; plus the failed stage runs that were not since redone."""
    con = connect(cfg, read_only=True, create=False)
    files = con.execute(
        """
        with latest as (
            select *, row_number() over (partition by file_name, business_date
                                         order by received_at desc) as rn
            from file_ledger
        )
        select business_date, file_name, feed, outcome, rows_loaded, rows_quarantined, message
        from latest where rn = 1 order by business_date, file_name
        """
    ).fetchall()
    runs = con.execute(
        """
        with latest as (
            select *, row_number() over (partition by stage, business_date
                                         order by started_at desc) as rn
            from run_ledger
        )
        select business_date, stage, status, rows, message, started_at
        from latest where rn = 1 order by business_date, started_at
        """
    ).fetchall()
    loaded_anyway = (
        "union all select business_date from unknown_customer_rows"
        if table_exists(con, "unknown_customer_rows")
        else ""  # a warehouse not yet opened for writing by this version
    )
    unknown = con.execute(
        f"""
        select business_date, count(*) from (
            select business_date from quarantine where reason like '%{UNKNOWN_CUSTOMER}%'
            {loaded_anyway}
        ) group by business_date
        """
    ).fetchall()
    last = max([r[0] for r in files] + [r[0] for r in runs], default=None)
    gap_list = gaps(con, last) if last else []
    stale = stale_dates(con, last + timedelta(days=1)) if last else []
    con.close()
    dates: dict[date, dict[str, Any]] = {}

    def entry(day: date) -> dict[str, Any]:
        return dates.setdefault(
            day,
            {
                "business_date": day.isoformat(),
                "files": {},
                "rows_loaded": 0,
                "rows_quarantined": 0,
                "unknown_customer_rows": 0,
                "rejected": [],
                "missing": [],
                "stages": {},
                "failed": [],
            },
        )

    loaded_files = {(r[0], r[1]) for r in files if r[3] in ("loaded", "replaced")}
    for day, name, _feed, outcome, loaded, quarantined, message in files:
        e = entry(day)
        e["files"][outcome] = e["files"].get(outcome, 0) + 1
        if outcome in ("loaded", "replaced"):
            e["rows_loaded"] += int(loaded or 0)
            e["rows_quarantined"] += int(quarantined or 0)
        if outcome == "rejected":
            e["rejected"].append(f"{name}: {message}")
        if outcome == "held":
            e["rejected"].append(f"{name}: held: {message}")
    for day, n in unknown:
        entry(day)["unknown_customer_rows"] = int(n)
    for day in _landing_dates(cfg):
        e = entry(day)
        e["delivered"] = True
        _, missing = discover(cfg.paths.landing_dir, cfg.ingest, day)
        e["missing"] = [
            f"{m.file_name}: {m.reason}"
            for m in missing
            if m.required and (day, m.file_name) not in loaded_files  # archived: done
        ]
    for day, stage, state, _rows, message, _started in runs:
        e = entry(day)
        e["stages"][stage] = state
        if state in ("failed", "running"):
            e["failed"].append(f"{stage}: {state}" + (f": {message}" if message else ""))
    for g in gap_list:
        entry(g.business_date)["gap"] = g.reason
    for day in stale:
        entry(day)["stale"] = True
    ordered = [dates[d] for d in sorted(dates)]
    for e in ordered:
        e["loaded"] = bool(e["files"]) and not e["missing"] and not e["rejected"]
        # every required file landed, none loaded yet: the next `cvp run` loads it
        e["pending"] = bool(e.pop("delivered", False)) and not e["files"] and not e["missing"]
    return {
        "warehouse": str(cfg.paths.warehouse),
        "dates": ordered,
        "gaps": [
            {"business_date": g.business_date.isoformat(), "reason": g.reason} for g in gap_list
        ],
        "stale": [d.isoformat() for d in stale],
        "pending": [e["business_date"] for e in ordered if e["pending"]],
        "needs_attention": [
            e["business_date"]
            for e in ordered
            if e["missing"] or e["rejected"] or e["failed"] or e.get("gap") or e.get("stale")
        ],
    }


def keep_dates(report: dict[str, Any], since: date | None, last: int | None) -> None:
    """Show only the dates from ``since`` on, and of those the ``last`` N (``cvp status
    --since/--last``); ``dates_hidden`` counts the others. Gaps, stale dates and
    ``needs_attention`` stay whole: an old hole still stops every later date."""
    shown = report["dates"]
    if since is not None:
        shown = [e for e in shown if e["business_date"] >= since.isoformat()]
    if last is not None:
        shown = shown[-last:] if last > 0 else []
    report["dates_hidden"] = len(report["dates"]) - len(shown)
    report["dates"] = shown


def render_status(report: dict[str, Any]) -> str:
    lines = [f"warehouse {report['warehouse']}"]
    hidden = report.get("dates_hidden", 0)
    if hidden:
        lines.append(f"({hidden} earlier date(s) not shown: --since/--last)")
    elif not report["dates"]:
        lines.append("nothing landed or loaded yet")
    for e in report["dates"]:
        files = ", ".join(f"{n} {k}" for k, n in sorted(e["files"].items())) or (
            "delivered, not loaded yet" if e["pending"] else "no files"
        )
        state = "complete" if e["loaded"] else "PENDING" if e["pending"] else "INCOMPLETE"
        stages = " ".join(f"{s}:{st}" for s, st in e["stages"].items())
        lines.append(
            f"{e['business_date']}  {state:<10} {files}; rows {e['rows_loaded']}, "
            f"quarantined {e['rows_quarantined']}"
            + (
                f", of unknown customers {e['unknown_customer_rows']}"
                if e["unknown_customer_rows"]
                else ""
            )
            + (f"; stages {stages}" if stages else "")
        )
        for item in e["missing"]:
            lines.append(f"    missing  {item}")
        for item in e["rejected"]:
            lines.append(f"    rejected {item}")
        for item in e["failed"]:
            lines.append(f"    failed   {item}")
        if e.get("gap"):
            lines.append(f"    gap      {e['gap']}: later dates will not run (load or waive it)")
        if e.get("stale"):
            lines.append("    stale    a delivery arrived after it ran: `cvp run` re-runs it")
    attention = report["needs_attention"]
    if hidden and attention:
        lines.append(
            f"needs attention (all dates): {', '.join(attention[:10])}"
            + (" ..." if len(attention) > 10 else "")
        )
    return "\n".join(lines)
