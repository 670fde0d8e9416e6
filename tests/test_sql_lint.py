"""The portable-SQL lint (pipeline/sql_lint.py): each non-portable construct is named, its
portable form passes, and the baseline of today's violations only shrinks."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from pipeline.sql_lint import RULES, compare, lint_sql, lint_tree, read_baseline
from tests.conftest import REPO

# rule -> (a snippet with the construct, the same written in the portable form)
CASES = {
    "iso_weekday": (
        "select isodow(txn_date) from t",
        "select (date_diff('day', date '1970-01-05', txn_date) % 7 + 7) % 7 + 1 from t",
    ),
    "month_year_diff": (
        "select date_diff('year', birth_date, $business_date) from t",
        "select year($business_date) - year(birth_date) from t",
    ),
    "variable_list_index": (
        "select l[list_position(k, c)] from t",
        "select list_extract(l, list_position(k, c)), l[1] from t",
    ),
    "ordered_list": (
        "select list(distinct customer_id order by customer_id) from t",
        "select list_sort(list(distinct customer_id)) from t",
    ),
    "percentile": (
        "select percentile_cont(0.5) within group (order by amount) from t",
        "select row_number() over (order by amount), count(amount) over () from t",
    ),
    "decimal_division": (
        "select amount / $days from t",
        "select cast(amount / $days as decimal(18, 2)), cast(n as double) / m from t",
    ),
    "list_lambda": (
        "select list_reduce(l, (a, b) -> a + b) from t",
        "select list_transform(l, x -> x + 1), list_filter(l, x -> x > 1) from t",
    ),
    "map_literal": ("select map {'a': 1} from t", "select map(['a'], [1]) from t"),
    "range_table": (
        "select * from range(3)",
        "with n as (select unnest(generate_series(0, 2)) as i) select * from n",
    ),
    "columns_expression": ("select columns('_amount$') from t", "select a_amount from t"),
    "union_by_name": (
        "select 1 as a union all by name select 2 as a",
        "select 1 as a union all select 2 as a",
    ),
    "unpivot": (
        "unpivot t on a, b into name k value v",
        "select 'a' as k, a as v from t where a is not null "
        "union all select 'b' as k, b as v from t where b is not null",
    ),
    "hugeint": ("select cast(n as hugeint) from t", "select cast(n as bigint) from t"),
    "star_modifier": (
        "select t.* replace (coalesce(a, 0) as a) from t",
        "select coalesce(a, 0) as a, b from t",
    ),
    "date_minus_date": (
        "select $business_date - open_date from t",
        "select date_diff('day', open_date, $business_date), $business_date - 1 from t",
    ),
    "top_n_aggregate": (
        "select max(amount, 3) from t",
        "select amount from t qualify row_number() over (order by amount desc) <= 3",
    ),
    "arg_max_nullable": (
        "select arg_max(branch_id, valid_from) from t",
        "select arg_max(branch_id, valid_from) filter (where branch_id is not null), "
        "arg_min(coalesce(balance, 0), day_from) from t",
    ),
    "engine_hash": (
        "select * from t where abs(hash(customer_id)) % 1000 < $permille",
        "select * from t where md5(customer_id) < $sample_md5_below",
    ),
    "strftime_format": (
        "select strftime(d, '%u') from t",
        "select strftime(d, '%Y-%m'), strftime(d, '%m%d') from t",
    ),
}


def test_every_rule_has_a_case() -> None:
    assert set(CASES) == {r.name for r in RULES}


@pytest.mark.parametrize("rule", sorted(CASES))
def test_the_construct_is_rejected_and_its_portable_form_passes(rule: str) -> None:
    bad, portable = CASES[rule]
    assert [f.rule.name for f in lint_sql(bad)] == [rule]
    assert lint_sql(portable) == []


def test_allowed_constructs_pass() -> None:
    """Checked and allowed: sqlglot writes Spark's exact equivalent (pipeline.sql_lint.ALLOWED)."""
    sql = (
        "select count(*) filter (where amount > 0), least(a, b), greatest(a, b), "
        "strftime(d, '%Y-%m-%d %H:%M:%S'), map(k, v), l[2] from t"
    )
    assert lint_sql(sql) == []


def test_a_finding_names_file_line_construct_and_portable_form() -> None:
    sql = (
        "-- table: t\n-- params: business_date\nselect\n  a,\n  isodow($business_date) as w\nfrom t"
    )
    (finding,) = lint_sql(sql, "sql/x/t.sql")
    assert (finding.file, finding.line) == ("sql/x/t.sql", 5)
    assert str(finding).startswith("sql/x/t.sql:5: iso_weekday: ISODOW($business_date)")
    assert "portable: (date_diff('day', date '1970-01-05', d)" in str(finding)


def test_the_ratchet_fails_on_a_new_violation_and_on_a_fixed_one() -> None:
    findings = lint_sql("select isodow(d), isodow(e) from t", "sql/x/t.sql")
    key = ("sql/x/t.sql", "iso_weekday")
    assert compare(findings, Counter({key: 2})) == []
    new = compare(findings, Counter({key: 1}))
    assert new[0] == "sql/x/t.sql: 2 iso_weekday, the baseline allows 1:"
    assert len(new) == 3  # both findings listed: the lint cannot tell the new one
    fixed = compare(findings, Counter({key: 3}))
    assert fixed == [
        "sql/x/t.sql: 2 iso_weekday, the baseline lists 3: shrink it with "
        "python -m pipeline.sql_lint --update-baseline"
    ]


def test_update_baseline_only_lowers_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline import sql_lint

    sql = tmp_path / "sql" / "x"
    sql.mkdir(parents=True)
    (sql / "t.sql").write_text("select isodow(d), isodow(e), a / b from t", encoding="utf-8")
    baseline = tmp_path / "baseline.txt"
    baseline.write_text(
        "sql/x/t.sql iso_weekday 3\nsql/x/t.sql hugeint 1\nsql/x/t.sql decimal_division 0\n"
    )
    monkeypatch.setattr(sql_lint, "SQL_DIR", tmp_path / "sql")
    monkeypatch.setattr(sql_lint, "BASELINE", baseline)
    monkeypatch.setattr(sql_lint, "REPO", tmp_path)
    assert sql_lint.main(["--update-baseline"]) == 0
    assert read_baseline(baseline) == Counter({("sql/x/t.sql", "iso_weekday"): 2})
    assert sql_lint.main([]) == 1  # the division is new: still a failure


def test_the_sql_tree_has_no_violation_beyond_the_baseline() -> None:
    assert compare(lint_tree(REPO / "sql"), read_baseline()) == []


def test_docs_name_every_rule() -> None:
    docs = (REPO / "docs" / "scale.md").read_text(encoding="utf-8")
    assert [r.name for r in RULES if f"| `{r.name}` |" not in docs] == []
