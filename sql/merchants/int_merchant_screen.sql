-- table:  int_merchant_screen
-- grain:  customer_id
-- inputs: agg_merchant_inflow_month, stg_transactions, hist_customers
-- params: business_date, window_days, annualise, candidate_min_amount
-- materialize: table
-- The customers who may be candidates on the business date, with the first day of their
-- history in the window (history_start: the window start, the open date or the first
-- transaction in the warehouse's window, whichever is latest). The stage keeps it as a temp
-- table for the run. The screen: credits from closed months (agg_merchant_inflow_month, every
-- delivery month that can hold a window transaction, since a transaction is never delivered
-- before its date) plus the month to date, annualised over the history as the signals do.
-- That sum bounds the signals' inflow from above, so every customer whose yearly inflow
-- reaches candidate_min_amount is kept.
with
customers as (
    select customer_id, open_date
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date and status <> 'C'
),

first_day as (
    select min(txn_date) as first_txn_date
    from stg_transactions
    where
        business_date <= $business_date
        and txn_date <= $business_date
        and txn_date > $business_date - $window_days
),

history as (
    select
        c.customer_id,
        greatest(
            $business_date - $window_days + 1,
            coalesce(c.open_date, f.first_txn_date),
            f.first_txn_date
        ) as history_start
    from customers as c
    cross join first_day as f
),

closed_months as (
    select customer_id, credit_amount
    from agg_merchant_inflow_month
    where
        month_start >= date_trunc('month', $business_date - $window_days + 1)
        and month_start < date_trunc('month', $business_date)
),

month_to_date as (
    select customer_id, amount as credit_amount
    from stg_transactions
    where
        business_date between date_trunc('month', $business_date) and $business_date
        and direction = 'C'
        and txn_code not in ('LDR', 'PRR')
        and not coalesce(counterparty_customer_id = customer_id, false)
),

credits as (
    select customer_id, sum(credit_amount) as credit_amount
    from (select * from closed_months union all select * from month_to_date)
    group by customer_id
),

final as (
    select h.customer_id, h.history_start
    from credits as c
    inner join history as h on h.customer_id = c.customer_id
    where
        c.credit_amount
        * case
            when $annualise
            then 365.0 / cast(date_diff('day', h.history_start, $business_date) + 1 as double)
            else 1
        end
        >= $candidate_min_amount
)

select * from final
