"""``cvp report --date D``: one self-contained HTML page of the date's figures.

::

    collect.py   SQL through a read-only DuckDB connection: one dict per section
    figures.py   matplotlib (Agg) plots as inline SVG
    html.py      the numbers the page shows beside the collected rows; renders the templates
    templates/   the page (Jinja2, autoescaped): sections, figures with captions, tables, CSS
    i18n.py      the language: messages/<lang>.yaml (every word of the page) and formats
    fmt.py       number formats

The page needs no network and no script. A section whose upstream table is missing for the
date says so in place of its plot.
"""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from pathlib import Path

from pipeline.config import Config
from pipeline.errors import PipelineError
from pipeline.privacy import modes


def default_report_path(cfg: Config, day: date) -> Path:
    """``<export_dir>/report_<YYYYMMDD>.html``."""
    return cfg.paths.export_dir / f"report_{day:%Y%m%d}.html"


def build_report_html(cfg: Config, day: date, lang: str | None = None) -> str:
    """Read the warehouse (read-only) and render the page for ``day`` in ``lang`` (``en`` or
    ``zh``; None: the configuration's ``report.lang``)."""
    from pipeline.report.collect import collect_all
    from pipeline.report.html import render_html
    from pipeline.warehouse import code_version, connect

    if not cfg.paths.warehouse.exists():
        raise PipelineError(
            f"{cfg.paths.warehouse}: no warehouse there; pass --warehouse or set CVP_WAREHOUSE"
        )
    con = connect(cfg, read_only=True)
    try:
        sections = collect_all(con, day)
    finally:
        con.close()
    return render_html(
        sections,
        day,
        datetime.now(),
        str(cfg.paths.warehouse),
        lang or cfg.report.lang,
        fingerprint=cfg.fingerprint(),
        version=code_version(),
    )


def write_report(cfg: Config, day: date, out: Path | None = None, lang: str | None = None) -> Path:
    """Write the report for ``day`` atomically (temp file beside it, then rename).

    Parameters
    ----------
    cfg
        The validated configuration (warehouse and export paths).
    day
        The business date.
    out
        Where to write; ``<export_dir>/report_<YYYYMMDD>.html`` when None.
    lang
        ``en`` or ``zh``; the configuration's ``report.lang`` when None.

    Returns
    -------
    Path
        The file written.
    """
    path = out or default_report_path(cfg, day)
    text = build_report_html(cfg, day, lang)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, modes(cfg)[0])  # mkstemp's 0600, or group-readable by config
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
