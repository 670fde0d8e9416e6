-- table:  agg_portfolio_contribution_parts
-- grain:  window_month, part, branch_id, product_code
-- inputs: agg_account_balance_month, agg_customer_txn_month, ref_pd_buckets, ref_channel_costs
-- params: month_from, month_to, month_start, business_date
-- materialize: table
-- The portfolio side of the contribution reconciliation, computed directly from the monthly
-- aggregates per account branch and product without going through customers: balance-days,
-- rate-days, account-days, PD-weighted balance-days, fees, interchange and service cost summed
-- over the branch's accounts and transactions, for one part of a window (closed months or the
-- month to date; written by pipeline/stages/contribution.py). Rated once per branch and
-- product in sql/checks/chk_contribution_reconciliation.sql.
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
balance_totals as (
    select b.branch_id, b.product_code,
           sum(b.balance_days) as balance_days,
           sum(b.rate_balance_days) as rate_balance_days,
           sum(b.days_covered) as account_days,
           sum(coalesce(p.pd_percent, 0) * cast(b.balance_days as decimal(38, 2)))
               as pd_balance_days
    from balances b
    left join ref_pd_buckets p
      on b.max_days_past_due >= p.min_days_past_due
     and (p.max_days_past_due is null or b.max_days_past_due <= p.max_days_past_due)
    group by b.branch_id, b.product_code
),
counts as (
    select branch_id, product_code, channel, txn_code,
           sum(txn_count) as txn_count,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount
    from txns
    group by branch_id, product_code, channel, txn_code
),
txn_totals as (
    select k.branch_id, k.product_code,
           sum(k.fee_amount) as fee_amount,
           sum(k.interchange_amount) as interchange_amount,
           sum(k.txn_count * coalesce(c.unit_cost_amount, 0)) as service_cost_amount
    from counts k
    left join ref_channel_costs c on c.channel = k.channel and c.txn_code = k.txn_code
    group by k.branch_id, k.product_code
),
final as (
    select coalesce(b.branch_id, t.branch_id) as branch_id,
           coalesce(b.product_code, t.product_code) as product_code,
           coalesce(b.balance_days, 0) as balance_days,
           coalesce(b.rate_balance_days, 0) as rate_balance_days,
           coalesce(b.account_days, 0) as account_days,
           coalesce(b.pd_balance_days, 0) as pd_balance_days,
           coalesce(t.fee_amount, 0) as fee_amount,
           coalesce(t.interchange_amount, 0) as interchange_amount,
           coalesce(t.service_cost_amount, 0) as service_cost_amount
    from balance_totals b
    full outer join txn_totals t
      on t.branch_id is not distinct from b.branch_id and t.product_code = b.product_code
)
select * from final
