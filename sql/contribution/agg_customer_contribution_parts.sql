-- table:  agg_customer_contribution_parts
-- grain:  customer_id, window_month, part, branch_id, product_code
-- inputs: agg_account_balance_month, agg_customer_txn_month, ref_product_rates, ref_channel_costs, ref_pd_buckets
-- params: month_from, month_to, month_start, business_date
-- materialize: table
-- Contribution numerators per customer, account branch and product over a range of months:
-- one part of a window (the closed months, computed once per window month and economics
-- config; or the month to date, each night, into the run's temp table
-- agg_customer_contribution_parts_current), written part by part by
-- pipeline/stages/contribution.py. Numerators are exact DECIMAL and additive across parts:
--   deposit_nii_num = FTP% × balance-days − Σ customer-rate% × balance-days   (DDA, TDA)
--   loan_nii_num    = Σ customer-rate% × balance-days − FTP% × balance-days   (lending)
--   commission_num  = commission% × balance-days                              (WMP, FND, INS)
--   upkeep_num      = upkeep per account-year × account-days
--   risk_num        = PD% (worst days past due of each month) × LGD% × balance-days
--   fee_amount, interchange_num (capped per purchase), service_cost_num (count × unit cost)
-- Columns that fit are stored as DECIMAL(18, x): DuckDB reads DECIMAL(38, x) back some 20
-- times slower; the margin numerators (scale 8 and 14) need the wide type to stay exact.
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
balance_rated as (
    select b.customer_id, b.branch_id, b.product_code,
           cast(b.balance_days as decimal(38, 2)) as balance_days,  -- rates × 10^12 overflow 18
           b.rate_balance_days,
           b.days_covered, r.product_group, r.ftp_rate_percent, r.commission_rate_percent,
           r.upkeep_amount_per_year, r.lgd_percent,
           coalesce(p.pd_percent, 0) as pd_percent
    from balances b
    left join ref_product_rates r on r.product_code = b.product_code
    left join ref_pd_buckets p
      on b.max_days_past_due >= p.min_days_past_due
     and (p.max_days_past_due is null or b.max_days_past_due <= p.max_days_past_due)
),
balance_parts as (
    select customer_id, branch_id, product_code,
           sum(case when product_group = 'deposit'
                    then ftp_rate_percent * balance_days - rate_balance_days else 0 end)
               as deposit_nii_num,
           sum(case when product_group = 'lending'
                    then rate_balance_days - ftp_rate_percent * balance_days else 0 end)
               as loan_nii_num,
           sum(case when product_group = 'investment'
                    then commission_rate_percent * balance_days else 0 end) as commission_num,
           cast(sum(coalesce(upkeep_amount_per_year, 0) * days_covered) as decimal(18, 6))
               as upkeep_num,
           sum(case when product_group = 'lending'
                    then pd_percent * lgd_percent * balance_days else 0 end) as risk_num
    from balance_rated
    group by customer_id, branch_id, product_code
),
txn_parts as (
    select t.customer_id, t.branch_id, t.product_code,
           cast(sum(t.fee_amount) as decimal(18, 2)) as fee_amount,
           cast(sum(t.interchange_amount) as decimal(18, 8)) as interchange_num,
           cast(sum(t.txn_count * coalesce(c.unit_cost_amount, 0)) as decimal(18, 6))
               as service_cost_num
    from txns t
    left join ref_channel_costs c on c.channel = t.channel and c.txn_code = t.txn_code
    group by t.customer_id, t.branch_id, t.product_code
),
joined as (
    select coalesce(b.customer_id, t.customer_id) as customer_id,
           coalesce(b.branch_id, t.branch_id) as branch_id,
           coalesce(b.product_code, t.product_code) as product_code,
           b.deposit_nii_num, b.loan_nii_num, b.commission_num, b.upkeep_num, b.risk_num,
           t.fee_amount, t.interchange_num, t.service_cost_num
    from balance_parts b
    full outer join txn_parts t
      on t.customer_id = b.customer_id
     and t.branch_id is not distinct from b.branch_id
     and t.product_code = b.product_code
)
select * from joined
