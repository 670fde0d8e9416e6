-- table:  int_customer_card_spend
-- grain:  customer_id, business_date, mcc_category
-- inputs: agg_customer_card_spend_parts
-- params: business_date, month_start
-- materialize: partition
-- Card spending (POS purchases) by merchant category over the trailing window: count, amount,
-- months with spending and the category's share of the customer's card spending (DESIGN.md
-- point 6); the sum of the window's parts. Categories come from configs
-- (features.mcc_categories); unlisted MCCs are 'other'.
with
parts as (
    select *
    from agg_customer_card_spend_parts
    where window_month = $month_start
      and (part = 'closed' or (part = 'current' and as_of_date = $business_date))
),
by_category as (
    select customer_id, mcc_category, sum(txn_count) as txn_count,
           sum(spend_amount) as spend_amount, sum(active_months) as active_months
    from parts
    group by customer_id, mcc_category
),
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           mcc_category,
           cast(txn_count as bigint) as txn_count,
           spend_amount,
           cast(active_months as integer) as active_months,
           round(spend_amount / nullif(sum(spend_amount) over (partition by customer_id), 0), 6)
               as spend_share
    from by_category
)
select * from final
