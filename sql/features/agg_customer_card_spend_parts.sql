-- table:  agg_customer_card_spend_parts
-- grain:  customer_id, window_month, part, mcc_category
-- inputs: agg_customer_txn_month, agg_customer_txn_month_current
-- params: month_from, month_to, month_start, business_date
-- materialize: table
-- Card spending (POS purchases) per customer and merchant category over a range of months:
-- one part of a window (closed months, or the month to date), written part by part by
-- pipeline/stages/features.py like agg_customer_feature_parts. Additive across parts.
with
txns as (
    select *
    from agg_customer_txn_month
    where txn_code = 'POS'
      and month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_txn_month_current
    where txn_code = 'POS'
      and month_start between $month_from and $month_to and as_of_date = $business_date
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
