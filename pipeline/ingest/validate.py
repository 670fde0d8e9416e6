"""Generate the SQL that splits, types and validates a feed's lines.

The input is a relation ``raw_lines(line_number, line)`` of decoded text, one row per line.
The output has the feed's typed columns, the raw value of the control-amount column
(``control_value``, for the control-total check) and ``reason``: empty for a good row,
otherwise every problem found, ``; ``-separated, each naming its field.
"""

from __future__ import annotations

from pipeline.ingest.contract import Column, Feed

_PATTERNS = {
    "date": r"[0-9]{8}",
    "time": r"[0-9]{6}",
    "amount": r"[0-9]{1,16}(\.[0-9]{1,2})?",
    "rate": r"-?[0-9]{1,4}(\.[0-9]{1,6})?",
    "integer": r"[0-9]{1,9}",
}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _typed(col: Column, raw: str) -> str:
    match col.kind:
        case "date":
            return f"try_strptime({raw}, '%Y%m%d')::date"
        case "time":
            return f"try_strptime({raw}, '%H%M%S')::time"
        case "amount":
            return f"try_cast({raw} as decimal(18,2))"
        case "rate":
            return f"try_cast({raw} as decimal(12,6))"
        case "integer":
            return f"try_cast({raw} as integer)"
        case _:
            return raw


def _checks(col: Column, raw: str, typed: str) -> list[str]:
    """SQL expressions that yield a reason string for a bad value, else NULL."""
    out = []
    if not col.nullable:
        out.append(f"case when {raw} is null then {_quote(col.name + ': missing')} end")
    if col.kind in _PATTERNS:
        what = {
            "date": "not a date (YYYYMMDD)",
            "time": "not a time (HHMMSS)",
            "amount": "not an amount (non-negative, at most 2 decimals)",
            "rate": "not a rate (decimal percent)",
            "integer": "not a non-negative integer",
        }[col.kind]
        out.append(
            f"case when {raw} is not null and (not regexp_full_match({raw}, "
            f"{_quote(_PATTERNS[col.kind])}) or {typed} is null) "
            f"then {_quote(col.name + ': ' + what)} end"
        )
    if col.codes:
        codes = ", ".join(_quote(c) for c in col.codes)
        out.append(
            f"case when {raw} is not null and {raw} not in ({codes}) "
            f"then {_quote(col.name + ': unknown code ')} || {raw} end"
        )
    if col.max_length:
        out.append(
            f"case when length({raw}) > {col.max_length} "
            f"then {_quote(f'{col.name}: longer than {col.max_length} characters')} end"
        )
    if col.pattern:
        out.append(
            f"case when {raw} is not null and not regexp_full_match({raw}, {_quote(col.pattern)}) "
            f"then {_quote(col.name + ': malformed')} end"
        )
    return out


def validation_sql(feed: Feed, file_columns: list[str], delimiter: str) -> str:
    """The SELECT that validates ``raw_lines`` for ``feed``.

    Parameters
    ----------
    feed
        The feed's contract.
    file_columns
        The column names in the file's order (the spec's order unless configured).
    delimiter
        The field separator.

    The statement uses the parameters ``$business_date`` and, for TXN, ``$channel``.
    """
    by_name = {c.name: c for c in feed.columns}
    n = len(file_columns)
    raw_cols = ",\n        ".join(
        f"nullif(f[{i + 1}], '') as r_{name}" for i, name in enumerate(file_columns)
    )
    typed_cols = ",\n        ".join(
        f"{_typed(by_name[name], f'r_{name}')} as {name}" for name in feed.column_names
    )
    checks: list[str] = []
    for name in feed.column_names:
        col = by_name[name]
        checks += _checks(col, f"r_{name}", name)
    checks += [f"case when {cond} then {_quote(why)} end" for cond, why in feed.extra_checks]
    key = ", ".join(feed.key)
    first_key = feed.key[0]
    checks.append(
        f"case when {first_key} is not null and row_number() over "
        f"(partition by {key} order by line_number) > 1 "
        f"then {_quote(first_key + ': duplicate within the file')} end"
    )
    control = (
        f"try_cast(r_{feed.amount_column} as decimal(38,6))"
        if feed.amount_column
        else "0::decimal(38,6)"
    )
    reasons = ",\n            ".join(checks)
    column_list = ", ".join(feed.column_names)
    return f"""
with split as (
    select line_number, line, string_split(line, {_quote(delimiter)}) as f
    from raw_lines
),
raw as (
    select line_number, line, len(f) as n_fields,
        {raw_cols}
    from split
),
typed as (
    select line_number, line, n_fields, {", ".join(f"r_{c}" for c in feed.column_names)},
        {typed_cols}
    from raw
),
final as (
    select line_number, line, {column_list},
        {control} as control_value,
        case when n_fields <> {n}
            then 'expected {n} fields, found ' || n_fields
            else concat_ws('; ',
            {reasons})
        end as reason
    from typed
)
select * from final
"""
