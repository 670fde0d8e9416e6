"""Ingest as cron runs it: a real `cvp` process, killed part-way, and two at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.conftest import REPO, deliver_day
from tests.landing import txn_line

CVP = [sys.executable, "-m", "pipeline"]


def run_cvp(args: list[str], env: dict[str, str], **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CVP, *args], env=env, capture_output=True, text=True, cwd=REPO, timeout=120, **kw
    )  # type: ignore[call-overload]


def cvp_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(tmp_path / "landing"),
        CVP_WAREHOUSE=str(tmp_path / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(tmp_path / "exports"),
    )
    return env


def big_delivery(tmp_path: Path, rows_per_channel: int) -> dict[str, tuple[int, Decimal]]:
    """A full day with sizeable TXN files; returns each channel's control count and total."""
    txn = {}
    for ch in ("CTR", "ATM", "TEL", "NET", "POS"):
        code, direction, mcc = {
            "CTR": ("DEP", "C", ""),
            "ATM": ("WDL", "D", ""),
            "TEL": ("TRO", "D", ""),
            "NET": ("TRI", "C", ""),
            "POS": ("POS", "D", "5411"),
        }[ch]
        txn[ch] = [
            txn_line(
                f"{ch}{i:07d}",
                channel=ch,
                code=code,
                direction=direction,
                amount=f"{(i % 5000) + 1}.{i % 100:02d}",
                mcc=mcc,
            )
            for i in range(rows_per_channel)
        ]
    deliver_day(tmp_path / "landing", txn=txn)
    out = {}
    for ch, lines in txn.items():
        out[ch] = (len(lines), sum((Decimal(line.split("|")[8]) for line in lines), Decimal(0)))
    return out


def killed_after(args: list[str], env: dict[str, str], seconds: float) -> bool:
    """Start `cvp *args`, SIGKILL it after ``seconds``; whether it was still running then."""
    proc = subprocess.Popen(
        [*CVP, *args], env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    time.sleep(seconds)
    running = proc.poll() is None
    if running:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    return running


def warehouse_is_consistent(db: Path) -> list[str]:
    """Every loaded file's rows are there in full; nothing is there without a ledger row."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        problems = []
        ledger = dict(
            (
                (ch, n)
                for ch, n in con.execute(
                    "select channel, rows_loaded from file_ledger where feed = 'TXN' "
                    "and outcome in ('loaded', 'replaced')"
                ).fetchall()
            )
        )
        staged = dict(
            con.execute(
                "select channel, count(*) from stg_transactions group by channel"
            ).fetchall()
        )
        for ch in set(ledger) | set(staged):
            if ledger.get(ch, 0) != staged.get(ch, 0):
                problems.append(f"{ch}: ledger {ledger.get(ch)} vs staged {staged.get(ch)}")
        return problems
    finally:
        con.close()


def test_a_load_killed_part_way_then_rerun_gives_exactly_the_control_totals(
    tmp_path: Path,
) -> None:
    controls = big_delivery(tmp_path, rows_per_channel=40_000)
    env = cvp_env(tmp_path)
    # time a whole load into a scratch warehouse, then kill loads at points spread over it
    scratch = dict(env, CVP_WAREHOUSE=str(tmp_path / "scratch.duckdb"))
    for where in (scratch, env):
        assert run_cvp(["init"], where).returncode == 0
    started = time.monotonic()
    assert run_cvp(["ingest", "--date", "2026-11-27"], scratch).returncode == 0
    whole = time.monotonic() - started
    db = tmp_path / "cvp.duckdb"
    kills = 0
    # the late kills land in the commit; earlier ones only if the scratch load was slow (a
    # busy machine), so that at least one load is killed
    for fraction in (0.5, 0.7, 0.85, 0.95, 0.3, 0.15):
        if kills and fraction < 0.5:
            break
        args = ["ingest", "--date", "2026-11-27", "--log-format", "json"]
        kills += killed_after(args, env, whole * fraction)
        if db.exists():
            assert warehouse_is_consistent(db) == [], f"killed after {fraction:.0%} of a load"
    assert kills > 0, "every load finished before its kill"
    done = run_cvp(["ingest", "--date", "2026-11-27"], env)
    assert done.returncode == 0, done.stderr
    con = duckdb.connect(str(db), read_only=True)
    totals = {
        ch: (n, s)
        for ch, n, s in con.execute(
            "select channel, count(*), sum(amount) from stg_transactions group by channel"
        ).fetchall()
    }
    con.close()
    assert totals == controls


def test_a_second_process_waits_then_exits_with_code_4(tmp_path: Path) -> None:
    deliver_day(tmp_path / "landing")
    env = cvp_env(tmp_path)
    config = tmp_path / "quick.yaml"
    config.write_text(
        (REPO / "configs" / "default.yaml")
        .read_text()
        .replace("lock_wait_seconds: 10", "lock_wait_seconds: 1")
    )
    holder = duckdb.connect(str(tmp_path / "cvp.duckdb"))  # another writer holds the file
    try:
        started = time.monotonic()
        second = run_cvp(["ingest", "--date", "2026-11-27", "--config", str(config)], env)
        waited = time.monotonic() - started
    finally:
        holder.close()
    assert second.returncode == 4
    assert "another cvp process is using the warehouse" in second.stderr
    assert "Traceback" not in second.stderr
    assert waited >= 1.0
    after = run_cvp(["ingest", "--date", "2026-11-27", "--config", str(config)], env)
    assert after.returncode == 0, after.stderr


def test_exit_code_3_names_the_missing_feed_and_0_once_delivered(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    deliver_day(landing)
    ok_file = landing / "20261127" / "TXN_ATM_20261127.dat.ok"
    ok_file.rename(ok_file.with_suffix(".later"))
    env = cvp_env(tmp_path)
    first = run_cvp(["ingest", "--new", "--date", "2026-11-27"], env)
    assert first.returncode == 3
    assert "TXN_ATM_20261127.dat: no control file (.ok) yet" in first.stderr
    ok_file.with_suffix(".later").rename(ok_file)
    second = run_cvp(["ingest", "--date", "2026-11-27"], env)
    assert second.returncode == 0, second.stderr
    con = duckdb.connect(str(tmp_path / "cvp.duckdb"), read_only=True)
    runs = con.execute(
        "select status from run_ledger where stage = 'ingest' order by started_at"
    ).fetchall()
    con.close()
    assert runs == [("failed",), ("succeeded",)]  # so `cvp features` may follow `cvp ingest`
    status = run_cvp(["status", "--json"], env)
    assert status.returncode == 0
    assert '"needs_attention": []' in status.stdout
