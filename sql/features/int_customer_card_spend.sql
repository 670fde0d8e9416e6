-- table:  int_customer_card_spend
-- grain:  customer_id, business_date, mcc_category
-- inputs: agg_customer_txn_month
-- params: business_date, window_start, month_start
-- materialize: partition
-- Card spending (POS purchases) by merchant category over the trailing window: count, amount
-- and the category's share of the customer's card spending (DESIGN.md point 6). Categories
-- come from configs (features.mcc_categories); unlisted MCCs are 'other'.
with
txns as (
    select *
    from agg_customer_txn_month
    where txn_code = 'POS'
      and ((month_start >= $window_start and month_start < $month_start
            and as_of_date = cast(month_start + interval 1 month as date) - 1)
           or (month_start = $month_start and as_of_date = $business_date))
),
by_category as (
    select customer_id, mcc_category, sum(txn_count) as txn_count, sum(amount) as amount,
           count(distinct month_start) as active_months
    from txns
    group by customer_id, mcc_category
),
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           mcc_category,
           txn_count,
           amount as spend_amount,
           active_months,
           round(amount / nullif(sum(amount) over (partition by customer_id), 0), 6)
               as spend_share
    from by_category
)
select * from final
