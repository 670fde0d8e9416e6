-- table:  agg_customer_card_spend_parts
-- grain:  customer_id, window_month, part, mcc_category
-- inputs: agg_customer_txn_month, agg_customer_txn_month_current
-- params: customer_from, customer_to, month_from, month_to, month_start, business_date
-- materialize: table
-- Card spending (POS purchases) per customer and merchant category over a range of months:
-- one part of a window (closed months, or the month to date), written part by part by
-- pipeline/stages/features.py like agg_customer_feature_parts. Additive across parts.
-- Written one range of customers at a time (customer_id from $customer_from, before
-- $customer_to, on every per-customer input; pipeline/stages/features.py, part_ranges): a
-- pass groups a range's customers, and reads only their row groups (inputs in customer order).
with
txns as (
    select *
    from agg_customer_txn_month
    where txn_code = 'POS'
      and month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_txn_month_current
    where txn_code = 'POS'
      and month_start between $month_from and $month_to and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
final as (
    select customer_id, mcc_category,
           cast(sum(txn_count) as bigint) as txn_count,  -- stored narrow: read back fast
           cast(sum(amount) as decimal(18, 2)) as spend_amount,
           count(distinct month_start) as active_months
    from txns
    group by customer_id, mcc_category
)
select * from final
