"""The CLI on data_samples/, checked against figures computed here from the files themselves."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml

from tests.conftest import REPO, young_config

LANDING = REPO / "data_samples" / "landing"
FIRST, LAST = "2026-11-23", "2026-11-27"


def cvp(tmp: Path, *words: str, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        CVP_LANDING_DIR=str(LANDING),
        CVP_WAREHOUSE=str(tmp / "cvp.duckdb"),
        CVP_EXPORT_DIR=str(tmp / "exports"),
        **env_extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *words, "--log-format", "json",
         "--config", str(young_config(tmp))],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("clean")
    assert cvp(tmp, "ingest", "--new", "--date", FIRST).returncode == 0
    done = cvp(tmp, "run", "--from", FIRST, "--to", LAST)
    assert done.returncode == 0, done.stderr[-2000:]
    return tmp


def read_records(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("gb18030")  # decode first: a second byte can be '|'
    return [line.split("|") for line in text.splitlines()]


def controls() -> dict[str, tuple[int, Decimal]]:
    out = {}
    for ok in LANDING.glob("*/*.ok"):
        name, count, amount, _ = ok.read_text().strip().split("|")
        out[name] = (int(count), Decimal(amount))
    return out


def test_rows_per_feed_equal_the_control_files(clean_run: Path) -> None:
    con = duckdb.connect(str(clean_run / "cvp.duckdb"), read_only=True)
    ledger = {
        name: (loaded, quarantined)
        for name, loaded, quarantined in con.execute(
            "select file_name, rows_loaded, rows_quarantined from file_ledger "
            "where outcome in ('loaded', 'replaced')"
        ).fetchall()
    }
    staged = {
        f"TXN_{ch}_{d:%Y%m%d}.dat": (n, total)
        for ch, d, n, total in con.execute(
            "select channel, business_date, count(*), sum(amount) from stg_transactions "
            "group by all"
        ).fetchall()
    }
    quarantined = dict(
        con.execute("select file_name, count(*) from quarantine group by all").fetchall()
    )
    con.close()
    expected = controls()
    assert set(ledger) == set(expected)
    for name, (count, amount) in expected.items():
        assert sum(ledger[name]) == count, name
        if name.startswith("TXN_") and count:
            n, total = staged[name]
            assert n + quarantined.get(name, 0) == count
            if not quarantined.get(name):
                assert total == amount, name


def test_fee_income_and_cost_to_serve_of_a_few_customers_by_hand(clean_run: Path) -> None:
    cfg = yaml.safe_load((REPO / "configs" / "default.yaml").read_text())["economics"]
    unit, override = cfg["unit_cost_amount"], cfg["unit_cost_override_amount"]
    fees: dict[str, Decimal] = defaultdict(Decimal)
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for path in LANDING.glob("*/TXN_*.dat"):
        for f in read_records(path):
            customer, channel, code, direction = f[3], f[5], f[6], f[7]
            if code == "FEE":  # the charge's amount is the fee; the bank's own posting
                fees[customer] += Decimal(f[8]) * (-1 if direction == "C" else 1)
                continue
            fees[customer] += Decimal(f[10] or "0")
            cost = override.get(channel, {}).get(code, unit[channel])
            costs[customer] += Decimal(str(cost))
    # a yearly figure: the 5 days of data_samples (2026-11-23 .. 27) × 365 / 5
    year = Decimal(365) / 5
    # the busiest counter customer, the customer with the most fees, and an online-only one
    by_fee = max(fees, key=lambda c: fees[c])
    by_cost = max(costs, key=lambda c: costs[c])
    picked = {by_fee, by_cost, min(costs, key=lambda c: costs[c])}
    con = duckdb.connect(str(clean_run / "cvp.duckdb"), read_only=True)
    for customer in picked:
        fee, service = con.execute(
            "select fee_amount, service_cost_amount from int_customer_contribution "
            "where customer_id = ? and business_date = ?",
            [customer, LAST],
        ).fetchone()  # type: ignore[misc]
        assert Decimal(fee) == fees[customer] * year, customer
        assert Decimal(service) == costs[customer] * year, customer
    con.close()


def manifest_checksums(export: Path) -> dict[str, tuple[int, str]]:
    manifest = json.loads((export / "_manifest.json").read_text())
    return {f["name"]: (f["rows"], f["sha256"]) for f in manifest["files"]}


def test_the_exports_manifest_matches_its_files(clean_run: Path) -> None:
    export = clean_run / "exports" / "20261127"
    assert (export / "_SUCCESS").exists()
    listed = manifest_checksums(export)
    on_disk = {p.name for p in export.glob("*.parquet")}
    assert set(listed) == on_disk
    for name, (rows, sha) in listed.items():
        assert hashlib.sha256((export / name).read_bytes()).hexdigest() == sha
        assert pq.read_metadata(export / name).num_rows == rows


def test_a_failure_in_a_middle_stage_then_a_rerun_gives_the_clean_exports(
    clean_run: Path, tmp_path: Path
) -> None:
    assert cvp(tmp_path, "ingest", "--new", "--date", FIRST).returncode == 0
    failed = cvp(tmp_path, "run", "--from", FIRST, "--to", LAST, CVP_INJECT_FAILURE="clv")
    assert failed.returncode == 1
    assert "failure injected" in failed.stderr
    assert not (tmp_path / "exports" / "20261123").exists()
    resumed = cvp(tmp_path, "run", "--from", FIRST, "--to", LAST)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    skipped = [json.loads(line) for line in resumed.stderr.splitlines() if line.startswith("{")]
    ran = {
        r["stage"]
        for r in skipped
        if r.get("msg", "").endswith(" done") and r.get("business_date") == FIRST
    }
    assert "features" not in ran and "clv" in ran  # resumed at the failed stage
    for day in ("20261123", "20261127"):
        assert manifest_checksums(tmp_path / "exports" / day) == manifest_checksums(
            clean_run / "exports" / day
        )


def test_every_sql_table_is_unique_on_its_declared_grain(clean_run: Path) -> None:
    """The `grain` line of each SQL header holds on real data: no two rows share it (tables
    kept only for a run, and grains that are not column lists, are skipped)."""
    from pipeline.sqlfiles import load_sql

    con = duckdb.connect(str(clean_run / "cvp.duckdb"), read_only=True)
    present = {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall()}
    checked, duplicated = [], {}
    for path in sorted((REPO / "sql").rglob("*.sql")):
        if path.parent.name == "warehouse":
            continue
        model = load_sql(path)
        if model.table not in present:
            continue
        columns = {r[0] for r in con.execute(f"describe {model.table}").fetchall()}
        if not set(model.grain) <= columns:
            continue
        keys = ", ".join(model.grain)
        dupes = con.execute(
            f"select count(*) from (select {keys} from {model.table} "
            f"group by all having count(*) > 1)"
        ).fetchone()
        checked.append(model.table)
        if dupes and dupes[0]:
            duplicated[model.table] = dupes[0]
    con.close()
    assert not duplicated, f"rows sharing their declared grain: {duplicated}"
    assert len(checked) >= 25, checked  # the check ran on the warehouse's tables


def test_exports_and_warehouse_are_private(clean_run: Path) -> None:
    """The run's child process had the test's umask (usually 022): cvp made its files 0600
    and folders 0700 (docs/privacy.md) all the same."""
    import stat

    def mode(path: Path) -> int:
        return stat.S_IMODE(path.stat().st_mode)

    assert mode(clean_run / "cvp.duckdb") == 0o600
    assert mode(clean_run / "cvp.duckdb.refkey") == 0o600
    folder = clean_run / "exports" / LAST.replace("-", "")
    assert mode(clean_run / "exports") == 0o700
    assert mode(folder) == 0o700
    files = list(folder.iterdir())
    assert len(files) > 5
    assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}


def analyst_cvp(tmp: Path, *words: str) -> subprocess.CompletedProcess[str]:
    """``cvp sql`` / ``cvp show`` (no log lines to format) on ``tmp``'s warehouse."""
    env = dict(os.environ, CVP_WAREHOUSE=str(tmp / "cvp.duckdb"))
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *words],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_an_analyst_reading_the_snapshot_never_blocks_the_night(clean_run: Path) -> None:
    snapshot = clean_run / "cvp.analysts.duckdb"
    analyst = duckdb.connect(str(snapshot), read_only=True)  # a notebook left open
    before = analyst.execute("select count(*) from stg_transactions").fetchone()
    inode = snapshot.stat().st_ino
    done = cvp(clean_run, "run", "--date", LAST)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "analysts' snapshot published" in done.stderr
    assert snapshot.stat().st_ino != inode  # a new copy, renamed over the old one
    assert analyst.execute("select count(*) from stg_transactions").fetchone() == before
    analyst.close()

    shown = analyst_cvp(
        clean_run, "sql", "select count(*) as n from stg_transactions", "--format", "csv"
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == ["n", str(before[0] if before else 0)]
    listed = analyst_cvp(clean_run, "show")
    assert "customers" in listed.stdout.split()
    rows = analyst_cvp(clean_run, "show", "file_ledger", "--limit", "2", "--format", "json")
    assert len(rows.stdout.splitlines()) == 2
    assert json.loads(rows.stdout.splitlines()[0])["file_name"].endswith(".dat")
    typo = analyst_cvp(clean_run, "show", "customerz")
    assert typo.returncode == 1
    assert "did you mean 'customers'?" in typo.stderr
