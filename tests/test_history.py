"""History completeness (issue 14, items 3, 4 and 6): a hole in the history stops the dates
after it with exit 3 naming it, until it is loaded or waived; a late file re-runs the dates
built without it; a range ingest stops at the first incomplete date so late snapshots can
load; a date whose files were archived after loading stays done."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.generate import generate_landing_zone
from tests.conftest import young_config

START = date(2026, 10, 30)  # 10-30, 10-31, 11-01
D1, D2, D3 = "2026-10-30", "2026-10-31", "2026-11-01"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zone") / "landing"
    generate_landing_zone(out, 50, START, 3, seed=11)
    return out


@pytest.fixture
def zone(generated: Path, tmp_path: Path) -> Path:
    shutil.copytree(generated, tmp_path / "landing")
    assert cvp(tmp_path, "init")[0] == 0
    return tmp_path


def cvp(tmp: Path, *words: str) -> tuple[int, str]:
    env = {
        "CVP_LANDING_DIR": str(tmp / "landing"),
        "CVP_WAREHOUSE": str(tmp / "cvp.duckdb"),
        "CVP_EXPORT_DIR": str(tmp / "exports"),
    }
    args = [*words, "--config", str(young_config(tmp))]
    result = CliRunner().invoke(app, args, env=env)
    return result.exit_code, result.output


def withhold(tmp: Path, day: str, name: str) -> Path:
    """Move a delivered file (and its control file) out of the landing zone; return where."""
    folder = tmp / "landing" / day.replace("-", "")
    late = tmp / "late"
    late.mkdir(exist_ok=True)
    for path in (folder / name, folder / f"{name}.ok"):
        shutil.move(path, late / path.name)
    return late


def deliver_late(tmp: Path, day: str) -> None:
    folder = tmp / "landing" / day.replace("-", "")
    for path in (tmp / "late").iterdir():
        shutil.move(path, folder / path.name)


def query(tmp: Path, sql: str) -> list[tuple[object, ...]]:
    con = duckdb.connect(str(tmp / "cvp.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_a_hole_stops_the_dates_after_it_until_loaded(zone: Path) -> None:
    withhold(zone, D2, "CUST_20261031.dat")
    assert cvp(zone, "run", "--date", D1)[0] == 0
    code, output = cvp(zone, "run", "--date", D2)
    assert code == 3 and "CUST_20261031.dat: not delivered" in output
    code, output = cvp(zone, "run", "--date", D3)
    assert code == 3
    assert f"history incomplete for {D3}: 1 date(s) missing: {D2}" in output
    assert "cvp waive --date 2026-10-31" in output
    # nothing of the later date was loaded or published: the late snapshot can still load
    assert query(zone, f"select count(*) from file_ledger where business_date = '{D3}'") == [(0,)]
    assert not (zone / "exports" / "20261101").exists()
    status = json.loads(cvp(zone, "status", "--json")[1])
    assert D2 in status["needs_attention"]
    assert [g["business_date"] for g in status["gaps"]] == [D2]
    code, output = cvp(zone, "run", "--date", D3, "--dry-run")
    assert code == 0 and f"history incomplete: {D2}: the run stops" in output

    deliver_late(zone, D2)
    assert cvp(zone, "run", "--date", D2)[0] == 0
    code, output = cvp(zone, "run", "--date", D3)
    assert code == 0, output
    assert (zone / "exports" / "20261101" / "_SUCCESS").exists()
    assert json.loads(cvp(zone, "status", "--json")[1])["needs_attention"] == []


def test_a_waived_hole_runs_on_and_its_late_file_reruns_the_dates_after_it(
    zone: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    withhold(zone, D2, "TXN_ATM_20261031.dat")
    assert cvp(zone, "run", "--date", D1)[0] == 0
    assert cvp(zone, "run", "--date", D2)[0] == 3
    code, output = cvp(zone, "waive", "--date", D2, "--reason", "ATM switch outage")
    assert code == 0 and "waived 2026-10-31" in output
    assert cvp(zone, "run", "--date", D3)[0] == 0
    assert query(zone, "select reason from history_waivers") == [("ATM switch outage",)]

    deliver_late(zone, D2)
    assert cvp(zone, "ingest", "--date", D2)[0] == 0
    status = json.loads(cvp(zone, "status", "--json")[1])
    assert status["stale"] == [D3] and D3 in status["needs_attention"]
    code, output = cvp(zone, "run", "--date", D3)
    assert code == 0, output
    assert json.loads(cvp(zone, "status", "--json")[1])["stale"] == []

    # D3 is now what a warehouse that had every file on time gives
    clean = tmp_path_factory.mktemp("clean")
    shutil.copytree(zone / "landing", clean / "landing")
    assert cvp(clean, "init")[0] == 0
    assert cvp(clean, "run", "--from", D1, "--to", D3)[0] == 0
    sql = (
        "select customer_id, contribution_amount from int_customer_contribution "
        f"where business_date = '{D3}' order by 1"
    )
    assert query(zone, sql) == query(clean, sql)


def test_a_range_ingest_stops_at_the_first_incomplete_date(zone: Path) -> None:
    withhold(zone, D2, "ACCT_20261031.dat")
    code, output = cvp(zone, "ingest", "--from", D1, "--to", D3)
    assert code == 3
    assert "ACCT_20261031.dat: not delivered" in output
    assert f"{D3} to {D3}: not attempted" in output
    assert query(zone, "select distinct business_date from file_ledger order by 1") == [
        (date(2026, 10, 30),),
        (date(2026, 10, 31),),
    ]
    deliver_late(zone, D2)  # the late snapshot loads: no later one was loaded before it
    code, output = cvp(zone, "ingest", "--from", D2, "--to", D3)
    assert code == 0, output


def test_an_archived_date_is_done_not_failed(zone: Path) -> None:
    assert cvp(zone, "run", "--from", D1, "--to", D2)[0] == 0
    shutil.rmtree(zone / "landing" / "20261030")  # archived after loading
    code, output = cvp(zone, "run", "--date", D1, "--force")
    assert code == 0, output
    assert (zone / "exports" / "20261030" / "_SUCCESS").exists()
    status = json.loads(cvp(zone, "status", "--json")[1])
    assert status["needs_attention"] == []
