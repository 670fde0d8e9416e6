"""docs/exports.md is the contract: every exported file has exactly the documented columns,
in order, with the documented types."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.config import Config
from pipeline.config.export import EXPORT_FILES
from tests.test_export import prepared, run_export

DOC = Path(__file__).resolve().parent.parent / "docs" / "exports.md"


def documented_schemas() -> dict[str, list[tuple[str, str]]]:
    """``### <file>.parquet`` headings followed by a ``| column | type | meaning |`` table."""
    schemas: dict[str, list[tuple[str, str]]] = {}
    current: str | None = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### (\w+)\.parquet\s*$", line)
        if heading:
            current = heading.group(1)
            schemas[current] = []
            continue
        if line.startswith("#"):
            current = None
        if current and line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if cells[0] in {"column", ""} or set(cells[0]) <= {"-"}:
                continue
            schemas[current].append((cells[0], cells[1]))
    return schemas


def arrow_type_name(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.date32(): "date32",
        pa.int32(): "int32",
        pa.int64(): "int64",
        pa.float64(): "double",
        pa.bool_(): "bool",
    }.get(t, str(t))


def test_document_covers_every_export_file() -> None:
    assert sorted(documented_schemas()) == sorted(EXPORT_FILES)


def test_exported_schemas_match_document(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    con.close()
    folder = cfg.paths.export_dir / "20261127"
    for name, columns in documented_schemas().items():
        schema = pq.read_schema(folder / f"{name}.parquet")
        actual = [(f.name, arrow_type_name(f.type)) for f in schema]
        assert actual == columns, f"{name}.parquet differs from docs/exports.md"


def test_customer_value_has_the_issue_columns() -> None:
    required = {
        "customer_id",
        "business_date",
        "tier",
        "tier_reasons",
        "contribution_amount",
        "value_score",
        "is_golden",
        "aum_amount",
        "clv_amount",
        "p_alive",
        "is_merchant",
        "is_potential",
        "next_best_product",
        "rm_id",
        "home_branch_id",
        "mobile_masked",
        "economic_profit_amount",
        "capital_charge_amount",
        "history_days",
    }
    assert required <= {c for c, _ in documented_schemas()["customer_value"]}
    # issue #12: economic profit beside contribution, summed for branches and managers
    assert {"contribution_amount", "economic_profit_amount", "capital_charge_amount"} <= {
        c for c, _ in documented_schemas()["branch_summary"]
    }
    assert {
        "book_contribution_amount",
        "book_economic_profit_amount",
        "book_capital_charge_amount",
    } <= {c for c, _ in documented_schemas()["rm_scorecard"]}
    merchants = {c for c, _ in documented_schemas()["merchants"]}
    assert {
        "customer_id",
        "merchant_score",
        "turnover_amount",
        "is_declared",
        "reasons",
    } <= merchants


def documented_versions() -> list[str]:
    """The versions of the ``## Schema versions`` table, oldest first."""
    text = DOC.read_text(encoding="utf-8").split("## Schema versions", 1)[1]
    return re.findall(r"^\| (\d+\.\d+) \|", text, re.M)


def test_configured_schema_version_is_the_latest_documented() -> None:
    from pipeline.config import load_config
    from tests.conftest import REPO

    versions = documented_versions()
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split("."))))
    cfg = load_config(REPO / "configs" / "default.yaml", environ={})
    assert cfg.export.schema_version == versions[-1], (
        "configs/default.yaml export.schema_version differs from the latest version in "
        "docs/exports.md"
    )
