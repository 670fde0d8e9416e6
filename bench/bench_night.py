"""Benchmark: a whole night, as cron runs it, at 250k and 1M customers.

For each size: a bench warehouse with a year of history (:mod:`bench.warehouse_1m`, built once
under ``var/bench/night_<customers>.duckdb``) on which the nightly run of its last date has
already run, so the night measured is an ordinary one (the closed months, golden months and
tier history exist); and the next date's landing folder (:mod:`bench.night_extracts`). Each
repeat copies the warehouse and runs ``cvp run --date <next date>`` (ingest to export) as a
separate process under ``/usr/bin/time -v``. Per stage: wall and CPU seconds and the peak
resident memory of the process by the end of the stage, from the run's JSON log; for the night:
wall, CPU (user + system) and peak RSS from ``time``. Medians over the repeats.

Targets at 1M customers on the 2-core machine (issue #16): ≤ 90 s wall, ≤ 4 GB peak RSS.
The machine is shared: compare sizes within one run, and read CPU beside wall.

Disk: a size needs its warehouse (13 GB at 1M after its first night, 23 GB at 2M), the run's
copy, the night's spill and the analysts' snapshot the night publishes beside it: about 40 GB
at 1M, 50 GB at 2M without the snapshot (docs/warehouse.md, "2M, session 11"); ``--sizes``
takes any size where the disk holds it. ``--in-place`` runs one night on the warehouse itself,
no copy (the warehouse is then spent): how the 2M night fits beside its analysts' snapshot.

``--engine spark`` times the same nights on Spark (``local[2]``, the driver's memory
``--spark-memory``): each repeat's copy of the warehouse has its data tables moved into a
fresh lake (``cvp lake load --tables all``, timed apart as "lake load", not part of the
night), then the whole night runs on Spark; the control tables and the histories ingest
applies stay in the copy (docs/scale.md, "Ingest on Spark"). The night's CPU is the driver's
and the JVM's: ``time`` counts the driver's (Python) process, and the JVM's CPU is sampled
from ``/proc`` every half second and added; the peak RSS is the driver's, the JVM's printed
beside it. The per-stage CPU in the log is the driver's alone (on Spark the SQL's CPU is the
JVM's): compare stages on Spark by wall.

Usage::

    python -m bench.bench_night [--sizes 250000,1000000] [--repeats 3]
        [--memory-limit 2500MB] [--threads 2] [--engine spark] [--spark-memory 8g]
        [--in-place]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "var" / "bench"
END = date(2026, 11, 27)
FIRST_MONTH_ENDS = (date(2026, 2, 28), date(2026, 5, 31), date(2026, 8, 31))
"""Before the last date's night, a bench warehouse's monthly aggregates are built by the nights
of these month ends, a few months each: a stage's writes stay in its transaction until it
commits, and a year of 2M customers' months in one features stage spilled more than 38 GB of
DuckDB temp files (session 17)."""
STAGES = ("ingest", "features", "contribution", "merchants", "clv", "value", "tiers", "export")
AFTER = ("snapshot",)
LAKE = BENCH_DIR / "lake"
"""The Spark lake of the run being timed (``--engine spark``): emptied before each night."""
"""Logged after the stages by ``cvp run``: the analysts' copy of the warehouse
(pipeline/snapshot.py)."""
GOAL_SECONDS, GOAL_RSS_MB = 90.0, 4096.0


def _cvp(
    args: list[str], env: dict[str, str], timing: Path | None = None
) -> tuple[int, str, dict[str, float]]:
    """Run cvp; return its exit code, its log and what its JVM (Spark's, a process ``time``
    does not count: the driver never waits for it) used, sampled every half second: CPU
    seconds at the last sample and peak resident memory (zeros without a JVM)."""
    cmd = [str(ROOT / ".venv" / "bin" / "cvp"), *args, "--log-format", "json"]
    if timing:
        cmd = ["/usr/bin/time", "-v", "-o", str(timing), *cmd]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    jvm: dict[int, tuple[float, float]] = {}  # pid -> (CPU seconds, peak RSS MB)
    while True:
        try:
            _, err = proc.communicate(timeout=0.5)
            break
        except subprocess.TimeoutExpired:
            for pid, cpu, rss in _java_descendants(proc.pid):
                jvm[pid] = (cpu, max(rss, jvm.get(pid, (0.0, 0.0))[1]))
    used = {
        "cpu_seconds": sum(c for c, _ in jvm.values()),
        "peak_rss_mb": max((r for _, r in jvm.values()), default=0.0),
    }
    return proc.returncode, err, used


def _java_descendants(root: int) -> list[tuple[int, float, float]]:
    """The java processes below ``root``: pid, CPU seconds so far, resident MB now."""
    parents: dict[int, int] = {}
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()  # fields[0] is the state (field 3)
        parents[int(entry.name)] = int(fields[1])
        if name == "java":
            stats[int(entry.name)] = fields
    tick, page = os.sysconf("SC_CLK_TCK"), os.sysconf("SC_PAGE_SIZE")
    found = []
    for pid, fields in stats.items():
        up = pid
        while up in parents and up != root:
            up = parents[up]
        if up == root:  # utime, stime: fields 14, 15; rss (pages): field 24
            cpu = (int(fields[11]) + int(fields[12])) / tick
            found.append((pid, cpu, int(fields[21]) * page / 2**20))
    return found


def night_env(warehouse: Path, landing: Path, exports: Path) -> dict[str, str]:
    return {
        **os.environ,
        "CVP_WAREHOUSE": str(warehouse),
        "CVP_LANDING_DIR": str(landing),
        "CVP_EXPORT_DIR": str(exports),
        # the counterparty HMAC key: the same in every repeat
        "CVP_REF_KEY": "bench-night-" + "0" * 32,
    }


def write_config(
    memory_limit: str | None,
    threads: int | None,
    name: str = "night",
    spark_memory: str | None = None,
    analyst_snapshot: bool = True,
) -> Path:
    """The default configuration with the DuckDB limits of the bench; with ``spark_memory``,
    the Spark engine (``local[2]``, the driver's memory, the lake :data:`LAKE`);
    ``analyst_snapshot``: whether a night publishes the analysts' copy of the warehouse."""
    cfg = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    cfg.setdefault("warehouse", {})
    cfg["warehouse"]["memory_limit"] = memory_limit
    cfg["warehouse"]["threads"] = threads
    cfg["warehouse"]["analyst_snapshot"] = analyst_snapshot
    if spark_memory:
        cfg["engine"] = {
            "name": "spark",
            "spark": {"lake": str(LAKE), "conf": {"spark.driver.memory": spark_memory}},
        }
    path = BENCH_DIR / f"{name}_config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def prepare(customers: int, config: Path) -> tuple[Path, Path]:
    """The size's warehouse, after its last date's night, and the next date's landing zone:
    built once (minutes, up to 75 at 2M), then reused."""
    from bench.night_extracts import write_next_day
    from bench.warehouse_1m import BUILD_MEMORY, build_bench_warehouse

    base = BENCH_DIR / f"night_{customers}.duckdb"
    landing = BENCH_DIR / f"night_{customers}_landing"
    if base.exists() and landing.exists():
        return base, landing
    work = base.with_suffix(".building.duckdb")
    written = work.with_suffix(".history-written")
    started = time.monotonic()
    if not written.exists():  # the history takes an hour at 1M: written once
        print(f"building {base.name}: {customers:,} customers, a year", flush=True)
        build_bench_warehouse(work, customers=customers, end=END)
        written.touch()
        print(f"  history written in {time.monotonic() - started:.0f} s", flush=True)
    # no analysts' snapshot of a warehouse being built: at 2M each copy takes 15 GB of disk
    first_config = write_config(BUILD_MEMORY, None, "first", analyst_snapshot=False)
    env = night_env(work, landing, BENCH_DIR / f"night_{customers}_exports")
    nights = [(day, "features,contribution") for day in FIRST_MONTH_ENDS]
    nights.append((END, "features,contribution,merchants,clv,value,tiers"))
    for day, stages in nights:
        print(f"  the night of {day} ({stages}; DuckDB memory {BUILD_MEMORY})...", flush=True)
        code, err, _ = _cvp(
            ["run", "--date", day.isoformat(), "--config", str(first_config), "--stages", stages],
            env,
        )
        if code != 0:
            raise RuntimeError(f"night {day} of {work} failed ({code}): {err[-2000:]}")
    shutil.rmtree(landing, ignore_errors=True)
    write_next_day(work, landing)
    work.rename(base)
    written.unlink()
    print(f"  ready in {time.monotonic() - started:.0f} s", flush=True)
    return base, landing


def _time_v(path: Path) -> dict[str, float]:
    text = path.read_text()

    def field(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: (.+)", text)
        return found.group(1).strip() if found else "0"

    wall = field("Elapsed (wall clock) time (h:mm:ss or m:ss)")
    parts = [float(x) for x in wall.split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return {
        "wall_seconds": seconds,
        "cpu_seconds": float(field("User time (seconds)")) + float(field("System time (seconds)")),
        "peak_rss_mb": float(field("Maximum resident set size (kbytes)")) / 1024,
    }


def one_night(
    customers: int,
    base: Path,
    landing: Path,
    config: Path,
    spark: bool = False,
    in_place: bool = False,
) -> dict[str, Any]:
    """Copy the warehouse and run the next date's night on the copy (``spark``: the copy's
    data tables moved into a fresh lake first, then the night on Spark). ``in_place``: on the
    warehouse itself, for a size whose copy the disk does not hold; the warehouse is then past
    its bench date and is renamed ``…spent.duckdb`` (the next bench of the size rebuilds it)."""
    run_path = BENCH_DIR / f"night_{customers}_run.duckdb"
    exports = BENCH_DIR / f"night_{customers}_exports"
    shutil.rmtree(exports, ignore_errors=True)
    if in_place:
        base.rename(run_path)
        (BENCH_DIR / f"night_{customers}.spent.duckdb").unlink(missing_ok=True)
    else:
        shutil.copyfile(base, run_path)
    day = sorted(p.name for p in landing.iterdir())[-1]
    day_iso = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    timing = BENCH_DIR / f"night_{customers}.time"
    env = night_env(run_path, landing, exports)
    run = ["run", "--date", day_iso, "--config", str(config)]
    runs = [run]
    if spark:  # the copy's data tables into a fresh lake first, then the night on Spark
        runs = [["lake", "load", "--tables", "all", "--config", str(config)], run]
        shutil.rmtree(LAKE, ignore_errors=True)
    logs = []
    stages: dict[str, dict[str, float]] = {}
    nights: list[dict[str, float]] = []  # the night's run (a lake load is timed apart)
    for words in runs:
        code, err, jvm = _cvp(words, env, timing)
        if code != 0:
            raise RuntimeError(f"cvp {words[0]} on {run_path} failed ({code}): {err[-2000:]}")
        used = _time_v(timing)
        if spark:  # the driver's figures and its JVM's: CPU added, the peaks side by side
            used["cpu_seconds"] += jvm["cpu_seconds"]
            used["jvm_peak_rss_mb"] = jvm["peak_rss_mb"]
        if words[0] == "lake":
            stages["lake load"] = used
            continue
        logs.append(err)
        stages.update(_stage_times(err))
        nights.append(used)
    (BENCH_DIR / f"night_{customers}.log.jsonl").write_text("".join(logs), encoding="utf-8")
    if in_place:
        run_path.rename(BENCH_DIR / f"night_{customers}.spent.duckdb")
    for leftover in run_path.parent.glob(f"{run_path.stem}*"):
        leftover.unlink()  # the copy, and the analysts' snapshot beside it
    return {"stages": stages, "night": nights[0]}


def _stage_times(err: str) -> dict[str, dict[str, float]]:
    """Wall, CPU and peak RSS by the end of each stage, from a run's JSON log."""
    stages: dict[str, dict[str, float]] = {}
    for line in err.splitlines():
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("stage") in AFTER or (
            rec.get("msg", "").endswith(" done") and rec.get("stage") in STAGES
        ):
            stages[rec["stage"]] = {
                "wall_seconds": rec["seconds"],
                "cpu_seconds": rec.get("cpu_seconds", float("nan")),
                "peak_rss_mb": rec.get("peak_rss_mb", float("nan")),
            }
    return stages


def _median(runs: list[dict[str, float]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def bench_night(
    sizes: list[int],
    repeats: int = 3,
    memory_limit: str | None = "3GB",
    threads: int | None = 2,
    spark_memory: str | None = None,
    in_place: bool = False,
) -> dict[int, dict[str, Any]]:
    """Time ``repeats`` nights at each size (on Spark with ``spark_memory``; ``in_place``: one
    night on the warehouse itself, no copy); print and return the medians."""
    if in_place and repeats != 1:
        raise ValueError("--in-place runs one night: the warehouse is then past its date")
    config = write_config(memory_limit, threads)
    night_config = (
        write_config(memory_limit, threads, "night_spark", spark_memory) if spark_memory else config
    )
    results: dict[int, dict[str, Any]] = {}
    for customers in sizes:
        base, landing = prepare(customers, config)
        nights = []
        for i in range(repeats):
            nights.append(
                one_night(
                    customers,
                    base,
                    landing,
                    night_config,
                    spark=spark_memory is not None,
                    in_place=in_place,
                )
            )
            n = nights[-1]["night"]
            jvm = f", JVM {n['jvm_peak_rss_mb']:,.0f} MB" if "jvm_peak_rss_mb" in n else ""
            print(
                f"{customers:>9,} customers, night {i + 1}/{repeats}: "
                f"{n['wall_seconds']:.1f} s wall, {n['cpu_seconds']:.1f} s CPU, "
                f"peak {n['peak_rss_mb']:,.0f} MB{jvm}",
                flush=True,
            )
        summary: dict[str, Any] = {"stages": {}, "night": {}}
        for stage in (*STAGES, *AFTER, "lake load"):
            runs = [n["stages"][stage] for n in nights if stage in n["stages"]]
            if runs:
                summary["stages"][stage] = {
                    k: _median(runs, k) for k in ("wall_seconds", "cpu_seconds", "peak_rss_mb")
                }
        summary["night"] = {
            k: _median([n["night"] for n in nights], k)
            for k in ("wall_seconds", "cpu_seconds", "peak_rss_mb", "jvm_peak_rss_mb")
            if k in nights[0]["night"]
        }
        results[customers] = summary
    engine = f"Spark local[2], driver {spark_memory}" if spark_memory else "DuckDB"
    print_table(results, repeats, f"{engine}, memory_limit {memory_limit}", threads)
    out = BENCH_DIR / ("night_spark_results.json" if spark_memory else "night_results.json")
    out.write_text(json.dumps({str(k): v for k, v in results.items()}, indent=1))
    return results


def print_table(
    results: dict[int, dict[str, Any]], repeats: int, settings: str, threads: int | None
) -> None:
    sizes = sorted(results)
    print(
        f"\nWhole night, median of {repeats} ({settings}, threads {threads}); "
        "wall s / CPU s / peak RSS MB by the end of the stage:\n"
    )
    print("| stage | " + " | ".join(f"{s:,} customers" for s in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for stage in (*STAGES, *AFTER, "lake load", "night"):
        if stage == "lake load" and not any(stage in results[s]["stages"] for s in sizes):
            continue
        cells = []
        for s in sizes:
            r = results[s]["night"] if stage == "night" else results[s]["stages"].get(stage)
            cells.append(
                f"{r['wall_seconds']:.1f} / {r['cpu_seconds']:.1f} / {r['peak_rss_mb']:,.0f}"
                if r
                else "—"
            )
        label = "**night**" if stage == "night" else stage
        print(f"| {label} | " + " | ".join(cells) + " |")
    if any("jvm_peak_rss_mb" in results[s]["night"] for s in sizes):
        peaks = " | ".join(f"{results[s]['night']['jvm_peak_rss_mb']:,.0f}" for s in sizes)
        print(f"| the JVM's peak RSS MB (the night) | {peaks} |")
    if len(sizes) > 1:
        first = results[sizes[0]]["night"]
        for s in sizes[1:]:
            r = results[s]["night"]
            scale = s / sizes[0]
            print(
                f"\n{s:,} vs {sizes[0]:,} customers (×{scale:g}): wall ×"
                f"{r['wall_seconds'] / first['wall_seconds']:.2f}, CPU ×"
                f"{r['cpu_seconds'] / first['cpu_seconds']:.2f}, peak RSS ×"
                f"{r['peak_rss_mb'] / first['peak_rss_mb']:.2f}"
            )
    if 1_000_000 in results:
        r = results[1_000_000]["night"]
        ok = r["wall_seconds"] <= GOAL_SECONDS and r["peak_rss_mb"] <= GOAL_RSS_MB
        print(
            f"\n1M night: {r['wall_seconds']:.0f} s, {r['peak_rss_mb']:,.0f} MB against the "
            f"targets {GOAL_SECONDS:.0f} s and {GOAL_RSS_MB:,.0f} MB: "
            + ("met" if ok else "not met")
        )


def main(sizes: str = "250000,1000000", repeats: int = 3) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=sizes)
    parser.add_argument("--repeats", type=int, default=repeats)
    parser.add_argument("--memory-limit", default="2500MB")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--engine", choices=("duckdb", "spark"), default="duckdb")
    parser.add_argument("--spark-memory", default="8g", help="the Spark driver's memory")
    parser.add_argument(
        "--in-place",
        action="store_true",
        help="one night on the warehouse itself, no copy (a size whose copy the disk lacks)",
    )
    args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
    bench_night(
        [int(x) for x in args.sizes.split(",")],
        args.repeats,
        args.memory_limit,
        args.threads,
        args.spark_memory if args.engine == "spark" else None,
        args.in_place,
    )


if __name__ == "__main__":
    main()
