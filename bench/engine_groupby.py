"""DuckDB's own cost of a wide group-by against the number of groups and the memory limit.

A reference apart from cvp for how the night grows with customers (docs/warehouse.md, "2M,
session 18"): a group-by of 5 rows per group with 30 filtered DECIMAL sums (the shape of the
window parts' per-customer sums) and a narrow one (one sum and a count), at 250k, 1M and 2M
groups, in an in-memory DuckDB. Prints the median CPU seconds of ``--repeats`` runs and that
per million input rows: linear growth keeps the latter flat.

Usage::

    python -m bench.engine_groupby --memory-limit 2500MB --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import duckdb

GROUPS = (250_000, 1_000_000, 2_000_000)
ROWS_PER_GROUP = 5
WIDE = ", ".join(f"sum(amount) filter (where code = {k}) as s{k}" for k in range(30))


def measure(memory_limit: str, threads: int, repeats: int) -> dict[tuple[str, int], float]:
    """Median CPU seconds of each (shape, groups)."""
    con = duckdb.connect()
    con.execute(f"set threads = {threads}")
    con.execute("set memory_limit = ?", [memory_limit])
    for n in GROUPS:
        con.execute(
            f"create table rows_{n} as select "
            f"'C' || lpad(cast((i * 7919) % {n} as varchar), 10, '0') as customer_id, "
            "cast(i % 997 as decimal(18, 2)) as amount, cast(i % 31 as integer) as code "
            f"from range({ROWS_PER_GROUP * n}) t(i)"
        )
    runs: dict[tuple[str, int], list[float]] = {}
    for _ in range(repeats):
        for n in GROUPS:
            for shape, aggregates in (("narrow", "sum(amount), count(*)"), ("wide", WIDE)):
                cpu = time.process_time()
                con.execute(
                    f"create or replace temp table result as "
                    f"select customer_id, {aggregates} from rows_{n} group by customer_id"
                )
                runs.setdefault((shape, n), []).append(time.process_time() - cpu)
    return {key: statistics.median(values) for key, values in runs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memory-limit", default="2500MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    medians = measure(args.memory_limit, args.threads, args.repeats)
    print(f"memory_limit {args.memory_limit}, {args.threads} threads, median of {args.repeats}")
    for (shape, n), cpu in sorted(medians.items()):
        per_million = cpu / (ROWS_PER_GROUP * n / 1e6)
        print(f"  {shape:6s} {n:>9,} groups: {cpu:6.2f} CPU s, {per_million:.3f} per 1M rows")


if __name__ == "__main__":
    main()
