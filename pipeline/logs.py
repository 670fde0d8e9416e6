"""Logging: readable lines on a terminal, JSON lines otherwise (for cron and log shippers).

Every record may carry ``stage``, ``business_date``, ``rows``, ``seconds`` (and a stage's
``cpu_seconds`` and ``peak_rss_mb``) as extras;
the formatters print whichever are present. A JSON line always has ``ts`` (ISO 8601 with the
machine's UTC offset) and ``run_id``: the id the command's rows in ``run_ledger`` carry, one
per command. Set up once per command, by the CLI, never at import time.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
import uuid
from datetime import datetime

FIELDS = (
    "stage",
    "business_date",
    "feed",
    "file",
    "rows",
    "seconds",
    "cpu_seconds",
    "peak_rss_mb",
    "outcome",
    "exit_code",
)
FORMATS = ("auto", "text", "json")
LOGGER = "cvp"
_run_id: str | None = None


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def current_run_id() -> str:
    """The run id of this command (set by :func:`setup_logging`); a new one if none was."""
    global _run_id
    if _run_id is None:
        _run_id = new_run_id()
    return _run_id


def uses_json(fmt: str) -> bool:
    """Whether ``--log-format fmt`` means JSON lines: ``json``, or ``auto`` off a terminal."""
    return fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(
            f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None
        )
        text = f"{when} {record.levelname:<7} {record.getMessage()}" + (
            f"  [{extras}]" if extras else ""
        )
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return text


class JsonFormatter(logging.Formatter):
    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
            "run_id": self.run_id,
        }
        for k in FIELDS:
            value = getattr(record, k, None)
            if value is not None:
                payload[k] = value if isinstance(value, int | float) else str(value)
        if record.exc_info:
            payload["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(payload, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (a progress bar on a terminal
    redirects it, to print the lines above itself)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


def setup_logging(
    fmt: str = "auto", level: int = logging.INFO, run_id: str | None = None
) -> logging.Logger:
    """Send cvp's log to stderr as text (``text``), JSON lines (``json``) or by terminal
    (``auto``), every JSON line with ``run_id`` (a new one unless given)."""
    global _run_id
    if fmt not in FORMATS:
        raise ValueError(f"--log-format {fmt!r}: expected one of {', '.join(FORMATS)}")
    _run_id = run_id or new_run_id()
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter(_run_id) if uses_json(fmt) else TextFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    # a library's warning (numpy, lifetimes) is a log line like any other: JSON in JSON mode
    logging.captureWarnings(uses_json(fmt))
    warned = logging.getLogger("py.warnings")
    warned.handlers[:] = [handler] if uses_json(fmt) else []
    warned.propagate = not uses_json(fmt)
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER)
