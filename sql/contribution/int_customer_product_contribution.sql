-- table:  int_customer_product_contribution
-- grain:  customer_id, business_date, branch_id, product_code
-- inputs: agg_customer_contribution_parts, agg_customer_contribution_parts_current
-- params: business_date, month_start, day_count_days
-- materialize: partition
-- Profit contribution per customer, account branch and product over the trailing window, one
-- column per component, CNY rounded to 6 decimals (configs: economics): the window's parts in
-- agg_customer_contribution_parts (closed months + month to date) summed, then divided by the
-- day count. Time-based amounts use ACT/365: amount = balance-days × rate% / 100 / 365.
--   deposit_nii   = (FTP% − customer rate%) × balance-days                 DDA, TDA
--   loan_nii      = (customer rate% − FTP%) × balance-days                 CCD, PLN, MTG, BLN
--   commission    = commission% × balance-days                             WMP, FND, INS
--   fee           = the fee column of the transactions
--   interchange   = per POS purchase least(amount × rate%, cap), summed
--   service_cost  = transactions × unit cost by channel and txn_code
--   upkeep_cost   = upkeep per account-year × account-days held / day_count_days
--   risk_cost     = PD% (worst days past due of the month) × LGD% × balance-days, lending only
-- Transactions are attributed to the branch and product of the account they were posted on.
-- Amounts are stored as DECIMAL(18, 6) (up to 10^12 CNY per customer and product): DuckDB
-- reads DECIMAL(38, x) back some 20 times slower, and this table has ~3 rows per customer.
with
joined as (
    select customer_id, branch_id, product_code,
           sum(deposit_nii_num) as deposit_nii_num,
           sum(loan_nii_num) as loan_nii_num,
           sum(commission_num) as commission_num,
           sum(upkeep_num) as upkeep_num,
           sum(risk_num) as risk_num,
           sum(fee_amount) as fee_amount,
           sum(interchange_num) as interchange_num,
           sum(service_cost_num) as service_cost_num
    from (
        select * from agg_customer_contribution_parts
        where window_month = $month_start and part = 'closed'
        union all by name
        select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
        from agg_customer_contribution_parts_current
        where window_month = $month_start and as_of_date = $business_date
    ) p
    group by customer_id, branch_id, product_code
),
amounts as (
    select customer_id, branch_id, product_code,
           cast(round(coalesce(deposit_nii_num, 0) / (100 * $day_count_days), 6)
                as decimal(18, 6)) as deposit_nii_amount,
           cast(round(coalesce(loan_nii_num, 0) / (100 * $day_count_days), 6)
                as decimal(18, 6)) as loan_nii_amount,
           cast(round(coalesce(commission_num, 0) / (100 * $day_count_days), 6)
                as decimal(18, 6)) as commission_amount,
           cast(coalesce(fee_amount, 0) as decimal(18, 6)) as fee_amount,
           cast(round(coalesce(interchange_num, 0), 6) as decimal(18, 6)) as interchange_amount,
           cast(round(coalesce(service_cost_num, 0), 6) as decimal(18, 6))
               as service_cost_amount,
           cast(round(coalesce(upkeep_num, 0) / $day_count_days, 6) as decimal(18, 6))
               as upkeep_cost_amount,
           cast(round(coalesce(risk_num, 0) / (100 * 100 * $day_count_days), 6)
                as decimal(18, 6)) as risk_cost_amount
    from joined
),
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           branch_id, product_code,
           deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
           interchange_amount, service_cost_amount, upkeep_cost_amount, risk_cost_amount,
           cast(deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
                + interchange_amount as decimal(18, 6)) as revenue_amount,
           cast(service_cost_amount + upkeep_cost_amount + risk_cost_amount as decimal(18, 6))
               as cost_amount,
           cast(deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
                + interchange_amount - service_cost_amount - upkeep_cost_amount
                - risk_cost_amount as decimal(18, 6)) as contribution_amount
    from amounts
)
select * from final
