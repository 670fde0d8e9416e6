"""The export stage on a real warehouse: files, manifest, masking, refusal, re-runs."""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.config import Config
from pipeline.errors import ExportBlocked
from pipeline.export import mask_mobile, sha256_file, verify_export
from pipeline.stages.export import STAGE as EXPORT
from pipeline.warehouse import connect
from tests.conftest import run_stage_for
from tests.test_tiers_stage import DAY, build_upstream, population, run_tiers, small_config

ID_NUMBER = re.compile(r"(?<![0-9])[0-9]{17}[0-9Xx](?![0-9])")
MOBILE = re.compile(r"(?<![0-9])1[3-9][0-9]{9}(?![0-9])")
FILES = [
    "customer_value",
    "merchants",
    "merchant_network",
    "cross_sell",
    "channel_migration",
    "call_list",
    "rm_scorecard",
    "branch_summary",
]


def run_export(cfg: Config, con: duckdb.DuckDBPyConnection, day: date = DAY) -> None:
    run_stage_for(con, cfg, EXPORT, day)


def prepared(cfg: Config) -> tuple[Config, duckdb.DuckDBPyConnection]:
    """A warehouse with the hand-made population, a merchant chain, and the tiers stage run."""
    cfg = small_config(cfg)
    con = connect(cfg)
    build_upstream(con, DAY, population())
    con.execute(
        "insert into int_merchant_counterparties values "
        "('C07', ?, '6222000011112222', 'buyer', 1, '李珅', 1000.00, false, null, false), "
        "('C07', ?, '110101198001010011', 'supplier', 1, '王東 13900001111', 500.00, true, "
        "'C02', false)",
        [DAY, DAY],
    )
    run_tiers(cfg, con, DAY)
    return cfg, con


def test_mask_mobile() -> None:
    assert mask_mobile("13812341234") == "138****1234"
    assert mask_mobile("1381234123") is None
    assert mask_mobile(None) is None


def test_export_writes_every_file_with_manifest(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    clv_dir = cfg.paths.export_dir / "clv"
    clv_dir.mkdir(parents=True)
    (clv_dir / "20261127.json").write_text('{"r": 1}', encoding="utf-8")
    run_export(cfg, con)
    folder = cfg.paths.export_dir / "20261127"
    assert (folder / "_SUCCESS").exists()
    assert verify_export(folder) == []
    manifest = json.loads((folder / "_manifest.json").read_text(encoding="utf-8"))
    names = {f["name"] for f in manifest["files"]}
    assert names == {f"{n}.parquet" for n in FILES} | {"clv_fit.json"}
    for entry in manifest["files"]:
        assert sha256_file(folder / entry["name"]) == entry["sha256"]
        if entry["name"].endswith(".parquet"):
            assert pq.read_metadata(folder / entry["name"]).num_rows == entry["rows"]
    assert manifest["business_date"] == "2026-11-27"
    assert manifest["schema_version"] == cfg.export.schema_version
    assert manifest["config_hash"] == cfg.fingerprint()
    cv = pq.read_table(folder / "customer_value.parquet").to_pylist()
    assert len(cv) == 11  # active customers of the population (C09 is closed)
    assert {r["mobile_masked"] for r in cv} == {"138****1234"}
    c07 = next(r for r in cv if r["customer_id"] == "C07")
    assert (c07["tier"], c07["is_merchant"], c07["rm_id"]) == ("platinum", True, "RM2")
    calls = pq.read_table(folder / "call_list.parquet").column("customer_id").to_pylist()
    assert "C08" not in calls  # no marketing consent
    con.close()


def test_economic_profit_is_exported_beside_contribution(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    # What the files must hold, from int_customer_contribution (rounded to the cent) and the
    # customers' active status, computed here rather than read from the tiers tables.
    expected = {
        r[0]: r[1:]
        for r in con.execute(
            "select c.customer_id, round(c.contribution_amount, 2), "
            "round(c.contribution_amount, 2) - round(c.capital_charge_amount, 2), "
            "round(c.capital_charge_amount, 2), c.history_days, f.home_branch_id, f.rm_id "
            "from int_customer_contribution c join int_customer_features f "
            "on f.customer_id = c.customer_id and f.business_date = c.business_date "
            "where c.business_date = ? and f.status = 'A'",
            [DAY],
        ).fetchall()
    }
    # the branch summary holds every customer with a contribution: the untiered (closed or
    # frozen) in a 'not_tiered' row of their branch, so it adds up to contribution
    all_by_branch = {
        r[0]: r[1:]
        for r in con.execute(
            "select c.home_branch_id, sum(round(c.contribution_amount, 2)), "
            "sum(round(c.contribution_amount, 2) - round(c.capital_charge_amount, 2)), "
            "sum(round(c.capital_charge_amount, 2)) from int_customer_contribution c "
            "where c.business_date = ? group by all",
            [DAY],
        ).fetchall()
    }
    con.close()
    folder = cfg.paths.export_dir / "20261127"
    cv = pq.read_table(folder / "customer_value.parquet").to_pylist()
    assert {
        r["customer_id"]: (
            r["contribution_amount"],
            r["economic_profit_amount"],
            r["capital_charge_amount"],
            r["history_days"],
        )
        for r in cv
    } == {k: v[:4] for k, v in expected.items()}
    assert any(r["capital_charge_amount"] for r in cv)  # the test looks at non-zero charges
    for r in cv:
        assert r["economic_profit_amount"] == r["contribution_amount"] - r["capital_charge_amount"]

    def sums(index: int) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
        out: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        for v in expected.values():
            a, b, c = out.get(v[index], (Decimal(0), Decimal(0), Decimal(0)))
            out[v[index]] = (a + v[0], b + v[1], c + v[2])
        return out

    branches: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
    for r in pq.read_table(folder / "branch_summary.parquet").to_pylist():
        a, b, c = branches.get(r["branch_id"], (Decimal(0), Decimal(0), Decimal(0)))
        branches[r["branch_id"]] = (
            a + r["contribution_amount"],
            b + r["economic_profit_amount"],
            c + r["capital_charge_amount"],
        )
    assert branches == all_by_branch
    assert branches != sums(4)  # the fixture has customers who are not active
    rms = {
        r["rm_id"]: (
            r["book_contribution_amount"],
            r["book_economic_profit_amount"],
            r["book_capital_charge_amount"],
        )
        for r in pq.read_table(folder / "rm_scorecard.parquet").to_pylist()
    }
    assert rms == sums(5)


def test_no_personal_data_in_any_string_column(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    con.close()
    folder = cfg.paths.export_dir / "20261127"
    scanned = 0
    for path in sorted(folder.glob("*.parquet")):
        table = pq.read_table(path)
        for name in table.column_names:
            if not pa.types.is_string(table.schema.field(name).type):
                continue
            for value in table.column(name).to_pylist():
                if value is None:
                    continue
                scanned += 1
                assert not ID_NUMBER.search(value), f"{path.name}.{name}: ID-number pattern"
                assert not MOBILE.search(value), f"{path.name}.{name}: mobile pattern"
                assert "张弢" not in value and "李珅" not in value and "王東" not in value
    assert scanned > 100  # the scan really looked at the files


def _fail(con: duckdb.DuckDBPyConnection, stage: str, when: datetime, status: str) -> None:
    con.execute(
        "insert into run_ledger (run_id, stage, business_date, status, started_at) "
        "values ('x', ?, ?, ?, ?)",
        [stage, DAY, status, when],
    )


def test_refused_when_a_stage_failed_unless_superseded(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    _fail(con, "contribution", datetime(2099, 1, 1), "failed")
    with pytest.raises(ExportBlocked, match="stage contribution failed"):
        run_export(cfg, con)
    assert not (cfg.paths.export_dir / "20261127").exists()
    _fail(con, "contribution", datetime(2099, 1, 2), "succeeded")  # a later success supersedes
    run_export(cfg, con)
    assert verify_export(cfg.paths.export_dir / "20261127") == []
    con.close()


def test_refused_when_a_check_failed_and_old_export_kept(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    folder = cfg.paths.export_dir / "20261127"
    before = (folder / "_manifest.json").read_text(encoding="utf-8")
    con.execute("create table chk_contribution_reconciliation (business_date date, is_ok boolean)")
    con.execute(
        "insert into chk_contribution_reconciliation values (?, true), (?, false)", [DAY, DAY]
    )
    with pytest.raises(ExportBlocked, match="chk_contribution_reconciliation: 1 failed rows"):
        run_export(cfg, con)
    assert (folder / "_manifest.json").read_text(encoding="utf-8") == before
    # A failed check of another date does not block this one.
    con.execute("update chk_contribution_reconciliation set business_date = date '2026-11-26'")
    run_export(cfg, con)
    con.close()


def test_rerun_replaces_the_export(cfg: Config) -> None:
    cfg, con = prepared(cfg)
    run_export(cfg, con)
    folder = cfg.paths.export_dir / "20261127"
    (folder / "stray.txt").write_text("from an older export", encoding="utf-8")
    run_export(cfg, con)
    assert not (folder / "stray.txt").exists()
    assert verify_export(folder) == []
    assert [p.name for p in cfg.paths.export_dir.iterdir()] == ["20261127"]  # no leftovers
    con.close()


def test_stage_command_exit_code_when_refused(cfg: Config, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    cfg, con = prepared(cfg)
    _fail(con, "clv", datetime(2099, 1, 1), "failed")
    _fail(con, "tiers", datetime(2099, 1, 1), "succeeded")
    con.close()
    result = CliRunner().invoke(
        app,
        [
            "export",
            "--date",
            "2026-11-27",
            "--warehouse",
            str(cfg.paths.warehouse),
            "--export-dir",
            str(cfg.paths.export_dir),
            "--landing-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 5, result.output
    assert "refused" in result.output and "stage clv failed" in result.output


def test_export_without_tiers_for_the_date_fails(cfg: Config) -> None:
    from pipeline.errors import StageFailed

    cfg, con = prepared(cfg)
    with pytest.raises(StageFailed, match="no tiers for 2026-11-26"):
        run_export(cfg, con, date(2026, 11, 26))
    assert not (cfg.paths.export_dir / "20261126").exists()
    con.close()


def test_exported_defaulter_is_at_the_floor_and_not_called(cfg: Config) -> None:
    from tests.test_tiers_stage import Cust

    cfg = small_config(cfg)
    con = connect(cfg)
    # D1: 2,000,000 of deposits, a potential customer (student), a loan 120 days past due.
    people = [
        *population(),
        Cust("D1", aum=2_000_000, age=21, occupation="STU", days_past_due=120),
    ]
    build_upstream(con, DAY, people)
    run_tiers(cfg, con, DAY)
    run_export(cfg, con)
    folder = cfg.paths.export_dir / "20261127"
    value = pq.read_table(folder / "customer_value.parquet").to_pylist()
    d1 = next(r for r in value if r["customer_id"] == "D1")
    assert (d1["tier"], d1["tier_reasons"]) == ("mass", "AUM_DIAMOND;CREDIT_HOLD")
    called = pq.read_table(folder / "call_list.parquet").column("customer_id").to_pylist()
    assert "D1" not in called and called  # the others are still called
    con.close()


def test_unknown_lifetime_value_is_exported_as_null_not_zero(cfg: Config) -> None:
    """A customer the clv stage gave no value (no event yet) is exported with clv_amount null;
    the tier rules read 0 for it, but a reader must not take 0 as a measured value."""
    cfg = small_config(cfg)
    con = connect(cfg)
    build_upstream(con, DAY, population())
    con.execute("delete from int_customer_clv where customer_id = 'C03'")
    run_tiers(cfg, con, DAY)
    run_export(cfg, con)
    table = pq.read_table(cfg.paths.export_dir / DAY.strftime("%Y%m%d") / "customer_value.parquet")
    clv = dict(zip(table["customer_id"].to_pylist(), table["clv_amount"].to_pylist(), strict=True))
    assert clv["C03"] is None
    assert clv["C02"] is not None
