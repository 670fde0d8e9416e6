"""Configuration: YAML files validated by pydantic, one model per concern.

A run's configuration comes from three layers, later ones winning:
the YAML file (``--config``, default ``configs/default.yaml``), the environment
(``CVP_LANDING_DIR``, ``CVP_WAREHOUSE``, ``CVP_EXPORT_DIR``) and command-line flags.
Relative paths are taken from the current working directory.
Nothing is read at import time: call :func:`load_config`.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Mapping
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pipeline.config.clv import ClvConfig
from pipeline.config.economics import EconomicsConfig
from pipeline.config.engine import EngineConfig
from pipeline.config.export import ExportConfig
from pipeline.config.features import FeaturesConfig
from pipeline.config.ingest import TUNING, IngestConfig
from pipeline.config.lists import ListsConfig
from pipeline.config.merchants import MerchantsConfig
from pipeline.config.tiers import TiersConfig
from pipeline.config.value import ValueConfig
from pipeline.errors import ConfigError

DEFAULT_CONFIG = Path("configs/default.yaml")
"""The configuration read when none is given, from the working directory; where there is none
(cvp installed from a wheel, run elsewhere), the one inside the package (:func:`default_config`)."""


def default_config() -> Path:
    """``configs/default.yaml`` of the working directory if there is one, else the package's."""
    if DEFAULT_CONFIG.exists():
        return DEFAULT_CONFIG
    return Path(str(resources.files("pipeline") / "configs" / "default.yaml"))


ENV_PATHS = {
    "landing_dir": "CVP_LANDING_DIR",
    "warehouse": "CVP_WAREHOUSE",
    "export_dir": "CVP_EXPORT_DIR",
}


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PathsConfig(_Frozen):
    landing_dir: Path
    """Root of the landing zone: one folder ``<YYYYMMDD>`` per business date."""
    warehouse: Path
    """The DuckDB database file."""
    export_dir: Path
    """Root of the exports: one folder ``<YYYYMMDD>`` per business date."""


class WarehouseConfig(_Frozen):
    lock_wait_seconds: float = Field(default=10.0, ge=0)
    """How long a second cvp process waits for the warehouse before giving up (exit 4)."""
    threads: int | None = Field(default=None, ge=1)
    """DuckDB worker threads; empty means all cores."""
    memory_limit: str | None = None
    """DuckDB memory limit, e.g. ``8GB``; empty means DuckDB's default (80% of RAM)."""
    chunk_customers: int = Field(default=250_000, ge=1)
    """Customers per pass of the widest per-customer queries (those whose SQL declares the
    params ``customer_from`` and ``customer_to``): the query runs once per range of customer
    ids, so its memory is a range's. Smaller uses less memory, not less time."""
    analyst_snapshot: bool = True
    """After each successful ``cvp run``, publish a read-only copy of the warehouse for
    analysts beside it (``<stem>.analysts.duckdb``; ``cvp sql``, ``cvp show``)."""

    @field_validator("memory_limit")
    @classmethod
    def _duckdb_accepts(cls, value: str | None) -> str | None:
        if value is None:
            return value
        import duckdb

        con = duckdb.connect(":memory:")
        try:
            con.execute("set memory_limit = ?", [value])
        except duckdb.Error:
            raise ValueError(
                f"{value!r} is not a memory size DuckDB understands (e.g. 8GB, 512MB)"
            ) from None
        finally:
            con.close()
        return value


class HistoryConfig(_Frozen):
    min_days: dict[str, int] = Field(default_factory=dict)
    """Days of history (from the first date loaded to the business date, both included) below
    which a stage refuses to run for a date rather than publish what so short a history cannot
    support (a new warehouse; a wrong path used to make one). A stage not listed takes what it
    reads (:func:`pipeline.history.min_history`): merchants their window
    (``merchants.window_days``), tiers the features window of the date (the AUM averages
    divide by all of its days: 335-366), export the larger of the two (it publishes both);
    the other stages none (contribution annualises, clv has ``clv.min_history_days``). Set a
    stage lower only for a warehouse meant to be that young (a test zone, a go-live)."""

    @field_validator("min_days")
    @classmethod
    def _stages_and_days(cls, value: dict[str, int]) -> dict[str, int]:
        known = {"features", "contribution", "merchants", "clv", "value", "tiers", "export"}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"unknown stages {unknown}; known: {', '.join(sorted(known))}")
        low = sorted(k for k, v in value.items() if v < 1)
        if low:
            raise ValueError(f"{low}: at least 1 day")
        less = sorted(
            k for k in ("tiers", "merchants") if value.get(k, 0) > value.get("export", 1e9)
        )
        if less:
            raise ValueError(
                f"export ({value['export']}) below {', '.join(less)} ({value[less[0]]}): "
                "the export would publish on less history than they need"
            )
        return value


class PrivacyConfig(_Frozen):
    group_readable: bool = False
    """Files cvp creates (warehouse, exports, report) are 0600 and folders 0700; true makes
    them readable by the group too (0640 / 0750). See :mod:`pipeline.privacy`."""
    ref_key_file: Path | None = None
    """File holding the secret key of ``counterparty_ref`` (HMAC-SHA256); empty: the
    environment's ``CVP_REF_KEY`` / ``CVP_REF_KEY_FILE``, else ``<warehouse>.refkey``, created
    with a random key on first use. docs/privacy.md says how to rotate it."""


class ReportConfig(_Frozen):
    lang: Literal["en", "zh"] = "en"
    """Language of ``cvp report`` (``--lang`` overrides it): ``en`` English, ``zh`` Simplified
    Chinese; the messages are in ``pipeline/report/messages/<lang>.yaml``."""


class Config(_Frozen):
    paths: PathsConfig
    bank_code: str = Field(min_length=1, max_length=12)
    """This bank's own code in ``counterparty_bank``: a counterparty with it banks with us."""
    warehouse: WarehouseConfig = WarehouseConfig()
    history: HistoryConfig = HistoryConfig()
    """How much history a stage needs before it publishes (``cvp run`` refuses below it)."""
    ingest: IngestConfig
    tiers: TiersConfig = TiersConfig()
    """Tier ladder, hysteresis, merchant promotion, potential value, channel migration."""
    lists: ListsConfig = ListsConfig()
    """Next-best-product models and the call-centre list."""
    export: ExportConfig = ExportConfig()
    """The Parquet export: schema version, files, compression (docs/exports.md)."""
    features: FeaturesConfig = FeaturesConfig()
    """The customer view: trailing window, trend split, bands, MCC categories."""
    economics: EconomicsConfig = EconomicsConfig()
    """Rates of the contribution model (FTP, commissions, interchange, costs, risk)."""
    value: ValueConfig = ValueConfig()
    """Value score weights, golden-customer rules, behavioural clusters."""
    merchants: MerchantsConfig = MerchantsConfig()
    """High-value individual merchants: signals, scorecard, decoy vetoes, chain, clusters."""
    clv: ClvConfig = ClvConfig()
    """Lifetime value: event definition, BG/NBD + Gamma-Gamma, horizon, validation, stages."""
    privacy: PrivacyConfig = PrivacyConfig()
    """File modes of what cvp writes; the key of pseudonymous counterparty references."""
    report: ReportConfig = ReportConfig()
    """The HTML report: its language."""
    engine: EngineConfig = EngineConfig()
    """The engine the stages run on (DuckDB, or Spark and its lake): docs/scale.md."""

    def fingerprint(self) -> str:
        """A short hash of everything but the paths, the report's language and the engine
        (which change no figure): a change re-runs what it affects."""
        payload = self.model_dump(mode="json", exclude={"paths", "report", "engine"})
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def section_fingerprint(self, *sections: str) -> str:
        """A hash of the named sections only, for stages that depend on part of the config;
        settings marked ``TUNING`` (how fast, never what) are left out, so that changing one
        re-runs nothing."""
        payload = {
            s: self.model_dump(mode="json", include={s}, exclude={s: _tuning(getattr(self, s))})
            for s in sections
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tuning(section: object) -> set[str]:
    """The fields of a config section marked ``TUNING``."""
    if not isinstance(section, BaseModel):
        return set()
    fields = type(section).model_fields
    return {name for name, f in fields.items() if f.json_schema_extra == TUNING}


def load_config(
    path: Path | None = None,
    overrides: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
) -> Config:
    """Read, layer and validate the configuration.

    Parameters
    ----------
    path
        The YAML file; when None ``configs/default.yaml`` of the working directory, or the
        package's own default.
    overrides
        Path values from command-line flags (``landing_dir``, ``warehouse``, ``export_dir``);
        None values are ignored.
    environ
        The environment to read ``CVP_*`` variables from; ``os.environ`` when None.

    Raises
    ------
    ConfigError
        Naming the file and every field in error.
    """
    path = path or default_config()
    env = os.environ if environ is None else environ
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found (pass --config PATH)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    paths = dict(raw.get("paths") or {})
    for key, var in ENV_PATHS.items():
        if env.get(var):
            paths[key] = env[var]
    for key, value in (overrides or {}).items():
        if value is not None:
            paths[key] = value
    for key, value in paths.items():
        if isinstance(value, (str, Path)):
            paths[key] = _expand_path(path, key, str(value), env)
    raw["paths"] = paths
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(path, exc)) from None


_VAR = re.compile(r"\$(\w+)|\$\{([^}]*)\}")


def _expand_path(source: Path, key: str, value: str, env: Mapping[str, str]) -> str:
    """``~`` and ``$VAR`` / ``${VAR}`` of a path, expanded here once from ``env`` (every
    command then sees the same absolute path: an unexpanded ``~`` made a folder named ``~``
    beside the one meant). A variable that is not set is an error, not an empty string."""

    def var(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in env:
            raise ConfigError(f"{source}: paths.{key}: ${name} is not set (in {value!r})")
        return env[name]

    text = _VAR.sub(var, value)
    if text == "~" or text.startswith("~/"):
        home = env.get("HOME") or str(Path.home())
        text = home + text[1:]
    return text


def _model_at(loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The config model at ``loc`` (section, field, dict key or list index...), if any."""
    current: Any = Config
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        else:  # a dict or list: step into its value type
            args = [a for a in get_args(current) if a is not type(None)]
            if not args:
                return None
            current = args[-1]
        while get_origin(current) is not None and get_origin(current) not in (dict, list):
            # Optional[...] / Annotated[...]: the model inside
            inner = [a for a in get_args(current) if a is not type(None)]
            current = inner[0] if inner else None
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _hint(err: Any) -> str:
    """What to add to pydantic's message: a close known name, or the value given."""
    loc = tuple(err["loc"])
    if err["type"] == "extra_forbidden" and loc:
        model = _model_at(loc[:-1])
        if model is not None:
            close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
            if close:
                return f"; did you mean {close[0]!r}?"
            return f"; known: {', '.join(model.model_fields)}"
        return ""
    value = err.get("input")
    if isinstance(value, str | int | float | Decimal | bool) or value is None:
        return f" (got {value!r})" if not isinstance(value, Decimal) else f" (got {value})"
    return ""


def format_validation_error(path: Path, exc: ValidationError) -> str:
    """One line per mistake: ``file: section.field: message``, with the offending value or,
    for an unknown key, the closest known one."""
    lines = []
    for err in exc.errors():
        where = ".".join(str(part) for part in err["loc"]) or "(top level)"
        if err["type"] == "value_error":  # our own validators' messages name the value
            message = str(err["msg"]).removeprefix("Value error, ")
        else:
            message = f"{err['msg']}{_hint(err)}"
        lines.append(f"{path}: {where}: {message}")
    return "\n".join(lines)
