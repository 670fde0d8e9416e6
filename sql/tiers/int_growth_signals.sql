-- table:  int_growth_signals
-- grain:  customer_id, business_date
-- inputs: agg_customer_txn_month
-- params: business_date, last_closed_month, recent_months, prior_months
-- materialize: partition
-- The smoothed growth signal behind the INFLOW_GROWTH potential flag (models/tiers.py,
-- flag_potential): money coming in (DEP and TRI credits; not loan drawdowns LDR or product
-- redemptions PRR, which are the customer's own money or the bank's) over the last
-- recent_months closed months against the prior_months closed months before, as monthly
-- averages (configs: tiers.potential.trend_recent_months, trend_prior_months). Closed months
-- only (as_of_date = the month's last day), so the signal moves once a month, not with every
-- day of the month to date; inflow_months counts the months of both windows with any inflow.
with
months as (
    select customer_id, month_start, sum(amount) as inflow_amount
    from agg_customer_txn_month
    where direction = 'C' and txn_code in ('DEP', 'TRI')
      and month_start between cast(cast($last_closed_month as date)
                                   - to_months($recent_months + $prior_months - 1) as date)
                          and cast($last_closed_month as date)
      and as_of_date = last_day(month_start)
    group by customer_id, month_start
),

windows as (
    select customer_id,
           coalesce(sum(inflow_amount) filter (
               where month_start > cast(cast($last_closed_month as date)
                                        - to_months($recent_months) as date)), 0)
               as recent_inflow_amount,
           coalesce(sum(inflow_amount) filter (
               where month_start <= cast(cast($last_closed_month as date)
                                         - to_months($recent_months) as date)), 0)
               as prior_inflow_amount,
           count(*) filter (where inflow_amount > 0) as inflow_months
    from months
    group by customer_id
),

-- The monthly averages are money (to the cent); the ratio is of the unrounded averages.
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           cast(recent_inflow_amount / $recent_months as decimal(18, 2))
               as inflow_recent_month_amount,
           cast(prior_inflow_amount / $prior_months as decimal(18, 2))
               as inflow_prior_month_amount,
           cast(inflow_months as integer) as inflow_months,
           case when prior_inflow_amount > 0
                then round(cast((cast(recent_inflow_amount as double) / $recent_months)
                                / (cast(prior_inflow_amount as double) / $prior_months)
                                as double), 4) end
               as inflow_growth_ratio
    from windows
)

select * from final
