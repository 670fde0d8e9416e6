-- table:  agg_customer_feature_parts
-- grain:  customer_id, window_month, part
-- inputs: agg_account_balance_month, agg_customer_txn_month
-- params: month_from, month_to, month_start, business_date, recent_start, regular_inflow_min_amount
-- materialize: table
-- Additive per-customer sums of the customer view over a range of months, so a window is the
-- sum of its parts: the closed months of the window (part 'closed', computed once per window
-- month and reused every night of that month unless a month is refreshed) and the business
-- date's month to date (part 'current', recomputed each night into the run's temp table
-- agg_customer_feature_parts_current, not stored). Written part by part by
-- pipeline/stages/features.py (columns window_month, part, as_of_date added there). Every
-- column is a sum or a count of months, so parts add up exactly.
with
balances as (
    select *
    from agg_account_balance_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
),
txns as (
    select *
    from agg_customer_txn_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
),
balance_sums as (
    select customer_id,
           sum(balance_days) filter (where product_code = 'DDA') as bd_dda,
           sum(balance_days) filter (where product_code = 'TDA') as bd_tda,
           sum(balance_days) filter (where product_code = 'WMP') as bd_wmp,
           sum(balance_days) filter (where product_code = 'FND') as bd_fnd,
           sum(balance_days) filter (where product_code = 'INS') as bd_ins,
           sum(balance_days) filter (where product_code = 'CCD') as bd_ccd,
           sum(balance_days) filter (where product_code = 'PLN') as bd_pln,
           sum(balance_days) filter (where product_code = 'MTG') as bd_mtg,
           sum(balance_days) filter (where product_code = 'BLN') as bd_bln
    from balances
    group by customer_id
),
txn_months as (
    -- per customer and month first, so active months and regular inflows need no distinct
    -- aggregate and no second pass over the transactions
    select customer_id, month_start,
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
           sum(fee_amount) as fee_amount
    from txns
    group by customer_id, month_start
),
txn_sums as (
    select customer_id,
           sum(columns(* exclude (customer_id, month_start))),
           sum(txn_amount) filter (where month_start >= $recent_start) as recent_amount,
           sum(txn_amount) filter (where month_start < $recent_start) as earlier_amount,
           sum(txn_count) filter (where month_start >= $recent_start) as recent_txn_count,
           sum(txn_count) filter (where month_start < $recent_start) as earlier_txn_count,
           count(*) as active_months,
           count(*) filter (where tri_amount >= $regular_inflow_min_amount)
               as regular_inflow_months,
           sum(tri_amount) filter (where tri_amount >= $regular_inflow_min_amount)
               as regular_inflow_amount
    from txn_months
    group by customer_id
),
final as (
    -- Stored narrow: DuckDB reads HUGEINT and DECIMAL(38, x) columns back some 20 times
    -- slower than BIGINT and DECIMAL(18, x), and one customer's sums stay far below 10^16.
    -- Every column is named bd_*, *_amount, *_count or *_months (a cast overflow fails).
    select coalesce(b.customer_id, t.customer_id) as customer_id,
           cast(columns('^bd_|_amount$') as decimal(18, 2)),
           cast(columns('_count$|_months$') as bigint)
    from balance_sums b
    full outer join txn_sums t on t.customer_id = b.customer_id
)
select * from final
