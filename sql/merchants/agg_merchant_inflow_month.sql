-- table:  agg_merchant_inflow_month
-- grain:  customer_id, month_start
-- inputs: stg_transactions
-- params: month_from, month_to, as_of
-- materialize: table
-- Credits per customer and month of their delivery (business_date): the merchants stage's
-- cheap screen for candidates. Kept incrementally by pipeline/stages/merchants.py like the
-- features' monthly aggregates: a closed month is computed once and recomputed only when
-- agg_refresh_log shows a TXN delivery for one of its dates loaded after its last refresh; the
-- month to date is summed from the raw rows every night and not stored. A late posting counts
-- in the month it was delivered, so a closed month never changes once its deliveries are in.
-- credit_amount counts every credit that may be an inflow from others (not LDR, PRR, nor from
-- the customer's own id): an upper bound of the signals' inflow, which also leaves out own
-- accounts and own-name transfers; the bound only decides whose transactions are read.
with
credits as (
    select
        customer_id,
        cast(date_trunc('month', business_date) as date) as month_start,
        amount
    from stg_transactions
    where
        business_date between cast($month_from as date)
        and least(cast(cast($month_to as date) + interval 1 month as date) - 1, cast($as_of as date))
        and direction = 'C'
        and txn_code not in ('LDR', 'PRR')
        and not coalesce(counterparty_customer_id = customer_id, false)
),

final as (
    select
        customer_id,
        month_start,
        cast($as_of as date) as as_of_date,
        cast(sum(amount) as decimal(18, 2)) as credit_amount,
        count(*) as credit_count
    from credits
    group by customer_id, month_start
)

select * from final
