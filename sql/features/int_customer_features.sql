-- table:  int_customer_features
-- grain:  customer_id, business_date
-- inputs: agg_account_balance_month, agg_customer_txn_month, hist_customers, ref_age_bands
-- params: business_date, window_start, month_start, recent_start, regular_inflow_min_amount, regular_inflow_min_months
-- materialize: partition
-- The customer view shared by every later stage, over the trailing window (configs: features):
-- the closed months from window_start (as_of_date = month end) plus the business date's month
-- to date (as_of_date = business_date), read from the monthly aggregates, never raw history.
-- Average daily balance = balance-days / days in the window. AUM = deposits, wealth products,
-- funds and insurance. Trend = average month of the recent months against the earlier ones.
-- Customers are those with a customer version valid at the business date.
with
customers as (
    select customer_id, gender, birth_date, education, occupation, industry, region_code,
           home_branch_id, rm_id, open_date, business_license, marketing_consent, status,
           date_diff('year', birth_date, cast($business_date as date))
               - case when strftime(cast($business_date as date), '%m%d')
                           < strftime(birth_date, '%m%d') then 1 else 0 end as age_years
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date
),
balances as (
    select *
    from agg_account_balance_month
    where (month_start >= $window_start and month_start < $month_start
           and as_of_date = cast(month_start + interval 1 month as date) - 1)
       or (month_start = $month_start and as_of_date = $business_date)
),
txns as (
    select *
    from agg_customer_txn_month
    where (month_start >= $window_start and month_start < $month_start
           and as_of_date = cast(month_start + interval 1 month as date) - 1)
       or (month_start = $month_start and as_of_date = $business_date)
),
window_days as (
    select datediff('day', cast($window_start as date), cast($business_date as date)) + 1
        as days
),
balance_features as (
    select customer_id,
           sum(balance_days) filter (where product_code = 'DDA') as bd_dda,
           sum(balance_days) filter (where product_code = 'TDA') as bd_tda,
           sum(balance_days) filter (where product_code = 'WMP') as bd_wmp,
           sum(balance_days) filter (where product_code = 'FND') as bd_fnd,
           sum(balance_days) filter (where product_code = 'INS') as bd_ins,
           sum(balance_days) filter (where product_code = 'CCD') as bd_ccd,
           sum(balance_days) filter (where product_code = 'PLN') as bd_pln,
           sum(balance_days) filter (where product_code = 'MTG') as bd_mtg,
           sum(balance_days) filter (where product_code = 'BLN') as bd_bln,
           sum(closing_balance) filter (where month_start = $month_start
               and product_code in ('DDA', 'TDA', 'WMP', 'FND', 'INS')) as aum_closing_amount,
           sum(closing_balance) filter (where month_start = $month_start
               and product_code in ('CCD', 'PLN', 'MTG', 'BLN')) as loans_outstanding_amount,
           count(distinct product_code) filter (where month_start = $month_start
               and closing_balance > 0) as products_held,
           string_agg(distinct product_code, ',' order by product_code)
               filter (where month_start = $month_start and closing_balance > 0)
               as products_held_list,
           count(distinct account_id) filter (where month_start = $month_start) as accounts_held,
           max(max_days_past_due) filter (where month_start = $month_start)
               as max_days_past_due
    from balances
    group by customer_id
),
txn_features as (
    select customer_id,
           sum(txn_count) as txn_count,
           sum(amount) filter (where direction <> 'N') as txn_amount,
           sum(txn_count) filter (where channel = 'CTR') as ctr_txn_count,
           sum(txn_count) filter (where channel = 'ATM') as atm_txn_count,
           sum(txn_count) filter (where channel = 'TEL') as tel_txn_count,
           sum(txn_count) filter (where channel = 'NET') as net_txn_count,
           sum(txn_count) filter (where channel = 'POS') as pos_txn_count,
           sum(amount) filter (where channel = 'CTR') as ctr_amount,
           sum(amount) filter (where channel = 'ATM') as atm_amount,
           sum(amount) filter (where channel = 'TEL') as tel_amount,
           sum(amount) filter (where channel = 'NET') as net_amount,
           sum(amount) filter (where channel = 'POS') as pos_amount,
           sum(txn_count) filter (where txn_code = 'DEP') as dep_txn_count,
           sum(txn_count) filter (where txn_code = 'WDL') as wdl_txn_count,
           sum(txn_count) filter (where txn_code = 'TRI') as tri_txn_count,
           sum(txn_count) filter (where txn_code = 'TRO') as tro_txn_count,
           sum(txn_count) filter (where txn_code = 'PAY') as pay_txn_count,
           sum(txn_count) filter (where txn_code = 'POS') as pos_purchase_count,
           sum(txn_count) filter (where txn_code in ('PRB', 'PRR')) as product_txn_count,
           sum(txn_count) filter (where txn_code in ('LDR', 'LRP')) as loan_txn_count,
           sum(txn_count) filter (where txn_code = 'QRY') as qry_txn_count,
           sum(amount) filter (where txn_code = 'TRI') as tri_amount,
           sum(amount) filter (where txn_code = 'TRO') as tro_amount,
           sum(amount) filter (where direction = 'C') as inflow_amount,
           sum(amount) filter (where direction = 'D') as outflow_amount,
           sum(fee_amount) as fee_amount,
           sum(amount) filter (where direction <> 'N' and month_start >= $recent_start)
               as recent_amount,
           sum(amount) filter (where direction <> 'N' and month_start < $recent_start)
               as earlier_amount,
           sum(txn_count) filter (where month_start >= $recent_start) as recent_txn_count,
           sum(txn_count) filter (where month_start < $recent_start) as earlier_txn_count,
           count(distinct month_start) as active_months
    from txns
    group by customer_id
),
inflow_months as (
    select customer_id, month_start, sum(amount) as tri_month_amount
    from txns
    where txn_code = 'TRI'
    group by customer_id, month_start
),
regular_inflow as (
    select customer_id,
           count(*) filter (where tri_month_amount >= $regular_inflow_min_amount)
               as regular_inflow_months,
           avg(tri_month_amount) filter (where tri_month_amount >= $regular_inflow_min_amount)
               as regular_inflow_month_amount
    from inflow_months
    group by customer_id
),
card_spend as (
    select customer_id, arg_max(mcc_category, amount) as top_mcc_category
    from (
        select customer_id, mcc_category, sum(amount) as amount
        from txns
        where txn_code = 'POS'
        group by customer_id, mcc_category
    ) s
    group by customer_id
),
months_in_window as (
    select datediff('month', cast($window_start as date), cast($month_start as date)) + 1
               as total_months,
           datediff('month', cast($recent_start as date), cast($month_start as date)) + 1
               as recent_months
),
final as (
    select c.customer_id,
           cast($business_date as date) as business_date,
           cast($window_start as date) as window_start,
           cast($business_date as date) as window_end,
           w.days as window_days,
           c.home_branch_id, c.rm_id, c.gender, c.education, c.occupation, c.industry,
           c.region_code, c.business_license, c.marketing_consent, c.status,
           c.age_years,
           coalesce(ab.age_band, 'unknown') as age_band,
           datediff('month', c.open_date, cast($business_date as date)) as tenure_months,
           cast(coalesce(b.bd_dda, 0) / w.days as decimal(18, 2)) as adb_dda_amount,
           cast(coalesce(b.bd_tda, 0) / w.days as decimal(18, 2)) as adb_tda_amount,
           cast(coalesce(b.bd_wmp, 0) / w.days as decimal(18, 2)) as adb_wmp_amount,
           cast(coalesce(b.bd_fnd, 0) / w.days as decimal(18, 2)) as adb_fnd_amount,
           cast(coalesce(b.bd_ins, 0) / w.days as decimal(18, 2)) as adb_ins_amount,
           cast(coalesce(b.bd_ccd, 0) / w.days as decimal(18, 2)) as adb_ccd_amount,
           cast(coalesce(b.bd_pln, 0) / w.days as decimal(18, 2)) as adb_pln_amount,
           cast(coalesce(b.bd_mtg, 0) / w.days as decimal(18, 2)) as adb_mtg_amount,
           cast(coalesce(b.bd_bln, 0) / w.days as decimal(18, 2)) as adb_bln_amount,
           cast((coalesce(b.bd_dda, 0) + coalesce(b.bd_tda, 0) + coalesce(b.bd_wmp, 0)
                 + coalesce(b.bd_fnd, 0) + coalesce(b.bd_ins, 0)) / w.days
                as decimal(18, 2)) as aum_amount,
           cast((coalesce(b.bd_ccd, 0) + coalesce(b.bd_pln, 0) + coalesce(b.bd_mtg, 0)
                 + coalesce(b.bd_bln, 0)) / w.days as decimal(18, 2)) as adb_loans_amount,
           coalesce(b.aum_closing_amount, 0) as aum_closing_amount,
           coalesce(b.loans_outstanding_amount, 0) as loans_outstanding_amount,
           cast(coalesce(b.products_held, 0) as integer) as products_held,
           coalesce(b.products_held_list, '') as products_held_list,
           cast(coalesce(b.accounts_held, 0) as integer) as accounts_held,
           coalesce(b.max_days_past_due, 0) as max_days_past_due,
           cast(coalesce(t.txn_count, 0) as bigint) as txn_count,
           coalesce(t.txn_amount, 0) as txn_amount,
           cast(coalesce(t.ctr_txn_count, 0) as bigint) as ctr_txn_count,
           cast(coalesce(t.atm_txn_count, 0) as bigint) as atm_txn_count,
           cast(coalesce(t.tel_txn_count, 0) as bigint) as tel_txn_count,
           cast(coalesce(t.net_txn_count, 0) as bigint) as net_txn_count,
           cast(coalesce(t.pos_txn_count, 0) as bigint) as pos_txn_count,
           coalesce(t.ctr_amount, 0) as ctr_amount,
           coalesce(t.atm_amount, 0) as atm_amount,
           coalesce(t.tel_amount, 0) as tel_amount,
           coalesce(t.net_amount, 0) as net_amount,
           coalesce(t.pos_amount, 0) as pos_amount,
           cast(coalesce(t.dep_txn_count, 0) as bigint) as dep_txn_count,
           cast(coalesce(t.wdl_txn_count, 0) as bigint) as wdl_txn_count,
           cast(coalesce(t.tri_txn_count, 0) as bigint) as tri_txn_count,
           cast(coalesce(t.tro_txn_count, 0) as bigint) as tro_txn_count,
           cast(coalesce(t.pay_txn_count, 0) as bigint) as pay_txn_count,
           cast(coalesce(t.pos_purchase_count, 0) as bigint) as pos_purchase_count,
           cast(coalesce(t.product_txn_count, 0) as bigint) as product_txn_count,
           cast(coalesce(t.loan_txn_count, 0) as bigint) as loan_txn_count,
           cast(coalesce(t.qry_txn_count, 0) as bigint) as qry_txn_count,
           coalesce(t.tri_amount, 0) as tri_amount,
           coalesce(t.tro_amount, 0) as tro_amount,
           coalesce(t.inflow_amount, 0) as inflow_amount,
           coalesce(t.outflow_amount, 0) as outflow_amount,
           coalesce(t.fee_amount, 0) as fee_amount,
           cast(coalesce(t.active_months, 0) as integer) as active_months,
           cast(coalesce(r.regular_inflow_months, 0) as integer) as regular_inflow_months,
           cast(coalesce(r.regular_inflow_month_amount, 0) as decimal(18, 2))
               as regular_inflow_month_amount,
           coalesce(r.regular_inflow_months, 0) >= $regular_inflow_min_months
               as has_regular_inflow,
           cs.top_mcc_category,
           cast(coalesce(t.recent_amount, 0) / m.recent_months as decimal(18, 2))
               as recent_month_amount,
           cast(coalesce(t.earlier_amount, 0) / (m.total_months - m.recent_months)
                as decimal(18, 2)) as earlier_month_amount,
           case when coalesce(t.earlier_amount, 0) > 0
                then round((coalesce(t.recent_amount, 0) / m.recent_months)
                           / (t.earlier_amount / (m.total_months - m.recent_months)), 4)
           end as amount_trend_ratio,
           case when coalesce(t.earlier_txn_count, 0) > 0
                then round((coalesce(t.recent_txn_count, 0) / m.recent_months)
                           / (t.earlier_txn_count / (m.total_months - m.recent_months)), 4)
           end as count_trend_ratio
    from customers c
    cross join window_days w
    cross join months_in_window m
    left join balance_features b on b.customer_id = c.customer_id
    left join txn_features t on t.customer_id = c.customer_id
    left join regular_inflow r on r.customer_id = c.customer_id
    left join card_spend cs on cs.customer_id = c.customer_id
    left join ref_age_bands ab on c.age_years >= ab.min_age and c.age_years < ab.max_age
)
select * from final
