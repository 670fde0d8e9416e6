-- table:  int_customer_product_contribution
-- grain:  customer_id, business_date, branch_id, product_code
-- inputs: agg_customer_contribution_parts, agg_customer_contribution_parts_current
-- params: customer_from, customer_to, business_date, month_start, day_count_days, annual_days, history_days, capital_cost_percent, oldest_days, oldest_month_days, with_stored_parts
-- materialize: partition
-- Profit contribution per customer, account branch and product, as a yearly figure, one column
-- per component, CNY rounded to 6 decimals (configs: economics; docs/contribution.md): the
-- rolling year's parts in agg_customer_contribution_parts added (the window's closed months
-- and month to date whole, the month before them pro rata: oldest_days of its
-- oldest_month_days fall in the last 365 days), priced with the ACT/365 day count and
-- annualised: flows × annual_days / history_days, where history_days is the days of the
-- rolling year the warehouse holds (365 once it holds a year; pipeline/stages/contribution.py).
-- Default provisions are events, counted once in the year they fall in, not annualised.
-- with_stored_parts false prices the temp table's part alone (one closed month's contribution
-- for the golden-customer rule: pipeline/stages/contribution.py, monthly_contribution).
--   deposit_nii   = (FTP% − customer rate%) × balance-days                  DDA, TDA
--   loan_nii      = customer rate% × accruing balance-days − FTP% × balance-days   lending
--   commission    = commission% × balance-days                              WMP, FND, INS
--   fee           = fee column of the transactions + FEE charges' amounts
--   interchange   = per POS purchase least(amount × rate%, cap), summed
--   service_cost  = transactions × unit cost by channel and txn_code (FEE: none)
--   counter_cost  = the branch-counter (CTR) part of service_cost, a memo column
--   upkeep_cost   = upkeep per account-year × open days / day_count_days
--   reserve_cost  = RRR% × (FTP% − reserve rate%) × balance-days            DDA, TDA
--   risk_cost     = LGD% × PD% × balance-days (expected loss, stages 1-2) + default_provision
--   default_provision = LGD% × change in defaulted exposure in the window (stage 3, once)
--   capital_charge = risk weight% × balance-days × capital ratio% × hurdle rate%   lending
-- Transactions are attributed to the branch and product of the account they were posted on.
-- Amounts are stored as DECIMAL(18, 6) (up to 10^12 CNY per customer and product): DuckDB
-- reads DECIMAL(38, x) back some 20 times slower, and this table has ~3 rows per customer.
-- The query reads one range of customers at a time (customer_id from $customer_from, before
-- $customer_to, on every input; pipeline/sqlfiles.py, configs: warehouse.chunk_customers).
with
closed as (
    select * from agg_customer_contribution_parts
    where window_month = $month_start and part = 'closed' and $with_stored_parts
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
current_month as (
    select *  -- the month to date: a temp table of this run (pipeline/stages/contribution.py)
    from agg_customer_contribution_parts_current
    where window_month = $month_start and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
oldest as (
    select * from agg_customer_contribution_parts
    where window_month = $month_start and part = 'oldest' and $with_stored_parts
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
joined as (
    -- the year = closed months + month to date + the oldest month pro rata, one row each per
    -- customer, branch and product: joins add them (cheaper than a group-by over all three).
    -- Every numerator is scaled by oldest_month_days here and divided by it below, so the
    -- oldest month's share stays exact.
    select coalesce(c.customer_id, m.customer_id, o.customer_id) as customer_id,
           coalesce(c.branch_id, m.branch_id, o.branch_id) as branch_id,
           coalesce(c.product_code, m.product_code, o.product_code) as product_code,
           (coalesce(c.deposit_nii_num, 0) + coalesce(m.deposit_nii_num, 0)) * $oldest_month_days
               + coalesce(o.deposit_nii_num, 0) * $oldest_days as deposit_nii_num,
           (coalesce(c.loan_nii_num, 0) + coalesce(m.loan_nii_num, 0)) * $oldest_month_days
               + coalesce(o.loan_nii_num, 0) * $oldest_days as loan_nii_num,
           (coalesce(c.reserve_num, 0) + coalesce(m.reserve_num, 0)) * $oldest_month_days
               + coalesce(o.reserve_num, 0) * $oldest_days as reserve_num,
           (coalesce(c.commission_num, 0) + coalesce(m.commission_num, 0)) * $oldest_month_days
               + coalesce(o.commission_num, 0) * $oldest_days as commission_num,
           (coalesce(c.upkeep_num, 0) + coalesce(m.upkeep_num, 0)) * $oldest_month_days
               + coalesce(o.upkeep_num, 0) * $oldest_days as upkeep_num,
           (coalesce(c.expected_loss_num, 0) + coalesce(m.expected_loss_num, 0)) * $oldest_month_days
               + coalesce(o.expected_loss_num, 0) * $oldest_days as expected_loss_num,
           (coalesce(c.provision_num, 0) + coalesce(m.provision_num, 0)) * $oldest_month_days
               + coalesce(o.provision_num, 0) * $oldest_days as provision_num,
           (coalesce(c.capital_num, 0) + coalesce(m.capital_num, 0)) * $oldest_month_days
               + coalesce(o.capital_num, 0) * $oldest_days as capital_num,
           (coalesce(c.fee_amount, 0) + coalesce(m.fee_amount, 0)) * $oldest_month_days
               + coalesce(o.fee_amount, 0) * $oldest_days as fee_amount,
           (coalesce(c.interchange_num, 0) + coalesce(m.interchange_num, 0)) * $oldest_month_days
               + coalesce(o.interchange_num, 0) * $oldest_days as interchange_num,
           (coalesce(c.service_cost_num, 0) + coalesce(m.service_cost_num, 0)) * $oldest_month_days
               + coalesce(o.service_cost_num, 0) * $oldest_days as service_cost_num,
           (coalesce(c.counter_cost_num, 0) + coalesce(m.counter_cost_num, 0)) * $oldest_month_days
               + coalesce(o.counter_cost_num, 0) * $oldest_days as counter_cost_num
    from closed c
    full outer join current_month m
      on m.customer_id = c.customer_id
     and m.branch_id is not distinct from c.branch_id
     and m.product_code is not distinct from c.product_code
    full outer join oldest o
      on o.customer_id = coalesce(c.customer_id, m.customer_id)
     and o.branch_id is not distinct from coalesce(c.branch_id, m.branch_id)
     and o.product_code is not distinct from coalesce(c.product_code, m.product_code)
),
amounts as (
    -- rate numerators carry one percent (÷ 100) per rate; × annual_days / history_days turns
    -- the rolling year's amount into a year's; ÷ oldest_month_days undoes the scaling above
    select customer_id, branch_id, product_code,
           cast(deposit_nii_num * $annual_days
                  / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as deposit_nii_amount,
           cast(loan_nii_num * $annual_days
                  / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as loan_nii_amount,
           cast(commission_num * $annual_days
                  / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as commission_amount,
           cast(fee_amount * $annual_days
                  / ($history_days * $oldest_month_days)
                as decimal(18, 6)) as fee_amount,
           cast(interchange_num * $annual_days
                  / ($history_days * $oldest_month_days)
                as decimal(18, 6)) as interchange_amount,
           cast(service_cost_num * $annual_days
                  / ($history_days * $oldest_month_days)
                as decimal(18, 6)) as service_cost_amount,
           cast(counter_cost_num * $annual_days
                  / ($history_days * $oldest_month_days)
                as decimal(18, 6)) as counter_cost_amount,
           cast(upkeep_num * $annual_days
                  / ($day_count_days::bigint * $history_days * $oldest_month_days)
                as decimal(18, 6)) as upkeep_cost_amount,
           cast(reserve_num * $annual_days
                  / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as reserve_cost_amount,
           cast(expected_loss_num * $annual_days
                  / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as expected_loss_amount,
           cast(provision_num / (100 * $oldest_month_days) as decimal(18, 6))
               as default_provision_amount,
           cast(capital_num * $capital_cost_percent * $annual_days
                  / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
                as decimal(18, 6)) as capital_charge_amount
    from joined
),
final as (
    select customer_id,
           cast($business_date as date) as business_date,
           branch_id, product_code,
           deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
           interchange_amount, service_cost_amount, upkeep_cost_amount, reserve_cost_amount,
           cast(expected_loss_amount + default_provision_amount as decimal(18, 6))
               as risk_cost_amount,
           default_provision_amount,
           cast(deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
                + interchange_amount as decimal(18, 6)) as revenue_amount,
           cast(service_cost_amount + upkeep_cost_amount + reserve_cost_amount
                + expected_loss_amount + default_provision_amount as decimal(18, 6))
               as cost_amount,
           cast(deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
                + interchange_amount - service_cost_amount - upkeep_cost_amount
                - reserve_cost_amount - expected_loss_amount - default_provision_amount
                as decimal(18, 6)) as contribution_amount,
           capital_charge_amount,
           counter_cost_amount
    from amounts
)
select *,
       cast(contribution_amount - capital_charge_amount as decimal(18, 6))
           as economic_profit_amount
from final
