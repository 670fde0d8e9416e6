"""The SQL headers are live: each file reads exactly the tables it declares as ``inputs``, and
docs/tables.md lists every table with the grain its header declares. (That the grain is
unique on real data is checked on the sample zone's warehouse: tests/test_end_to_end.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

from pipeline.sqlfiles import SqlModel, load_sql
from tests.conftest import REPO

MODELS = [
    load_sql(p) for p in sorted((REPO / "sql").rglob("*.sql")) if p.parent.name != "warehouse"
]


def tables_read(model: SqlModel) -> set[str]:
    """The tables and views a file's body reads: every table reference that is not one of its
    own CTEs. ``$name`` parameters become plain identifiers first (sqlglot's DuckDB
    tokenizer takes ``$`` for a dollar-quoted string)."""
    tree = sqlglot.parse_one(re.sub(r"\$(\w+)", r"__param_\1", model.body), read="duckdb")
    ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table) if t.name and t.name not in ctes}


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.table)
def test_a_file_reads_exactly_its_declared_inputs(model: SqlModel) -> None:
    read = tables_read(model)
    declared = set(model.inputs)
    assert read == declared, (
        f"{model.path.relative_to(REPO)}: reads but does not declare {sorted(read - declared)}; "
        f"declares but does not read {sorted(declared - read)}"
    )


def test_the_check_sees_an_undeclared_input(tmp_path: Path) -> None:
    """The check itself: a join on a table the header does not name is caught."""
    path = tmp_path / "t.sql"
    path.write_text(
        "-- table:  t\n-- grain:  customer_id\n-- inputs: a\n-- params:\n"
        "-- materialize: table\nwith x as (select * from a) "
        "select * from x join b using (customer_id)\n",
        encoding="utf-8",
    )
    assert tables_read(load_sql(path)) == {"a", "b"}


def documented_grains() -> dict[str, str]:
    """``table -> grain`` from the rows of docs/tables.md that name one table."""
    rows = {}
    for line in (REPO / "docs" / "tables.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) > 3 and re.fullmatch(r"`\w+`", cells[1]):
            rows[cells[1].strip("`")] = cells[2]
    return rows


def test_docs_list_every_sql_table_with_its_declared_grain() -> None:
    docs = documented_grains()
    wrong = {
        m.table: (", ".join(m.grain), docs.get(m.table))
        for m in MODELS
        if docs.get(m.table) != ", ".join(m.grain)
    }
    assert not wrong, f"docs/tables.md disagrees with the SQL headers (header, docs): {wrong}"
