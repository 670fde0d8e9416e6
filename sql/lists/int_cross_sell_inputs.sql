-- table:  int_cross_sell_inputs
-- grain:  customer_id, business_date
-- inputs: int_customer_features, hist_accounts
-- params: business_date
-- materialize: partition
-- What the next-best-product models learn from, one row per active customer: which products
-- they hold at the business date (holds_<product>: an account of the product open at the date,
-- from the account versions valid then) and product-neutral features: age, occupation,
-- education, tenure, demand-deposit balance, channel use, card spending, inflows and their
-- trend. Totals that include a modelled product (AUM, loans outstanding, products held,
-- product and loan transaction counts) are left out on purpose: they would reveal the answer
-- (models/cross_sell.py, leakage contract).
with
features as (
    select customer_id, age_years as age, gender, occupation, education, industry,
           tenure_months, adb_dda_amount, ctr_txn_count, atm_txn_count, tel_txn_count,
           net_txn_count, pos_txn_count, pos_amount, pay_txn_count, tri_amount, inflow_amount,
           has_regular_inflow, top_mcc_category, amount_trend_ratio, count_trend_ratio,
           active_months
    from int_customer_features
    where business_date = $business_date and status = 'A'
),

holdings as (
    select customer_id,
           bool_or(product_code = 'DDA') as holds_dda,
           bool_or(product_code = 'TDA') as holds_tda,
           bool_or(product_code = 'WMP') as holds_wmp,
           bool_or(product_code = 'FND') as holds_fnd,
           bool_or(product_code = 'INS') as holds_ins,
           bool_or(product_code = 'CCD') as holds_ccd,
           bool_or(product_code = 'PLN') as holds_pln,
           bool_or(product_code = 'MTG') as holds_mtg,
           bool_or(product_code = 'BLN') as holds_bln
    from hist_accounts
    where valid_from <= $business_date and valid_to > $business_date
      and status <> 'C'
      and (close_date is null or close_date > $business_date)
    group by customer_id
),

final as (
    select
        f.customer_id,
        cast($business_date as date) as business_date,
        coalesce(h.holds_dda, false) as holds_dda,
        coalesce(h.holds_tda, false) as holds_tda,
        coalesce(h.holds_wmp, false) as holds_wmp,
        coalesce(h.holds_fnd, false) as holds_fnd,
        coalesce(h.holds_ins, false) as holds_ins,
        coalesce(h.holds_ccd, false) as holds_ccd,
        coalesce(h.holds_pln, false) as holds_pln,
        coalesce(h.holds_mtg, false) as holds_mtg,
        coalesce(h.holds_bln, false) as holds_bln,
        f.age, f.gender, f.occupation, f.education, f.industry, f.tenure_months,
        cast(f.adb_dda_amount as double) as adb_dda_amount,
        f.ctr_txn_count, f.atm_txn_count, f.tel_txn_count, f.net_txn_count, f.pos_txn_count,
        cast(f.pos_amount as double) as pos_amount,
        f.pay_txn_count,
        cast(f.tri_amount as double) as tri_amount,
        cast(f.inflow_amount as double) as inflow_amount,
        f.has_regular_inflow,
        f.top_mcc_category,
        cast(f.amount_trend_ratio as double) as amount_trend_ratio,
        cast(f.count_trend_ratio as double) as count_trend_ratio,
        f.active_months
    from features as f
    left join holdings as h on h.customer_id = f.customer_id
)

select * from final
