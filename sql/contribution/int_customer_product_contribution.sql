-- table:  int_customer_product_contribution
-- grain:  customer_id, business_date, branch_id, product_code
-- inputs: agg_customer_contribution_parts, agg_customer_contribution_parts_current
-- params: business_date, month_start, day_count_days
-- materialize: partition
-- Profit contribution per customer, account branch and product over the trailing window, one
-- column per component, CNY rounded to 6 decimals (configs: economics): the window's parts in
-- agg_customer_contribution_parts (closed months + month to date) added, then divided by the
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
closed as (
    select * from agg_customer_contribution_parts
    where window_month = $month_start and part = 'closed'
),
current_month as (
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_contribution_parts_current
    where window_month = $month_start and as_of_date = $business_date
),
joined as (
    -- the window = closed months + month to date, one row each per customer, branch and
    -- product: a join adds them (cheaper than a group-by over both)
    select coalesce(c.customer_id, m.customer_id) as customer_id,
           coalesce(c.branch_id, m.branch_id) as branch_id,
           coalesce(c.product_code, m.product_code) as product_code,
           coalesce(c.deposit_nii_num, 0) + coalesce(m.deposit_nii_num, 0) as deposit_nii_num,
           coalesce(c.loan_nii_num, 0) + coalesce(m.loan_nii_num, 0) as loan_nii_num,
           coalesce(c.commission_num, 0) + coalesce(m.commission_num, 0) as commission_num,
           coalesce(c.upkeep_num, 0) + coalesce(m.upkeep_num, 0) as upkeep_num,
           coalesce(c.risk_num, 0) + coalesce(m.risk_num, 0) as risk_num,
           coalesce(c.fee_amount, 0) + coalesce(m.fee_amount, 0) as fee_amount,
           coalesce(c.interchange_num, 0) + coalesce(m.interchange_num, 0) as interchange_num,
           coalesce(c.service_cost_num, 0) + coalesce(m.service_cost_num, 0) as service_cost_num
    from closed c
    full outer join current_month m
      on m.customer_id = c.customer_id
     and m.branch_id is not distinct from c.branch_id
     and m.product_code is not distinct from c.product_code
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
