"""Logging: readable lines on a terminal, JSON lines otherwise (for cron and log shippers).

Every record may carry ``stage``, ``business_date``, ``rows``, ``seconds`` (and a stage's
``cpu_seconds`` and ``peak_rss_mb``) as extras;
the formatters print whichever are present. Set up once, by the CLI, never at import time.
"""

from __future__ import annotations

import json
import logging
import sys
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
)
LOGGER = "cvp"


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created).strftime("%H:%M:%S")
        extras = " ".join(
            f"{k}={getattr(record, k)}" for k in FIELDS if getattr(record, k, None) is not None
        )
        return f"{when} {record.levelname:<7} {record.getMessage()}" + (
            f"  [{extras}]" if extras else ""
        )


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        for k in FIELDS:
            value = getattr(record, k, None)
            if value is not None:
                payload[k] = value if isinstance(value, int | float) else str(value)
        return json.dumps(payload, ensure_ascii=False)


def setup_logging(fmt: str = "auto", level: int = logging.INFO) -> logging.Logger:
    """Send cvp's log to stderr as text (``text``), JSON lines (``json``) or by terminal."""
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if use_json else TextFormatter())
    logger = logging.getLogger(LOGGER)
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False
    return logger


def get_logger() -> logging.Logger:
    return logging.getLogger(LOGGER)
