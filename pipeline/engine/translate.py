"""DuckDB SQL of the portable subset -> Spark SQL: sqlglot plus cvp's fix-ups.

:func:`spark_sql` turns one SQL file's body and its params into a statement Spark runs with
DuckDB's results (docs/scale.md, "The translation layer"). The ``$params`` become typed
literals, sqlglot reads the body as DuckDB and writes it as Spark, and in between each fix-up
below rewrites a construct the lint (:mod:`pipeline.sql_lint`) allows but plain sqlglot would
give another value on Spark. Each fix-up is one small AST transform, named for what it keeps
equal, and tested on both engines in tests/test_spark_translate.py. Spark runs the result
with the session settings of :mod:`pipeline.engine.spark` (ANSI mode, UTC).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlglot
from sqlglot import exp

_PARAM = re.compile(r"\$([a-z_][a-z0-9_]*)")
_MARK = "__param_"
_INTEGERS = {
    exp.DataType.Type.TINYINT,
    exp.DataType.Type.SMALLINT,
    exp.DataType.Type.INT,
    exp.DataType.Type.BIGINT,
}
_FLOATS = {exp.DataType.Type.DOUBLE, exp.DataType.Type.FLOAT}


def parse_body(body: str) -> exp.Expr:
    """``body`` parsed as DuckDB, each ``$name`` an identifier ``__param_name`` first (sqlglot's
    DuckDB tokenizer takes ``$`` for a dollar-quoted string), as pipeline/sql_lint.py does."""
    return sqlglot.parse_one(_PARAM.sub(rf"{_MARK}\1", body), read="duckdb")


def literal(value: Any) -> exp.Expr:
    """A Python param as a Spark literal of the type DuckDB binds it to."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int):
        return exp.Literal.number(value)
    if isinstance(value, float):
        return exp.cast(exp.Literal.string(repr(value)), exp.DataType.Type.DOUBLE)
    if isinstance(value, Decimal):
        _sign, digits, exponent = value.as_tuple()
        scale = -int(exponent) if int(exponent) < 0 else 0
        precision = max(len(digits) + max(int(exponent), 0), scale, 1)
        return exp.cast(exp.Literal.string(str(value)), f"decimal({precision}, {scale})")
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, list | tuple):
        return exp.Array(expressions=[literal(v) for v in value])
    raise TypeError(f"no Spark literal for a param of type {type(value).__name__}")


def bind_params(tree: exp.Expr, params: Mapping[str, Any]) -> exp.Expr:
    """Each ``$name`` (an identifier ``__param_name`` after :func:`parse_body`) becomes the
    literal of ``params[name]``; a name without a value is an error."""

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.startswith(_MARK):
            name = node.name[len(_MARK) :]
            if name not in params:
                raise KeyError(f"param ${name} has no value")
            return literal(params[name])
        return node

    return _rewrite(tree, bind)


def _rewrite(tree: exp.Expr, fix: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """``fix`` applied to every node, children before their parent, so that a rewritten node
    holds rewritten children (sqlglot's ``transform`` does not descend into a replacement:
    ``(a / b) / c`` would keep its inner division)."""
    for node in reversed(list(tree.walk())):
        new = fix(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _unparen(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def list_extract_one_based(tree: exp.Expr) -> exp.Expr:
    """``list_extract(l, i)`` (1-based, NULL out of range) -> ``try_element_at(l, i)``: Spark's
    ``l[i]`` counts from 0 and its ``element_at`` fails out of range in ANSI mode."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "list_extract":
            return exp.Anonymous(this="try_element_at", expressions=node.expressions)
        return node

    return _rewrite(tree, fix)


def quotient_in_double(tree: exp.Expr) -> exp.Expr:
    """``a / b`` -> ``cast(a as double) / cast(b as double)``: DuckDB's ``/`` divides in
    DOUBLE whatever its operands (DECIMAL and integers too), Spark divides DECIMALs in
    DECIMAL(p, max(6, s)), so a quotient and everything computed from it rounds elsewhere."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Div):
            return exp.Div(
                this=exp.cast(node.this, exp.DataType.Type.DOUBLE),
                expression=exp.cast(node.expression, exp.DataType.Type.DOUBLE),
            )
        return node

    return _rewrite(tree, fix)


def _is_double(node: exp.Expr) -> bool:
    """Whether ``node`` is a DOUBLE on DuckDB by its shape: a quotient, a cast to DOUBLE, or
    arithmetic or ``round`` over one (the translation sees no column types)."""
    node = _unparen(node)
    if isinstance(node, exp.Div):
        return True
    if isinstance(node, exp.Cast):
        return node.to.this in _FLOATS
    if isinstance(node, exp.Round):
        return _is_double(node.this)
    if isinstance(node, exp.Add | exp.Sub | exp.Mul):
        return _is_double(node.this) or _is_double(node.expression)
    return False


def round_double(tree: exp.Expr) -> exp.Expr:
    """``round(q, n)`` of a DOUBLE -> ``round(q * 1e{n}) / 1e{n}``: DuckDB rounds q * 10^n (a
    DOUBLE) half away from zero and divides back; Spark's ``round(q, n)`` rounds the double's
    shortest text (round(1.005, 2): DuckDB 1.0, Spark 1.01). Spark's ``round(v)`` of the
    scaled double is DuckDB's: the text of a double that is not a tie is never a tie."""

    def fix(node: exp.Expr) -> exp.Expr:
        digits = node.args.get("decimals") if isinstance(node, exp.Round) else None
        if not (
            isinstance(node, exp.Round)
            and isinstance(digits, exp.Literal)
            and int(digits.name) > 0
            and _is_double(node.this)
        ):
            return node
        power = exp.cast(exp.Literal.string(f"1e{int(digits.name)}"), exp.DataType.Type.DOUBLE)
        scaled = exp.Round(this=exp.Mul(this=exp.Paren(this=node.this), expression=power))
        return exp.Paren(this=exp.Div(this=scaled, expression=power.copy()))

    return _rewrite(tree, fix)


def length_of_list(tree: exp.Expr) -> exp.Expr:
    """``len(l)`` of a list literal or a list param -> ``size(l)``: sqlglot writes DuckDB's
    ``len`` as Spark's ``length``, which takes strings only. A list column cannot be told from
    a string here: write ``array_length(l)`` for it (docs/scale.md)."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Length) and isinstance(_unparen(node.this), exp.Array):
            return exp.ArraySize(this=node.this)
        return node

    return _rewrite(tree, fix)


def decimal_from_double(tree: exp.Expr) -> exp.Expr:
    """``cast(q as decimal(p, s))`` of a quotient or a DOUBLE -> ``cast(cast(round(q * 10^s) as
    decimal(38, 0)) * 10^-s as decimal(p, s))``: DuckDB multiplies the double by 10^s in
    DOUBLE and rounds half away from zero; Spark rounds the double's shortest decimal text
    (1.005 -> 1.01, DuckDB 1.00: the double is 1.00499999...)."""

    def fix(node: exp.Expr) -> exp.Expr:
        if not (
            isinstance(node, exp.Cast)
            and node.to.this == exp.DataType.Type.DECIMAL
            and _is_double(node.this)
        ):
            return node
        params = node.to.expressions
        scale = int(params[1].name) if len(params) > 1 else 3  # DuckDB's default decimal(18, 3)
        scaled = exp.Mul(
            this=exp.Paren(this=node.this),
            expression=exp.cast(exp.Literal.string(f"1e{scale}"), exp.DataType.Type.DOUBLE),
        )
        whole = exp.cast(exp.Round(this=scaled), "decimal(38, 0)")
        unit = exp.cast(exp.Literal.string(f"1e-{scale}"), f"decimal({scale + 1}, {scale})")
        return exp.Cast(this=exp.Mul(this=whole, expression=unit), to=node.to)

    return _rewrite(tree, fix)


def integer_from_double(tree: exp.Expr) -> exp.Expr:
    """``cast(q as integer)`` of a quotient or a DOUBLE -> ``cast(bround(q) as integer)``:
    DuckDB rounds a double half to even (2.5 -> 2, 3.5 -> 4), Spark truncates (3.5 -> 3)."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Cast) and node.to.this in _INTEGERS and _is_double(node.this):
            return exp.Cast(this=exp.Anonymous(this="bround", expressions=[node.this]), to=node.to)
        return node

    return _rewrite(tree, fix)


def list_keeps_nulls(tree: exp.Expr) -> exp.Expr:
    """``list(x)`` -> ``transform(collect_list(named_struct('v', x)), e -> e.v)``: DuckDB's list
    keeps NULL elements, Spark's collect_list drops them (a struct holding NULL is not NULL).
    ``list(distinct x)`` is left alone (collect_set)."""

    def fix(node: exp.Expr) -> exp.Expr:
        agg = node.this if isinstance(node, exp.Filter) else node
        if not isinstance(agg, exp.ArrayAgg) or isinstance(agg.this, exp.Distinct | exp.Order):
            return node
        if isinstance(node, exp.ArrayAgg) and isinstance(node.parent, exp.Filter):
            return node  # rewritten with its FILTER, from the parent
        boxed = agg.copy()
        boxed.set(
            "this",
            exp.Anonymous(this="named_struct", expressions=[exp.Literal.string("v"), agg.this]),
        )
        inner = node.copy()
        if isinstance(inner, exp.Filter):
            inner.set("this", boxed)
        else:
            inner = boxed
        element = exp.to_identifier("e")
        return exp.Transform(
            this=inner,
            expression=exp.Lambda(
                this=exp.Dot(this=exp.column(element), expression=exp.to_identifier("v")),
                expressions=[element],
            ),
        )

    return _rewrite(tree, fix)


def cte_hint_dropped(tree: exp.Expr) -> exp.Expr:
    """``with x as [not] materialized (…)`` -> ``with x as (…)``: a DuckDB planner hint that
    changes no row; Spark has no such syntax and plans a CTE itself."""
    for cte in tree.find_all(exp.CTE):
        cte.set("materialized", None)
    return tree


def interval_of_a_param(tree: exp.Expr) -> exp.Expr:
    """``interval ($days) day`` -> ``interval '7' day``: the bound param is a parenthesised
    number, which Spark's interval syntax does not take (a window's ``range between``)."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Interval) and isinstance(node.this, exp.Paren):
            value = _unparen(node.this)
            if isinstance(value, exp.Literal) and not value.is_string:
                node.set("this", exp.Literal.string(value.name))
        return node

    return _rewrite(tree, fix)


def interval_months(tree: exp.Expr) -> exp.Expr:
    """``to_months(n)``, ``to_years(n)`` -> ``make_ym_interval(0, n)``, ``make_ym_interval(n,
    0)``: a year-month interval; a date plus one is a date on both engines, the day clamped to
    the month's last (Jan 31 + 1 month = Feb 28)."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() in {"to_months", "to_years"}:
            (count,) = node.expressions
            zero = exp.Literal.number(0)
            args = [zero, count] if node.name.lower() == "to_months" else [count, zero]
            return exp.Anonymous(this="make_ym_interval", expressions=args)
        return node

    return _rewrite(tree, fix)


def list_position_null_when_absent(tree: exp.Expr) -> exp.Expr:
    """``list_position(l, x)`` -> ``nullif(array_position(l, x), 0)``: both 1-based, but DuckDB
    gives NULL for an absent element and Spark 0."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Anonymous) and node.name.lower() == "list_position":
            position = exp.Anonymous(this="array_position", expressions=node.expressions)
            return exp.Nullif(this=position, expression=exp.Literal.number(0))
        return node

    return _rewrite(tree, fix)


FIXUPS: tuple[Callable[[exp.Expr], exp.Expr], ...] = (
    list_extract_one_based,
    length_of_list,
    integer_from_double,
    decimal_from_double,
    round_double,
    quotient_in_double,
    list_keeps_nulls,
    cte_hint_dropped,
    interval_of_a_param,
    interval_months,
    list_position_null_when_absent,
)
"""cvp's fix-ups, in the order they run: the casts and ``round`` look at a division before it is
rewritten; ``length_of_list`` after the params are bound."""


def spark_sql(body: str, params: Mapping[str, Any]) -> str:
    """One SQL file's ``body`` (DuckDB, portable subset) with its ``params`` as Spark SQL.

    Examples
    --------
    >>> spark_sql("select list_extract(l, $i) as x from t", {"i": 2})
    'SELECT TRY_ELEMENT_AT(l, 2) AS x FROM t'
    """
    tree = bind_params(parse_body(body), params)
    for fixup in FIXUPS:
        tree = fixup(tree)
    return tree.sql(dialect="spark")
