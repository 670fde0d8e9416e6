"""``make bench``: every benchmark in turn, each printing what it measured.

Benchmarks share ``var/bench/`` for generated data, built once and reused.
Run one alone with ``.venv/bin/python -m bench.bench_<name>``.
"""

from __future__ import annotations

import importlib
import sys
import time

BENCHES = ["bench_ingest", "bench_contribution", "bench_merchants", "bench_clv"]


def main() -> int:
    failed = []
    for name in BENCHES:
        print(f"\n=== {name} ===", flush=True)
        started = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception as exc:  # keep going: one broken bench must not hide the others
            failed.append(name)
            print(f"{name} failed: {exc!r}")
        print(f"({name}: {time.perf_counter() - started:.0f} s wall)", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
