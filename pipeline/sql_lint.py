"""The portable SQL subset: DuckDB SQL that also means the same thing on Spark.

The SQL files are the single statement of each stage's logic for both engines (issue 18): DuckDB
runs them as written, Spark will run them through sqlglot (duckdb -> spark) and cvp's fix-ups. A
construct is in the subset when that translation gives Spark's rows exactly; each ``Rule`` below
is a construct that is not, with what Spark does differently and the portable form to write
instead. Constructs checked and allowed are listed in ``ALLOWED`` with the Spark function they
become. docs/scale.md, "The portable SQL subset", is the reader's version of both lists.

``make lint`` runs ``python -m pipeline.sql_lint``: it fails on a violation the baseline
(``sql_lint_baseline.txt`` beside this module: today's known counts per file and rule) does not
list, and on a baseline that lists more than the files contain, so the baseline only shrinks.
``--update-baseline`` lowers its counts to the files' (it writes today's counts when there is
no baseline yet); it never raises one.

sqlglot is a dev dependency: nothing in the nightly run imports this module.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlglot
from sqlglot import exp

REPO = Path(__file__).resolve().parent.parent
SQL_DIR = REPO / "sql"
BASELINE = Path(__file__).with_name("sql_lint_baseline.txt")

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
# a column or $param named like a date (the lint sees no types): *_date, *_start, *_from, ...
_DATE_NAME = re.compile(r"(^|_)(date|start|end|from|to)$")
# strftime specifiers that sqlglot maps to the same Spark date_format pattern letters
_STRFTIME_OK = {"%Y": "yyyy", "%m": "MM", "%d": "dd", "%H": "HH", "%M": "mm", "%S": "ss"}
_BOUNDARY_UNITS = {"MONTH", "QUARTER", "YEAR", "DECADE", "CENTURY", "MILLENNIUM"}
_WEEKDAY_PARTS = {"DOW", "ISODOW", "DAYOFWEEK", "WEEKDAY"}


@dataclass(frozen=True)
class Rule:
    name: str
    spark: str  # what Spark (through sqlglot) does differently
    portable: str  # what to write instead, valid DuckDB and the same on Spark
    matches: Callable[[exp.Expr], bool]


@dataclass(frozen=True)
class Finding:
    file: str  # relative to the repository, e.g. sql/features/int_customer_features.sql
    line: int
    rule: Rule
    snippet: str

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}: {self.rule.name}: {self.snippet}\n"
            f"    on Spark: {self.rule.spark}\n    portable: {self.rule.portable}"
        )


def _unit(node: exp.Expr) -> str:
    unit = node.args.get("unit")
    return unit.name.upper() if isinstance(unit, exp.Expr) else ""


def _is_weekday(node: exp.Expr) -> bool:
    if isinstance(node, exp.DayOfWeek | exp.DayOfWeekIso):
        return True
    if isinstance(node, exp.Extract):
        return node.this.name.upper() in _WEEKDAY_PARTS
    if isinstance(node, exp.Anonymous) and node.name.lower() in {"date_part", "datepart"}:
        part = node.expressions[0] if node.expressions else None
        return isinstance(part, exp.Literal) and part.name.upper() in _WEEKDAY_PARTS
    return isinstance(node, exp.Anonymous) and node.name.lower() in {"isodow", "weekday", "dow"}


def _is_boundary_diff(node: exp.Expr) -> bool:
    if isinstance(node, exp.DateDiff | exp.TimestampDiff):
        return _unit(node) in _BOUNDARY_UNITS
    # DuckDB's date_sub(part, a, b) counts whole parts; sqlglot passes it through unchanged
    return isinstance(node, exp.Anonymous) and node.name.lower() == "date_sub"


def _is_variable_index(node: exp.Expr) -> bool:
    if not isinstance(node, exp.Bracket) or len(node.expressions) != 1:
        return False
    index = node.expressions[0]
    # sqlglot stores DuckDB's 1-based literal index 0-based and writes Spark's l[0]: exact
    return not (isinstance(index, exp.Literal) and (index.is_string or int(index.name) >= 0))


def _sorted_directly(node: exp.Expr) -> bool:
    return isinstance(node.parent, exp.ArraySort)


def _is_ordered_list(node: exp.Expr) -> bool:
    if isinstance(node, exp.ArrayAgg):
        return isinstance(node.this, exp.Distinct | exp.Order) and not _sorted_directly(node)
    if isinstance(node, exp.ArrayDistinct):
        return not _sorted_directly(node)
    return isinstance(node, exp.GroupConcat) and isinstance(node.this, exp.Order)


def _is_percentile(node: exp.Expr) -> bool:
    return isinstance(
        node, exp.PercentileCont | exp.PercentileDisc | exp.Quantile | exp.Median
    ) or (isinstance(node, exp.Anonymous) and node.name.lower() == "quantile_disc")


def _is_float_cast(node: exp.Expr) -> bool:
    return isinstance(node, exp.Cast) and node.to.this in {
        exp.DataType.Type.DOUBLE,
        exp.DataType.Type.FLOAT,
    }


def _is_unstated_division(node: exp.Expr) -> bool:
    if not isinstance(node, exp.Div):
        return False
    if _is_float_cast(node.this) or _is_float_cast(node.expression):
        return False  # float division, stated: IEEE on both engines
    parent = node.parent
    while isinstance(parent, exp.Paren):
        parent = parent.parent
    return not (
        isinstance(parent, exp.Cast)
        and (parent.to.this == exp.DataType.Type.DECIMAL or _is_float_cast(parent))
    )


def _is_lambda_outside_map_filter(node: exp.Expr) -> bool:
    return isinstance(node, exp.Lambda) and not isinstance(
        node.parent, exp.Transform | exp.ArrayFilter
    )


def _is_range_table(node: exp.Expr) -> bool:
    return isinstance(node, exp.GenerateSeries) and isinstance(node.parent, exp.Table)


def _is_hugeint(node: exp.Expr) -> bool:
    return isinstance(node, exp.DataType) and node.this in {
        exp.DataType.Type.INT128,
        exp.DataType.Type.UINT128,
    }


def _is_date(node: exp.Expr) -> bool:
    if isinstance(node, exp.Paren):
        return _is_date(node.this)
    if isinstance(node, exp.Cast):
        return node.to.this in {exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMP}
    if isinstance(node, exp.Column):
        return bool(_DATE_NAME.search(node.name))
    return isinstance(node, exp.CurrentDate | exp.LastDay | exp.DateTrunc)


def _is_date_minus_date(node: exp.Expr) -> bool:
    return isinstance(node, exp.Sub) and _is_date(node.this) and _is_date(node.expression)


def _is_top_n(node: exp.Expr) -> bool:
    return isinstance(node, exp.Max | exp.Min | exp.ArgMax | exp.ArgMin) and bool(
        node.args.get("count")
    )


def _non_null(value: exp.Expr, node: exp.Expr) -> bool:
    if isinstance(value, exp.Literal) or (
        isinstance(value, exp.Coalesce)
        and any(isinstance(e, exp.Literal) for e in value.expressions)
    ):
        return True
    wrapper = node.parent
    if not isinstance(wrapper, exp.Filter):
        return False
    return any(
        isinstance(n.this, exp.Is)
        and n.this.this == value
        and isinstance(n.this.expression, exp.Null)
        for n in wrapper.expression.find_all(exp.Not)
    )


def _is_arg_max_of_nullable(node: exp.Expr) -> bool:
    return isinstance(node, exp.ArgMax | exp.ArgMin) and not _non_null(node.this, node)


def _is_star_modifier(node: exp.Expr) -> bool:
    return isinstance(node, exp.Star) and any(
        node.args.get(key) for key in ("except", "replace", "rename")
    )


def _is_unmapped_strftime(node: exp.Expr) -> bool:
    if not isinstance(node, exp.TimeToStr):
        return False
    fmt = node.args.get("format")
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        return True
    return any(spec not in _STRFTIME_OK for spec in re.findall(r"%.", fmt.name))


def _is_engine_hash(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and node.name.lower() in {"hash", "murmurhash3_32"}


def _is_unpivot(node: exp.Expr) -> bool:
    return isinstance(node, exp.Pivot) and bool(node.args.get("unpivot"))


RULES: tuple[Rule, ...] = (
    Rule(
        "iso_weekday",
        "sqlglot writes isodow(d) as (dayofweek(d) % 7) + 1: Sunday is 2, not 7; DuckDB's "
        "dayofweek counts Sunday 0, Spark's 1",
        "(date_diff('day', date '1970-01-05', d) % 7 + 7) % 7 + 1  -- d a DATE; 1 = Monday",
        _is_weekday,
    ),
    Rule(
        "month_year_diff",
        "DuckDB's date_diff('month'|'year', a, b) counts boundaries crossed, Spark's datediff/"
        "timestampdiff whole units: an age or a tenure off by one",
        "boundaries: (year(b) - year(a)) * 12 + month(b) - month(a); whole years: year(b) - "
        "year(a) - case when month(b) * 100 + day(b) < month(a) * 100 + day(a) then 1 else 0 end",
        _is_boundary_diff,
    ),
    Rule(
        "variable_list_index",
        "l[i] keeps i as written: DuckDB counts from 1, Spark's l[i] from 0 (a literal index is "
        "shifted by sqlglot, a computed one is not)",
        "list_extract(l, i)  -- 1-based; the translation layer writes Spark's element_at(l, i)",
        _is_variable_index,
    ),
    Rule(
        "ordered_list",
        "list(distinct x) and list(x order by y) become collect_list: the order is lost; "
        "list_distinct keeps no defined order in DuckDB; string_agg(x, s order by y) becomes "
        "listagg ... within group, Spark 4 only",
        "list_sort(list(distinct x)) or list_sort(list_distinct(l)): sorted on both engines; "
        "array_to_string(list_sort(...), s) for a string",
        _is_ordered_list,
    ),
    Rule(
        "percentile",
        "percentile_cont/percentile_disc ... within group become percentile_approx (approximate); "
        "quantile_cont/median return DECIMAL in DuckDB and DOUBLE in Spark",
        "window functions: row_number() over (partition by g order by x) and count(x) over "
        "(partition by g), then the interpolation written out",
        _is_percentile,
    ),
    Rule(
        "decimal_division",
        "a / b of a DECIMAL is DOUBLE in DuckDB and DECIMAL(p, max(6, s)) in Spark: the result "
        "type differs and money rounds a cent apart (the lint sees no types: every division)",
        "cast(a / b as decimal(p, s)), the cast directly around the division (money), or "
        "cast(a as double) / b (a ratio, not money)",
        _is_unstated_division,
    ),
    Rule(
        "list_lambda",
        "only list_transform and list_filter have a Spark twin (transform, filter); other "
        "lambdas (list_reduce, ...) are passed through and fail",
        "list_transform(l, x -> ...) / list_filter(l, x -> ...), or unnest + group by",
        _is_lambda_outside_map_filter,
    ),
    Rule(
        "map_literal",
        "map {k: v} becomes MAP STRUCT(...), which Spark cannot parse",
        "map([k, ...], [v, ...])  -- Spark map_from_arrays",
        lambda n: isinstance(n, exp.ToMap),
    ),
    Rule(
        "range_table",
        "range()/generate_series() in FROM becomes explode(sequence(...)): the column is col, "
        "not range, and range's end is exclusive",
        "a CTE: select unnest(generate_series(a, b)) as n  -- Spark explode(sequence(a, b)); "
        "for dates cast(... as date)",
        _is_range_table,
    ),
    Rule(
        "columns_expression",
        "COLUMNS(...) is DuckDB only: passed through, Spark fails",
        "name the columns",
        lambda n: isinstance(n, exp.Columns),
    ),
    Rule(
        "union_by_name",
        "UNION [ALL] BY NAME is DuckDB only: passed through, Spark fails",
        "union all with the same columns in the same order in every branch",
        lambda n: isinstance(n, exp.Union) and bool(n.args.get("by_name")),
    ),
    Rule(
        "unpivot",
        "DuckDB's UNPIVOT t ON ... is passed through and Spark fails; the standard form needs "
        "Spark 3.4+",
        "union all of one select per column, where value is not null",
        _is_unpivot,
    ),
    Rule(
        "hugeint",
        "HUGEINT becomes INT128, which Spark has not",
        "bigint for counts, decimal(38, 0) for larger integers",
        _is_hugeint,
    ),
    Rule(
        "date_minus_date",
        "date - date is a BIGINT of days in DuckDB, an interval in Spark 3+",
        "date_diff('day', a, b)  -- Spark datediff",
        _is_date_minus_date,
    ),
    Rule(
        "top_n_aggregate",
        "max(x, n), min(x, n), arg_max(a, b, n) return a list in DuckDB; sqlglot drops n",
        "row_number() over (partition by ... order by x desc) <= n",
        _is_top_n,
    ),
    Rule(
        "arg_max_nullable",
        "DuckDB's arg_max/arg_min skip rows whose value a is NULL; Spark's max_by/min_by return "
        "the NULL of the row with the largest b",
        "arg_max(a, b) filter (where a is not null), or a non-null a such as coalesce(a, 0)",
        _is_arg_max_of_nullable,
    ),
    Rule(
        "strftime_format",
        "sqlglot maps only %Y %m %d %H %M %S to Spark's date_format letters; others (%u, %w, "
        "%j, %b, ...) are passed through or change meaning",
        "strftime(d, '%Y-%m') etc. with those specifiers only, or year()/month()/day()",
        _is_unmapped_strftime,
    ),
    Rule(
        "star_modifier",
        "* replace (...), * exclude (...), * rename (...) are DuckDB only: passed through, "
        "Spark fails",
        "name the columns",
        _is_star_modifier,
    ),
    Rule(
        "engine_hash",
        "hash(x) is each engine's own function: DuckDB's and Spark's (Murmur3) give other "
        "numbers, so a sample or a fold taken by hash(x) % n picks other rows on Spark",
        "md5(x), lowercase hex on both: a sample as md5(x) < $bound (a hex string, e.g. "
        "'80000000' for half)",
        _is_engine_hash,
    ),
)

# Checked and allowed: sqlglot (duckdb -> spark) writes an exact Spark equivalent.
ALLOWED: dict[str, str] = {
    "aggregate FILTER (WHERE ...)": "kept as is: Spark 3.0+ supports FILTER on aggregates",
    "least/greatest": "Spark least/greatest: both skip NULLs (NULL only when all are)",
    "arg_max/arg_min of a non-null value": "Spark max_by/min_by",
    "strftime with %Y %m %d %H %M %S": "Spark date_format with yyyy MM dd HH mm ss",
    "list_transform/list_filter lambdas": "Spark transform/filter",
    "map(keys, values)": "Spark map_from_arrays",
    "l[1] (a literal index)": "Spark l[0]: sqlglot shifts the literal",
    "list_sort": "Spark array_sort (ascending, NULLs last on both)",
}


def _line(node: exp.Expr | None) -> int:
    """The first line sqlglot knows of the node, else of its nearest ancestor (a type name
    carries no position)."""
    while node is not None:
        lines = [n.meta["line"] for n in node.walk() if "line" in n.meta]
        if lines:
            return min(lines)
        node = node.parent
    return 1


def lint_sql(text: str, file: str = "<sql>") -> list[Finding]:
    """Every non-portable construct in one SQL text, in file order.

    ``$name`` parameters become identifiers first (sqlglot's DuckDB tokenizer takes ``$`` for a
    dollar-quoted string); comment lines are kept so that line numbers are the file's.
    """
    tree = sqlglot.parse_one(_PARAM.sub(r"__param_\1", text), read="duckdb")
    findings = [
        Finding(file, _line(node), rule, node.sql(dialect="duckdb").replace("__param_", "$")[:80])
        for node in tree.walk()
        for rule in RULES
        if rule.matches(node)
    ]
    return sorted(findings, key=lambda f: (f.line, f.rule.name))


def lint_tree(sql_dir: Path | None = None) -> list[Finding]:
    """Findings of every stage file under ``sql_dir`` (not sql/warehouse: DDL of the embedded
    warehouse, which stays on DuckDB)."""
    sql_dir = sql_dir or SQL_DIR
    findings = []
    for path in sorted(sql_dir.rglob("*.sql")):
        if path.parent.name != "warehouse":
            name = path.relative_to(sql_dir.parent).as_posix()
            findings += lint_sql(path.read_text(encoding="utf-8"), name)
    return findings


def count(findings: list[Finding]) -> Counter[tuple[str, str]]:
    return Counter((f.file, f.rule.name) for f in findings)


def read_baseline(path: Path | None = None) -> Counter[tuple[str, str]]:
    """``file rule count`` lines; ``#`` starts a comment."""
    path = path or BASELINE
    counts: Counter[tuple[str, str]] = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            file, rule, n = line.split()
            counts[(file, rule)] = int(n)
    return +counts  # without zero counts


def format_baseline(counts: Counter[tuple[str, str]]) -> str:
    head = (
        "# Known non-portable SQL (pipeline/sql_lint.py): file, rule, count. It may only shrink:\n"
        "# fix a construct, then python -m pipeline.sql_lint --update-baseline.\n"
    )
    return head + "".join(f"{f} {r} {n}\n" for (f, r), n in sorted(counts.items()) if n)


def compare(findings: list[Finding], baseline: Counter[tuple[str, str]]) -> list[str]:
    """What ``make lint`` reports: each (file, rule) with more findings than the baseline
    allows (all its findings, as the lint cannot tell old from new), and each with fewer."""
    found = count(findings)
    problems = []
    for key in sorted(set(found) | set(baseline)):
        file, rule = key
        if found[key] > baseline[key]:
            problems.append(f"{file}: {found[key]} {rule}, the baseline allows {baseline[key]}:")
            problems += [f"  {f}" for f in findings if (f.file, f.rule.name) == key]
        elif found[key] < baseline[key]:
            problems.append(
                f"{file}: {found[key]} {rule}, the baseline lists {baseline[key]}: shrink it "
                "with python -m pipeline.sql_lint --update-baseline"
            )
    return problems


def main(argv: list[str]) -> int:
    findings = lint_tree()
    if "--update-baseline" in argv:
        # only shrinks: a count above the baseline's stays at the baseline's and still fails
        found = count(findings)
        if BASELINE.exists():
            found = found & read_baseline()
        BASELINE.write_text(format_baseline(found), encoding="utf-8")
        print(f"{BASELINE.relative_to(REPO)}: {found.total()} known non-portable constructs")
        return 0
    problems = compare(findings, read_baseline())
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
