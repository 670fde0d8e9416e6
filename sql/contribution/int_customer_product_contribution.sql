-- table:  int_customer_product_contribution
-- grain:  customer_id, business_date, branch_id, product_code
-- inputs: agg_account_balance_month, agg_customer_txn_month, ref_product_rates, ref_channel_costs, ref_pd_buckets
-- params: business_date, window_start, month_start, day_count_days
-- materialize: partition
-- Profit contribution per customer, account branch and product over the trailing window, one
-- column per component, CNY rounded to 6 decimals (configs: economics). Time-based amounts use
-- ACT/365: amount = balance-days × rate% / 100 / day_count_days.
--   deposit_nii   = (FTP% × balance-days − customer-rate% × balance-days)   DDA, TDA
--   loan_nii      = (customer-rate% × balance-days − FTP% × balance-days)   CCD, PLN, MTG, BLN
--   commission    = commission% × balance-days                              WMP, FND, INS
--   fee           = the fee column of the transactions
--   interchange   = per POS purchase least(amount × rate%, cap), summed (agg_customer_txn_month)
--   service_cost  = transactions × unit cost by channel and txn_code
--   upkeep_cost   = upkeep per account-year × account-days held / day_count_days
--   risk_cost     = PD% (worst days past due of the month) × LGD% × balance-days, lending only
-- Transactions are attributed to the branch and product of the account they were posted on.
with
balances as (
    select *
    from agg_account_balance_month
    where (month_start >= $window_start and month_start < $month_start
           and as_of_date = cast(month_start + interval 1 month as date) - 1)
       or (month_start = $month_start and as_of_date = $business_date)
),
txns as (
    select *
    from agg_customer_txn_month
    where (month_start >= $window_start and month_start < $month_start
           and as_of_date = cast(month_start + interval 1 month as date) - 1)
       or (month_start = $month_start and as_of_date = $business_date)
),
balance_rated as (
    select b.customer_id, b.branch_id, b.product_code, b.balance_days, b.rate_balance_days,
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
           sum(coalesce(upkeep_amount_per_year, 0) * days_covered) as upkeep_num,
           sum(case when product_group = 'lending'
                    then pd_percent * lgd_percent * balance_days else 0 end) as risk_num
    from balance_rated
    group by customer_id, branch_id, product_code
),
txn_parts as (
    select t.customer_id, t.branch_id, t.product_code,
           sum(t.fee_amount) as fee_amount,
           sum(t.interchange_amount) as interchange_num,
           sum(t.txn_count * coalesce(c.unit_cost_amount, 0)) as service_cost_num
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
),
amounts as (
    select customer_id, branch_id, product_code,
           cast(round(coalesce(deposit_nii_num, 0) / (100 * $day_count_days), 6)
                as decimal(38, 6)) as deposit_nii_amount,
           cast(round(coalesce(loan_nii_num, 0) / (100 * $day_count_days), 6)
                as decimal(38, 6)) as loan_nii_amount,
           cast(round(coalesce(commission_num, 0) / (100 * $day_count_days), 6)
                as decimal(38, 6)) as commission_amount,
           cast(coalesce(fee_amount, 0) as decimal(38, 6)) as fee_amount,
           cast(round(coalesce(interchange_num, 0), 6) as decimal(38, 6)) as interchange_amount,
           cast(round(coalesce(service_cost_num, 0), 6) as decimal(38, 6))
               as service_cost_amount,
           cast(round(coalesce(upkeep_num, 0) / $day_count_days, 6) as decimal(38, 6))
               as upkeep_cost_amount,
           cast(round(coalesce(risk_num, 0) / (100 * 100 * $day_count_days), 6)
                as decimal(38, 6)) as risk_cost_amount
    from joined
),
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           branch_id, product_code,
           deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
           interchange_amount, service_cost_amount, upkeep_cost_amount, risk_cost_amount,
           deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
               + interchange_amount as revenue_amount,
           service_cost_amount + upkeep_cost_amount + risk_cost_amount as cost_amount,
           deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
               + interchange_amount - service_cost_amount - upkeep_cost_amount
               - risk_cost_amount as contribution_amount
    from amounts
)
select * from final
