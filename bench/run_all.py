"""``make bench``: every benchmark in turn, each printing what it measured.

Benchmarks share ``var/bench/`` for generated data, built once and reused.
Run one alone with ``.venv/bin/python -m bench.bench_<name>``.
"""

from __future__ import annotations

import importlib
import sys
import time

NIGHTLY_1M: dict[str, object] = {"customers": 1_000_000, "days": 22, "snapshot_days": 0}
"""Ingest at a million customers' daily volume (~490k transactions a date), beside the default
year of a 60,000-customer bank (~29k a date)."""
BENCHES: list[tuple[str, dict[str, object]]] = [
    ("bench_ingest", {}),
    ("bench_ingest", NIGHTLY_1M),
    ("bench_contribution", {}),
    ("bench_merchants", {}),
    ("bench_clv", {}),
    ("bench_night", {"sizes": "250000,1000000", "repeats": 3}),
]


def main() -> int:
    failed = []
    for name, kwargs in BENCHES:
        print(f"\n=== {name} {kwargs or ''} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main(**kwargs)
        except Exception as exc:  # keep going: one broken bench must not hide the others
            failed.append(name)
            print(f"{name} failed: {exc!r}")
        print(f"({name}: {time.perf_counter() - started:.0f} s wall)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
