"""``cvp report``: every figure present, the key numbers right, missing tables said plainly, and
the page rendered by a real headless browser (Debian's chromium) with every plot drawn.

The warehouse is hand-made: five customers, three merchants, two branches, two managers, a few
files; every expected number below is worked out by hand from those rows.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.config import Config, load_config
from pipeline.report import build_report_html, write_report
from pipeline.report.collect import (
    MAX_SCATTER_POINTS,
    collect_merchants,
    lorenz_points,
    top_share,
)
from pipeline.report.fmt import cny_short
from pipeline.report.html import FIGURE_IDS
from pipeline.report.i18n import LANGUAGES, Language, catalogue, placeholders
from pipeline.warehouse import migrate
from tests.conftest import REPO

DAY = date(2026, 11, 27)
CHROMIUM = Path("/usr/bin/chromium")

HAND_MADE = """
-- capital charge: C1 100, C2 50, the others none; economic profit = contribution − charge
create table int_customer_tiers as
select * from (values
    ('C1', date '2026-11-27', 'gold', 3, 600.00, 500.00, 50000.00, 900.00, true,  false, false,
     0.00),
    ('C2', date '2026-11-27', 'gold', 3, 300.00, 250.00, 20000.00, 300.00, false, true,  false,
     0.00),
    ('C3', date '2026-11-27', 'mass', 4, 100.00, 100.00, 3000.00,  100.00, false, false, true,
     4.00),
    ('C4', date '2026-11-27', 'mass', 4,  50.00,  50.00, 1000.00,  -20.00, false, false, false,
     8.00),
    ('C5', date '2026-11-27', 'mass', 4, -50.00, -50.00, 500.00,   null,   false, false, false,
     6.00),
    ('C1', date '2026-11-26', 'mass', 4, 999.00, 999.00, 1.00,     1.00,   false, false, false,
     0.00)
) t(customer_id, business_date, tier, tier_rank, contribution_amount, economic_profit_amount,
    aum_amount, clv_amount, is_golden, is_merchant, is_potential, counter_cost_amount);

-- every customer: deposit margin = contribution + 10, cost to serve 8, reserve cost 2; a year
-- from 362 days of history; capital charge as in the tiers
create table int_customer_contribution as
select customer_id, business_date, date '2025-12-01' as window_start,
       business_date as window_end, 362 as history_days,
       (c + 10)::decimal(38,6) as deposit_nii_amount, 0::decimal(38,6) as loan_nii_amount,
       0::decimal(38,6) as commission_amount, 0::decimal(38,6) as fee_amount,
       0::decimal(38,6) as interchange_amount, 8::decimal(38,6) as service_cost_amount,
       0::decimal(38,6) as upkeep_cost_amount, 2::decimal(38,6) as reserve_cost_amount,
       0::decimal(38,6) as risk_cost_amount, 0::decimal(38,6) as default_provision_amount,
       k::decimal(38,6) as capital_charge_amount,
       (c + 10)::decimal(38,6) as revenue_amount, 10::decimal(38,6) as cost_amount,
       c::decimal(38,6) as contribution_amount,
       (c - k)::decimal(38,6) as economic_profit_amount
from (values ('C1', 600, 100), ('C2', 300, 50), ('C3', 100, 0), ('C4', 50, 0), ('C5', -50, 0))
         v(customer_id, c, k),
     (select date '2026-11-27' as business_date);

create table int_customer_clv as
select * from (values
    ('C1', date '2026-11-27', 900.00, 'mature',  0.9),
    ('C2', date '2026-11-27', 300.00, 'growing', 0.8),
    ('C3', date '2026-11-27', 100.00, 'new',     0.7),
    ('C4', date '2026-11-27', -20.00, 'dormant', 0.1)
) t(customer_id, business_date, clv_amount, life_stage, p_alive);

create table clv_fit_runs as
select * from (values
    (date '2026-11-27', 'full', 'bgnbd', 4, 'fitted', null, null, null, null, null, null,
     'ok', date '2026-11-27', null),
    (date '2026-11-27', 'calibration', 'bgnbd', 4, null, 4, 5.4, 6, 0.5, 0.8, 0.5,
     'ok', date '2026-08-27', date '2026-11-27')
) t(business_date, fit_role, model, n_customers, gg_status, holdout_customers,
    holdout_predicted_events, holdout_actual_events, holdout_rmse, holdout_spearman,
    holdout_top_decile_share, validation_status, calibration_end, holdout_end);

create table clv_holdout_buckets as
select business_date, date '2026-08-27' as calibration_end, date '2026-11-27' as holdout_end, *
    exclude (business_date)
from (values
    (date '2026-11-27', '0', 0, 2, 1.0, 2.0, 0.5, 1.0),
    (date '2026-11-27', '1', 1, 1, 2.0, 2.0, 2.0, 2.0),
    (date '2026-11-27', '2+', 2, 1, 2.4, 2.0, 2.4, 2.0)
) t(business_date, frequency_bucket, bucket_order, n_customers, predicted_events,
    actual_events, mean_predicted, mean_actual);

create table int_merchants as
select * from (values
    ('C2', date '2026-11-27', 2000000.00, 20000.00, true,  80.0, 'MC1'),
    ('C6', date '2026-11-27', 6000000.00, 5000.00,  false, 90.0, 'MC1'),
    ('C7', date '2026-11-27', 1000000.00, 1000.00,  true,  60.0, 'MC2')
) t(customer_id, business_date, turnover_amount, aum_amount, is_declared, merchant_score,
    market_cluster_id);

create table int_market_clusters as
select * from (values
    ('MC1', date '2026-11-27', 'shared_counterparty', 2, 8000000.00, 'BR1', 3),
    ('MC2', date '2026-11-27', 'direct_trade',        2, 1000000.00, 'BR2', 1)
) t(market_cluster_id, business_date, link_type, member_count, turnover_amount,
    main_branch_id, link_count);

create table int_merchant_prospects as
select '6222021234567890123' as counterparty_key, date '2026-11-27' as business_date,
       '105' as counterparty_bank, 'supplier' as role, 750000.00 as amount,
       12 as txn_count, 2 as merchant_count;

create table int_customer_features as
select * from (values
    ('C1', date '2026-11-27', 4, 0, 0, 10, 6),
    ('C2', date '2026-11-27', 2, 0, 0, 10, 4),
    ('C3', date '2026-11-27', 4, 0, 0, 10, 0),
    ('C4', date '2026-11-27', 0, 0, 0, 0, 0),
    ('C5', date '2026-11-27', 0, 0, 0, 0, 0)
) t(customer_id, business_date, ctr_txn_count, atm_txn_count, tel_txn_count, net_txn_count,
    pos_txn_count);

create table int_channel_migration as
select * from (values
    ('C4', date '2026-11-27', 'BR1', 5.0, 30.00, 4),
    ('C5', date '2026-11-27', 'BR2', 3.0, 20.00, 2)
) t(customer_id, business_date, home_branch_id, yearly_migratable_txns, yearly_saving_amount,
    counter_online_capable_txns);

create table int_rm_scorecard as
select * from (values
    ('RM2', date '2026-11-27', date '2026-10-31', 2, 'mass=2', 50.00, 50.00, 0.00, 80.00,
     1500.00, -100.00, -10.00, 0, 1, 0, 0, 0, date '2026-09-01', date '2026-10-01', -100.00,
     0.00, 0.00, 30.00, 0, 0, 2),
    ('RM1', date '2026-11-27', date '2026-10-31', 3, 'gold=2;mass=1', 1000.00, 850.00, 150.00,
     1300.00, 73000.00, 500.00, 40.00, 1, 0, 1, 1, 1, date '2026-09-01', date '2026-10-01',
     300.00, 400.00, -200.00, 120.00, 2, 1, 1)
) t(rm_id, business_date, compare_date, customers, customers_by_tier,
    book_contribution_amount, book_economic_profit_amount, book_capital_charge_amount,
    book_clv_amount, book_aum_amount, value_created_amount, clv_change_amount, upgrades,
    downgrades, golden_customers, merchants, potential_customers, period_start_month,
    period_end_month, value_volume_amount, value_new_amount, value_lost_amount,
    rate_effect_amount, new_customers, lost_customers, value_created_rank);

create table int_branch_summary as
select * from (values
    ('BR1', 'gold', date '2026-11-27', 3, 1, 600.00, 500.00, 100.00, 50000.00, 900.00, 0.00, 0,
     0.00, 0, 1, 0),
    ('BR1', 'mass', date '2026-11-27', 4, 2, 150.00, 150.00, 0.00, 4000.00, 80.00, 12.00, 1,
     30.00, 0, 0, 1),
    ('BR2', 'gold', date '2026-11-27', 3, 1, 300.00, 250.00, 50.00, 20000.00, 300.00, 0.00, 0,
     0.00, 1, 0, 0),
    ('BR2', 'mass', date '2026-11-27', 4, 1, -50.00, -50.00, 0.00, 500.00, 0.00, 6.00, 1, 20.00,
     0, 0, 0),
    -- the reconciling row of closed and frozen customers: no tier, no rank
    ('BR2', 'not_tiered', date '2026-11-27', null, 1, 10.00, 10.00, 0.00, null, null, null, 0,
     0.00, 0, 0, 0)
) t(branch_id, tier, business_date, tier_rank, customers, contribution_amount,
    economic_profit_amount, capital_charge_amount, aum_amount, clv_amount, counter_cost_amount,
    migration_candidates, migration_saving_amount, merchants, golden_customers,
    potential_customers);

insert into hist_branches (branch_id, name, market_area, row_hash, valid_from, valid_to)
values ('BR1', 'Market Street', 'Y', 1, date '2020-01-01', date '9999-12-31');

-- TXN_CTR was re-sent: only its latest receipt (40 rows, 2 quarantined) counts
insert into file_ledger (file_name, feed, channel, business_date, rows_loaded, rows_quarantined,
                         outcome, received_at)
values
    ('CUST_20261127.dat', 'CUST', null, date '2026-11-27', 5, 1, 'loaded',
     timestamp '2026-11-28 01:00:00'),
    ('TXN_CTR_20261127.dat', 'TXN', 'CTR', date '2026-11-27', 39, 0, 'loaded',
     timestamp '2026-11-28 01:00:00'),
    ('TXN_CTR_20261127.dat', 'TXN', 'CTR', date '2026-11-27', 40, 2, 'replaced',
     timestamp '2026-11-28 03:00:00'),
    ('TXN_CTR_20261126.dat', 'TXN', 'CTR', date '2026-11-26', 30, 0, 'loaded',
     timestamp '2026-11-27 01:00:00');

insert into quarantine values
    ('TXN_CTR_20261127.dat', 'TXN', date '2026-11-27', 7, 'x', 'bad amount: abc', now()),
    ('TXN_CTR_20261127.dat', 'TXN', date '2026-11-27', 9, 'x', 'bad amount: 1..2', now()),
    ('CUST_20261127.dat', 'CUST', date '2026-11-27', 3, 'x', 'missing customer_id', now());

create table chk_contribution_reconciliation as
select * from (values
    (date '2026-11-27', '*', '*', 'fee', 1.00, 1.00, 0.00, 0.01, true),
    (date '2026-11-27', 'BR1', 'DDA', 'deposit_nii', 5.00, 5.50, -0.50, 0.01, false)
) t(business_date, branch_id, product_code, component, customer_sum_amount, source_amount,
    difference_amount, tolerance_amount, is_ok);

insert into run_ledger (run_id, stage, business_date, status, started_at, ended_at, rows)
values ('r1', 'tiers', date '2026-11-27', 'succeeded', timestamp '2026-11-28 02:00:00',
        timestamp '2026-11-28 02:00:03', 5);
"""


class _Tables(HTMLParser):
    """Rows of text cells of each ``<table id=...>``; text of each ``<figure id=...>``."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.figures: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._figure: str | None = None
        self._depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag == "td" and self._table:
            self._cell = []
        elif tag == "figure" and a.get("id"):
            self._figure = a["id"]
            self.figures[self._figure] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._table:
            self.tables[self._table] = [r for r in self.tables[self._table] if r]
            self._table = None
        elif tag == "td" and self._table and self._cell is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "figure":
            self._figure = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._figure and data.strip():
            self.figures[self._figure] += data


def parse(html: str) -> _Tables:
    p = _Tables()
    p.feed(html)
    return p


def caption(html: str, fig_id: str) -> str:
    match = re.search(rf'<figure id="{fig_id}"[^>]*>.*?<figcaption>(.*?)</figcaption>', html, re.S)
    assert match, f"{fig_id} has no caption"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", match.group(1)))


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """The hand-made warehouse, built once for the module (the report only reads it)."""
    root = tmp_path_factory.mktemp("report")
    cfg = load_config(
        REPO / "configs" / "default.yaml",
        {
            "landing_dir": root / "landing",
            "warehouse": root / "cvp.duckdb",
            "export_dir": root / "exports",
        },
        environ={},
    )
    con = duckdb.connect(str(cfg.paths.warehouse))
    migrate(con)
    con.execute(HAND_MADE)
    con.close()
    return cfg


@pytest.fixture(scope="module")
def html(warehouse: Config) -> str:
    return build_report_html(warehouse, DAY)


def test_every_figure_is_present_with_an_svg_and_a_caption(html: str) -> None:
    for fig_id in FIGURE_IDS:
        match = re.search(rf'<figure id="{fig_id}">(.*?)</figure>', html, re.S)
        assert match, f"{fig_id} missing or marked missing"
        assert "<svg" in match.group(1) and "<figcaption>" in match.group(1), fig_id
    assert "not available" not in html


def test_header_names_the_date_and_the_configuration(html: str, warehouse: Config) -> None:
    assert "<title>Customer value report 2026-11-27</title>" in html
    assert f"configuration {warehouse.fingerprint()}" in html


def test_page_is_self_contained(html: str) -> None:
    assert "<script" not in html.lower()
    assert "<link" not in html.lower() and "<img" not in html.lower()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "url(http" not in html
    # the same matplotlib glyph or clip id in two inline SVGs would make them share elements
    ids = re.findall(r'\bid="([^"]+)"', html)
    assert len(ids) == len(set(ids))


def test_tier_table_counts_customers_and_contribution(html: str) -> None:
    rows = parse(html).tables["tbl-tiers"]
    # gold: C1 + C2, 600 + 300 of 1000; mass: C3-C5, 100 + 50 - 50; 2026-11-26 rows ignored;
    # economic profit: gold 500 + 250, mass 100 + 50 - 50
    assert rows[0][:6] == ["gold", "2", "40.0%", "900", "90.0%", "750"]
    assert rows[1][:6] == ["mass", "3", "60.0%", "100", "10.0%", "100"]
    assert rows[0][7:] == ["1", "1", "0"]  # golden, merchants, potential
    text = caption(html, "fig-tiers")
    assert "total contribution CNY 1 k a year, economic profit CNY 850." in text
    assert "Customers per tier: gold 2; mass 3." in text


def test_overview_shows_economic_profit_beside_contribution(html: str) -> None:
    kpis = re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', html)
    assert ("CNY 1 k", "profit contribution a year") in kpis
    assert ("CNY 850", "economic profit a year (after capital)") in kpis


def test_concentration_caption_has_the_top_20_percent_share(html: str) -> None:
    text = caption(html, "fig-lorenz")
    # top 20% of 5 = C1: 600 of the net 1000, of the positive 1050 = 57.1%
    assert "The top 20% of customers produce 60% of the net contribution" in text
    assert "(57% of all positive contributions)" in text
    assert "20% of customers lose money (together CNY −50)" in text
    assert "computed here" in text  # rpt_contribution_concentration was not built


def test_components_caption_sums_revenue_and_cost(html: str) -> None:
    text = caption(html, "fig-components")
    # revenue = Σ (c + 10) = 1050; cost = 5 × (8 + 2) = 50; capital charge 100 + 50
    assert "Revenue CNY 1.05 k minus cost CNY 50 gives contribution CNY 1 k a year" in text
    assert "(window 2025-12-01 to 2026-11-27, of which the warehouse holds 362 days," in text
    assert "less the capital charge CNY 150, economic profit CNY 850, over all 5 customers" in text
    assert "largest cost: cost to serve 80%, reserve cost 20%" in text


def test_lifetime_value_and_calibration_captions(html: str) -> None:
    text = caption(html, "fig-clv-distribution")
    # 900 + 300 + 100 - 20 = 1280; median of four = (300 + 100) / 2; top 10% = C1 900 / 1280
    assert "4 customers scored; lifetime value of the book CNY 1.28 k, median CNY 200" in text
    assert "the top 10% hold 70%" in text
    assert "1 have a negative value" in text
    assert "new 1, growing 1, mature 1, dormant 1" in text  # life-cycle order, not by count
    text = caption(html, "fig-clv-calibration")
    assert "Fitted on history to 2026-08-27, predicted events to 2026-11-27 for 4" in text
    assert "predicted 5 against actual 6 events" in text
    assert "Spearman rank correlation 0.80" in text


def test_merchant_and_cluster_captions(html: str) -> None:
    text = caption(html, "fig-merchants")
    assert "3 individual merchants detected, turning over CNY 9 M a year" in text
    assert "1 have not declared a business: CNY 6 M of undeclared turnover (67%)" in text
    text = caption(html, "fig-market-clusters")
    assert "2 clusters" in text and "4 members" in text
    assert "The largest, MC1, joins 2 merchants turning over CNY 8 M" in text
    # another bank's account, masked like a mobile: never in clear in the report
    assert parse(html).tables["tbl-prospects"][0][:4] == [
        "6222****0123",
        "105",
        "supplier",
        "750,000",
    ]
    assert "6222021234567890123" not in html


def test_channel_mix_and_migration(html: str) -> None:
    text = caption(html, "fig-channel-mix")
    # counter 4 + 2 + 4 = 10, online 30, card 6 + 4 = 10, of 50
    assert "50 transactions over the trailing window: counter 20%, atm / self-service 0%" in text
    assert "online / mobile 60%, card (pos) 20%" in text
    text = caption(html, "fig-migration")
    assert "2 low-contribution customers could move 8 counter transactions a year online" in text
    assert "saving an estimated CNY 50 a year" in text
    assert "counter work costs CNY 18 a year" in text  # 4 + 8 + 6


def test_rm_leaderboard_and_branch_table(html: str) -> None:
    tables = parse(html).tables
    rms = tables["tbl-rm-leaderboard"]
    assert [r[0] for r in rms] == ["RM1", "RM2"]  # by value created, 500 before -100
    assert rms[0][3:6] == ["1,000", "850", "500"]  # contribution, economic profit, created
    assert rms[1][5] == "−100"
    # the parts: volume 300 + new 400 − lost 200 = 500, rate effect 120 apart; 2 new, 1 left
    assert rms[0][6:11] == ["300", "400", "−200", "120", "2 / 1"]
    text = caption(html, "fig-rm-leaderboard")
    assert "2 managers; the 2 who created the most value" in text
    assert "the 12 months to 2026-10 against the 12 months to 2026-09" in text
    assert "RM1 leads with CNY 500." in text
    assert "changed it by CNY 150 in all: a treasury effect, not in value created" in text
    branches = tables["tbl-branches"]
    # BR1: 600 + 150 = 750 with 3 customers, economic profit 500 + 150; BR2: 300 - 50 + 10
    # = 260, economic profit 250 - 50 + 10
    assert branches[0][:6] == ["BR1", "Market Street", "Y", "3", "750", "650"]
    assert branches[1][:6] == ["BR2", "—", "—", "3", "260", "210"]  # + the not_tiered row
    text = caption(html, "fig-branches")
    assert "2 branches, contribution CNY 1.01 k a year, economic profit CNY 860." in text
    assert "BR1 contributes most: CNY 750 (74%)" in text  # of 1,010


def test_data_quality_counts_latest_receipts_and_reasons(html: str) -> None:
    text = caption(html, "fig-dq-rows")
    # CUST 5 rows + re-sent TXN_CTR 40 (not 39 + 40); quarantined 1 + 2
    assert "2 files for 2026-11-27: 45 rows loaded, 3 quarantined, 0 files rejected" in text
    assert "from 2026-11-26 to 2026-11-27" in text
    text = caption(html, "fig-dq-quarantine")
    assert "bad amount (TXN) 2; missing customer_id (CUST) 1" in text
    assert "1 disagree" in html
    text = re.sub(r"<[^>]+>", "", html.split("<h3>Reconciliation</h3>")[1].split("</p>")[0])
    assert "2 checks of the customer figures summed against the same components recomputed " in text
    assert "from the loaded accounts and transactions" in text and "portfolio" not in text
    # the whole bank's rows ('*', '*'): customers' sum beside the source's figure
    assert parse(html).tables["tbl-dq-reconciliation"] == [
        ["fee", "1.00", "1.00", "0.000000", "yes"]
    ]
    assert parse(html).tables["tbl-dq-runs"][0][:3] == ["tiers", "succeeded", "5"]


def test_missing_tables_are_said_plainly(cfg: Config) -> None:
    cfg.paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(cfg.paths.warehouse))
    migrate(con)
    # merchants ran and found none; nothing else was built beyond the base tables
    con.execute(
        "create table int_merchants (customer_id varchar, business_date date, "
        "turnover_amount decimal(18,2), aum_amount decimal(18,2), is_declared boolean, "
        "merchant_score double, market_cluster_id varchar);"
        "insert into run_ledger (run_id, stage, business_date, status, started_at) "
        "values ('r', 'merchants', date '2026-11-27', 'succeeded', now())"
    )
    con.close()
    html = build_report_html(cfg, DAY)
    figs = parse(html).figures
    assert set(FIGURE_IDS) <= set(figs)
    assert (
        "Table int_customer_tiers is not in the warehouse: run `cvp tiers --date 2026-11-27`"
        in (figs["fig-tiers"])
    )
    assert "not available" in figs["fig-clv-calibration"]
    assert "file_ledger has no rows for 2026-11-27: run `cvp ingest" in figs["fig-dq-rows"]
    # an empty table from a stage that succeeded is an answer, not a gap
    assert "not available" not in figs["fig-merchants"]
    assert "No merchants detected on this date" in figs["fig-merchants"]
    figs = parse(build_report_html(cfg, DAY, "zh")).figures
    assert (
        "数据仓库中没有表 int_customer_tiers：请运行 `cvp tiers --date 2026-11-27`。"
        in (figs["fig-tiers"])
    )
    assert "file_ledger 没有 2026-11-27 的数据" in figs["fig-dq-rows"]


def test_write_report_replaces_a_stale_file_whole(warehouse: Config, tmp_path: Path) -> None:
    out = tmp_path / "x" / "r.html"
    out.parent.mkdir()
    out.write_text("stale", encoding="utf-8")
    assert write_report(warehouse, DAY, out) == out
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in out.parent.iterdir()] == ["r.html"]  # no temp file left


def test_cli_writes_to_the_export_dir_and_prints_the_path(
    warehouse: Config, tmp_path: Path
) -> None:
    runner = CliRunner()
    wh = ["--warehouse", str(warehouse.paths.warehouse)]
    result = runner.invoke(
        app, ["report", "--date", "2026-11-27", *wh, "--export-dir", str(tmp_path / "exp")]
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "exp" / "report_20261127.html")
    assert (tmp_path / "exp" / "report_20261127.html").exists()


def test_cli_refuses_a_missing_warehouse_and_a_bad_date(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = ["--warehouse", str(tmp_path / "none.duckdb")]
    result = runner.invoke(app, ["report", "--date", "2026-11-27", *missing])
    assert result.exit_code == 1 and "no warehouse there" in result.output
    result = runner.invoke(app, ["report", "--date", "2026-13-01", *missing])
    assert result.exit_code == 1 and "expected an ISO date" in result.output
    assert (
        "Example: cvp report --date 2026-11-27" in runner.invoke(app, ["report", "--help"]).output
    )


def test_lorenz_points_and_top_share_by_hand() -> None:
    # floored at zero: 0, 0, 1, 3 → cumulative 0, 0, 0.25, 1 over quarters of customers
    x, y = lorenz_points([-5, 0, 1, 3])
    assert x == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert y == [0.0, 0.0, 0.0, 0.25, 1.0]
    assert top_share([600, 300, 100, 50, -50], 0.2) == pytest.approx(0.6)
    assert top_share([], 0.2) == 0.0


def test_plotting_leaves_the_callers_matplotlib_alone() -> None:
    import matplotlib

    from pipeline.report.figures import plot_quarantine

    before = (matplotlib.rcParams["font.size"], matplotlib.rcParams["axes.grid"])
    backend = matplotlib.get_backend()
    svg = plot_quarantine(
        {"reasons": [{"reason": "bad amount", "feed": "TXN", "rows": 3}]}, Language("en")
    )
    assert svg.startswith("<svg")
    assert (matplotlib.rcParams["font.size"], matplotlib.rcParams["axes.grid"]) == before
    assert matplotlib.get_backend() == backend


def test_merchant_scatter_is_thinned_beyond_its_cap() -> None:
    con = duckdb.connect()
    con.execute(
        "create table int_merchants as select 'C' || i as customer_id, "
        "date '2026-11-27' as business_date, (1000 + i)::decimal(18,2) as turnover_amount, "
        "1::decimal(18,2) as aum_amount, i % 2 = 0 as is_declared, 1.0 as merchant_score, "
        "null::varchar as market_cluster_id from range(4500) t(i)"
    )
    data = collect_merchants(con, DAY)
    # 4500 over a cap of 2000: every 3rd, 1500 drawn; the counts keep every merchant
    assert MAX_SCATTER_POINTS == 2000
    assert data["scatter_step"] == 3 and len(data["merchants"]) == 1500
    assert data["count"] == 4500 and data["undeclared_count"] == 2250


PROBE = """<script>
const out = {};
for (const f of document.querySelectorAll('figure[id]')) {
  const s = f.querySelector(':scope > svg');
  const r = s ? s.getBoundingClientRect() : null;
  out[f.id] = r ? [r.width, r.height, s.querySelectorAll('path, use').length] : null;
}
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def _chromium(tmp_path: Path) -> list[str]:
    """Headless Chromium with its own profile under ``tmp_path``, as the browser tests run it."""
    return [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--window-size=1280,2000",
    ]


def _probe(chromium: list[str], page: Path) -> dict[str, Any]:
    """Load ``page`` (a report with a probe script added) and return what the probe wrote
    into its ``<pre id="probe">`` as JSON."""
    done = subprocess.run(
        [*chromium, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    match = re.search(r'<pre id="probe">(.*?)</pre>', done.stdout, re.S)
    assert match, "the browser did not run the probe: " + done.stdout[:500]
    out: dict[str, Any] = json.loads(match.group(1).replace("&quot;", '"'))
    return out


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
def test_headless_chromium_draws_every_figure(html: str, tmp_path: Path) -> None:
    # The probe script is added to a copy: the report itself has no script.
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    shot = tmp_path / "shot.png"
    common = _chromium(tmp_path)
    sizes = _probe(common, page)
    for fig_id in FIGURE_IDS:
        assert sizes.get(fig_id), f"{fig_id}: no SVG rendered"
        width, height, shapes = sizes[fig_id]
        assert width > 200 and height > 80, f"{fig_id}: rendered {width}x{height}"
        assert shapes > 10, f"{fig_id}: only {shapes} shapes drawn"
    done = subprocess.run(
        [*common, f"--screenshot={shot}", (tmp_path / "probe.html").as_uri()],
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0 and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_report_on_the_sample_landing_zone(cfg: Config, tmp_path: Path) -> None:
    """End to end on data_samples/landing: ingest and run the pipeline, then the report; tier
    counts checked against the warehouse with SQL written here."""
    landing = tmp_path / "landing"
    shutil.copytree(REPO / "data_samples" / "landing", landing)
    env = ["--warehouse", str(cfg.paths.warehouse)]
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "ingest",
            "--from",
            "2026-11-23",
            "--to",
            "2026-11-27",
            "--landing-dir",
            str(landing),
            *env,
        ],
    )
    assert result.exit_code == 0, result.output
    result = runner.invoke(
        app,
        [
            "run",
            "--date",
            "2026-11-27",
            "--landing-dir",
            str(landing),
            "--export-dir",
            str(cfg.paths.export_dir),
            *env,
        ],
    )
    assert result.exit_code == 0, result.output
    path = write_report(cfg, DAY)
    html = path.read_text(encoding="utf-8")
    con = duckdb.connect(str(cfg.paths.warehouse), read_only=True)
    expected = con.execute(
        "select tier, count(*) from int_customer_tiers where business_date = $d "
        "group by tier order by min(tier_rank)",
        {"d": DAY},
    ).fetchall()
    con.close()
    rows = parse(html).tables["tbl-tiers"]
    assert [(r[0], int(r[1].replace(",", ""))) for r in rows] == expected
    for fig_id in FIGURE_IDS:
        assert f'<figure id="{fig_id}"' in html


def test_a_warehouse_before_economic_profit_still_reports(cfg: Config) -> None:
    """Tables written before the economic-profit columns: the report shows "—" for them."""
    cfg.paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(cfg.paths.warehouse))
    migrate(con)
    con.execute(HAND_MADE)
    for table, column in (
        ("int_customer_tiers", "economic_profit_amount"),
        ("int_customer_contribution", "economic_profit_amount"),
        ("int_customer_contribution", "capital_charge_amount"),
        ("int_customer_contribution", "reserve_cost_amount"),
        ("int_customer_contribution", "history_days"),
        ("int_rm_scorecard", "book_economic_profit_amount"),
        ("int_branch_summary", "economic_profit_amount"),
        ("int_branch_summary", "capital_charge_amount"),
    ):
        con.execute(f"alter table {table} drop column {column}")
    con.close()
    html = build_report_html(cfg, DAY)
    assert "not available" not in html
    assert "contribution CNY 1 k a year (window 2025-12-01 to 2026-11-27, annualised), over" in (
        caption(html, "fig-components")
    )
    assert parse(html).tables["tbl-branches"][0][4:6] == ["750", "—"]
    assert "economic profit" not in caption(html, "fig-branches")


# --- the report in Chinese (issue #17) and from templates with autoescaping (issue #19) ---


@pytest.fixture(scope="module")
def html_zh(warehouse: Config) -> str:
    return build_report_html(warehouse, DAY, "zh")


def visible_text(html: str) -> str:
    """The page's text without the figures' SVG and the CSS."""
    html = re.sub(r"<svg.*?</svg>|<style>.*?</style>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_every_catalogue_has_the_same_keys_and_placeholders() -> None:
    english = catalogue("en")
    for lang in LANGUAGES:
        messages = catalogue(lang)
        assert set(messages) == set(english), (
            f"{lang}: missing {sorted(set(english) - set(messages))}, "
            f"extra {sorted(set(messages) - set(english))}"
        )
        for key, text in messages.items():
            assert placeholders(text) == placeholders(english[key]), f"{lang}: {key}"


def test_chinese_report_keeps_the_numbers_and_speaks_chinese(html_zh: str) -> None:
    assert '<html lang="zh-CN">' in html_zh
    assert "<title>客户价值报告 2026-11-27</title>" in html_zh
    # the hand-worked tier table of test_tier_table_counts_customers_and_contribution, with the
    # tiers' Chinese names and exact whole yuan
    rows = parse(html_zh).tables["tbl-tiers"]
    assert rows[0][:6] == ["金卡", "2", "40.0%", "900", "90.0%", "750"]
    assert rows[1][:6] == ["大众", "3", "60.0%", "100", "10.0%", "100"]
    text = caption(html_zh, "fig-tiers")
    assert "共 5 位客户，年度贡献度合计 1,000元，经济利润 850元。" in text
    assert "各层级客户数：金卡 2；大众 3。" in text
    assert "9 M" not in caption(html_zh, "fig-merchants")
    assert "年经营流水 900万元" in caption(html_zh, "fig-merchants")  # 2 M + 6 M + 1 M
    kpis = re.findall(r'<div class="v">([^<]*)</div><div class="k">([^<]*)</div>', html_zh)
    assert ("1,000元", "年度利润贡献度") in kpis
    assert "客户经理排行榜" in html_zh and "网点" in html_zh
    assert parse(html_zh).tables["tbl-dq-reconciliation"] == [
        ["手续费", "1.00", "1.00", "0.000000", "是"]
    ]


def test_chinese_report_has_no_english_from_the_catalogue(html_zh: str) -> None:
    page = visible_text(html_zh)
    left = []
    for key, text in catalogue("en").items():
        # runs of two or more English words (a single word may be a name: Spearman, AUC)
        literal = re.sub(r"\{[^}]*\}|<[^>]+>|&amp;", "|", text)
        for run in re.findall(r"[A-Za-z]{3,}(?: [A-Za-z]+)+", literal):
            if run in page:
                left.append(f"{key}: {run}")
    assert not left


def test_money_in_chinese_counts_in_wan_and_yi() -> None:
    # 10⁴ 万, 10⁸ 亿, three significant places; below 万 whole yuan
    assert cny_short(1_234_567, lang="zh") == "123万元"
    assert cny_short(-250_000_000, unit=False, lang="zh") == "−2.5亿"
    assert cny_short(9_999, lang="zh") == "9,999元"
    assert cny_short(12_345, lang="zh") == "1.23万元"
    assert cny_short(1_234_567, lang="en") == "CNY 1.23 M"


def test_names_from_the_data_are_escaped(cfg: Config) -> None:
    cfg.paths.warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(cfg.paths.warehouse))
    migrate(con)
    con.execute(HAND_MADE)
    con.execute(
        "update hist_branches set name = '<script>alert(1)</script> & Co' where branch_id = 'BR1';"
        "update int_rm_scorecard set rm_id = '<b onclick=x>RM1' where rm_id = 'RM1'"
    )
    con.close()
    html = build_report_html(cfg, DAY, "zh")
    assert "<script" not in html.lower() and "<b onclick" not in html
    assert parse(html).tables["tbl-branches"][0][1] == "<script>alert(1)</script> & Co"
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in html
    assert "&lt;b onclick=x&gt;RM1 居首" in html


def test_chinese_labels_are_glyph_outlines_in_the_figures(html_zh: str) -> None:
    from matplotlib.ft2font import FT2Font

    from pipeline.report.fonts import font_file

    with font_file() as path:
        font = FT2Font(str(path))
    assert "<text" not in html_zh  # every label drawn as paths: no font needed to read it
    svg = re.search(r'<figure id="fig-tiers">(.*?)</figure>', html_zh, re.S)
    assert svg
    for char in "客户数贡献度":  # the two panels' titles
        glyph = f'id="svg-tiers-NotoSansSC-Regular-{font.get_char_index(ord(char)):x}"'
        assert glyph in svg.group(1), char


def test_cli_report_language_from_flag_and_config(warehouse: Config, tmp_path: Path) -> None:
    runner = CliRunner()
    config = tmp_path / "zh.yaml"
    config.write_text(
        (REPO / "configs" / "default.yaml").read_text().replace("  lang: en ", "  lang: zh ")
    )
    wh = ["--warehouse", str(warehouse.paths.warehouse), "--date", "2026-11-27"]
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *wh, "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "<title>客户价值报告 2026-11-27</title>" in out.read_text(encoding="utf-8")
    result = runner.invoke(
        app, ["report", *wh, "--config", str(config), "--out", str(out), "--lang", "en"]
    )
    assert result.exit_code == 0, result.output
    assert "<title>Customer value report 2026-11-27</title>" in out.read_text(encoding="utf-8")
    config.write_text(config.read_text().replace("  lang: zh ", "  lang: fr "))
    result = runner.invoke(app, ["report", *wh, "--config", str(config)])
    assert result.exit_code == 1 and "report.lang" in result.output


CJK_PROBE = """<script>
const cjk = new Set(%s);
const out = {};
for (const f of document.querySelectorAll('figure[id]')) {
  let drawn = 0;
  for (const u of f.querySelectorAll('svg use')) {
    const ref = u.getAttribute('xlink:href') || u.getAttribute('href') || '';
    const r = u.getBoundingClientRect();
    if (cjk.has(ref.split('NotoSansSC-Regular-')[1]) && r.width > 0 && r.height > 0) drawn++;
  }
  out[f.id] = drawn;
}
const pre = document.createElement('pre');
pre.id = 'probe';
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
)
def test_headless_chromium_draws_the_chinese_figures(html_zh: str, tmp_path: Path) -> None:
    """Every figure of the Chinese report is laid out with its Chinese glyphs drawn (each a
    <use> of a Noto Sans SC outline with a non-empty box), whatever fonts the machine has."""
    from matplotlib.ft2font import FT2Font

    from pipeline.report.fonts import font_file

    with font_file() as path:
        font = FT2Font(str(path))
    chars = {c for text in catalogue("zh").values() for c in text if ord(c) >= 0x4E00}
    ids = sorted(f"{font.get_char_index(ord(c)):x}" for c in chars)
    page = tmp_path / "zh.html"
    page.write_text(html_zh.replace("</body>", CJK_PROBE % json.dumps(ids) + "</body>"), "utf-8")
    drawn = _probe(_chromium(tmp_path), page)
    for fig_id in FIGURE_IDS:
        assert drawn.get(fig_id, 0) >= 2, f"{fig_id}: {drawn.get(fig_id)} Chinese glyphs drawn"
