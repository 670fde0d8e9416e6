-- table:  agg_customer_feature_parts
-- grain:  customer_id, window_month, part
-- inputs: agg_account_balance_month, agg_account_balance_month_current, agg_customer_txn_month, agg_customer_txn_month_current
-- params: customer_from, customer_to, month_from, month_to, month_start, business_date, recent_start, regular_inflow_min_amount
-- materialize: table
-- Additive per-customer sums of the customer view over a range of months, so a window is the
-- sum of its parts: the closed months of the window (part 'closed', computed once per window
-- month and reused every night of that month unless a month is refreshed) and the business
-- date's month to date (part 'current', recomputed each night into the run's temp table
-- agg_customer_feature_parts_current, not stored). Written part by part by
-- pipeline/stages/features.py (columns window_month, part, as_of_date added there). Every
-- column is a sum or a count of months, so parts add up exactly.
-- Written one range of customers at a time (customer_id from $customer_from, before
-- $customer_to, on every per-customer input; pipeline/stages/features.py, part_ranges): a
-- pass groups a range's customers, and reads only their row groups (inputs in customer order).
with
balances as (
    select *
    from agg_account_balance_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_account_balance_month_current
    where month_start between $month_from and $month_to and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
txns as (
    select *
    from agg_customer_txn_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_txn_month_current
    where month_start between $month_from and $month_to and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
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
           sum(txn_count) as txn_count, sum(txn_amount) as txn_amount,
           sum(ctr_txn_count) as ctr_txn_count, sum(atm_txn_count) as atm_txn_count,
           sum(tel_txn_count) as tel_txn_count, sum(net_txn_count) as net_txn_count,
           sum(pos_txn_count) as pos_txn_count, sum(ctr_amount) as ctr_amount,
           sum(atm_amount) as atm_amount, sum(tel_amount) as tel_amount,
           sum(net_amount) as net_amount, sum(pos_amount) as pos_amount,
           sum(dep_txn_count) as dep_txn_count, sum(wdl_txn_count) as wdl_txn_count,
           sum(tri_txn_count) as tri_txn_count, sum(tro_txn_count) as tro_txn_count,
           sum(pay_txn_count) as pay_txn_count, sum(pos_purchase_count) as pos_purchase_count,
           sum(product_txn_count) as product_txn_count, sum(loan_txn_count) as loan_txn_count,
           sum(qry_txn_count) as qry_txn_count, sum(tri_amount) as tri_amount,
           sum(tro_amount) as tro_amount, sum(inflow_amount) as inflow_amount,
           sum(outflow_amount) as outflow_amount, sum(fee_amount) as fee_amount,
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
    -- A cast overflow fails.
    select coalesce(b.customer_id, t.customer_id) as customer_id,
           cast(bd_dda as decimal(18, 2)) as bd_dda,
           cast(bd_tda as decimal(18, 2)) as bd_tda,
           cast(bd_wmp as decimal(18, 2)) as bd_wmp,
           cast(bd_fnd as decimal(18, 2)) as bd_fnd,
           cast(bd_ins as decimal(18, 2)) as bd_ins,
           cast(bd_ccd as decimal(18, 2)) as bd_ccd,
           cast(bd_pln as decimal(18, 2)) as bd_pln,
           cast(bd_mtg as decimal(18, 2)) as bd_mtg,
           cast(bd_bln as decimal(18, 2)) as bd_bln,
           cast(txn_amount as decimal(18, 2)) as txn_amount,
           cast(ctr_amount as decimal(18, 2)) as ctr_amount,
           cast(atm_amount as decimal(18, 2)) as atm_amount,
           cast(tel_amount as decimal(18, 2)) as tel_amount,
           cast(net_amount as decimal(18, 2)) as net_amount,
           cast(pos_amount as decimal(18, 2)) as pos_amount,
           cast(tri_amount as decimal(18, 2)) as tri_amount,
           cast(tro_amount as decimal(18, 2)) as tro_amount,
           cast(inflow_amount as decimal(18, 2)) as inflow_amount,
           cast(outflow_amount as decimal(18, 2)) as outflow_amount,
           cast(fee_amount as decimal(18, 2)) as fee_amount,
           cast(recent_amount as decimal(18, 2)) as recent_amount,
           cast(earlier_amount as decimal(18, 2)) as earlier_amount,
           cast(regular_inflow_amount as decimal(18, 2)) as regular_inflow_amount,
           cast(txn_count as bigint) as txn_count,
           cast(ctr_txn_count as bigint) as ctr_txn_count,
           cast(atm_txn_count as bigint) as atm_txn_count,
           cast(tel_txn_count as bigint) as tel_txn_count,
           cast(net_txn_count as bigint) as net_txn_count,
           cast(pos_txn_count as bigint) as pos_txn_count,
           cast(dep_txn_count as bigint) as dep_txn_count,
           cast(wdl_txn_count as bigint) as wdl_txn_count,
           cast(tri_txn_count as bigint) as tri_txn_count,
           cast(tro_txn_count as bigint) as tro_txn_count,
           cast(pay_txn_count as bigint) as pay_txn_count,
           cast(pos_purchase_count as bigint) as pos_purchase_count,
           cast(product_txn_count as bigint) as product_txn_count,
           cast(loan_txn_count as bigint) as loan_txn_count,
           cast(qry_txn_count as bigint) as qry_txn_count,
           cast(recent_txn_count as bigint) as recent_txn_count,
           cast(earlier_txn_count as bigint) as earlier_txn_count,
           cast(active_months as bigint) as active_months,
           cast(regular_inflow_months as bigint) as regular_inflow_months
    from balance_sums b
    full outer join txn_sums t on t.customer_id = b.customer_id
)
select * from final
