-- table:  chk_contribution_reconciliation
-- grain:  business_date, branch_id, product_code, component
-- inputs: int_customer_product_contribution, int_customer_contribution, agg_source_contribution_month, agg_source_contribution_month_current
-- params: business_date, month_start, oldest_month, oldest_days, oldest_month_days, day_count_days, annual_days, history_days, capital_cost_percent, tolerance_per_row
-- materialize: partition
-- Contribution reconciled against the source, not against itself: per account branch and
-- product, every component summed over customers (int_customer_product_contribution) against
-- the same component from agg_source_contribution_month, which recomputes it month by month
-- straight from the loaded account versions and transactions with the rules restated, not
-- from the monthly aggregates and window parts the customer figures come from. The source
-- months are added up over the rolling year as the customer figures are (the window's months
-- whole, the month before them by oldest_days / oldest_month_days) and priced alike (÷ day
-- count, × annual_days / history_days; provisions not annualised). Rows with branch '*' and
-- product '*' compare int_customer_contribution's total with the source total; the fee row
-- there is the fee revenue found in the extracts. Customer amounts are rounded to 6 decimals,
-- so n summed rows may differ by n × tolerance_per_row; a larger difference fails the
-- contribution stage.
with
months as (
    select month_start, branch_id, product_code,
           case when month_start = cast($oldest_month as date) then $oldest_days
                else $oldest_month_days end as weight,
           deposit_nii_num, loan_nii_num, commission_num, upkeep_num, reserve_num,
           expected_loss_num, provision_num, capital_num, fee_num, interchange_num,
           service_cost_num
    from agg_source_contribution_month
    where month_start between cast($oldest_month as date) and cast($month_start as date)
      and as_of_date = case when month_start = cast($month_start as date)
                            then cast($business_date as date)
                            else last_day(month_start) end
    union all
    select month_start, branch_id, product_code,  -- the month to date (this run's temp table)
           case when month_start = cast($oldest_month as date) then $oldest_days
                else $oldest_month_days end as weight,
           deposit_nii_num, loan_nii_num, commission_num, upkeep_num, reserve_num,
           expected_loss_num, provision_num, capital_num, fee_num, interchange_num,
           service_cost_num
    from agg_source_contribution_month_current
    where month_start = cast($month_start as date) and as_of_date = $business_date
),
summed as (
    select branch_id, product_code,
           sum(deposit_nii_num * weight) as deposit_nii, sum(loan_nii_num * weight) as loan_nii,
           sum(commission_num * weight) as commission, sum(upkeep_num * weight) as upkeep,
           sum(reserve_num * weight) as reserve, sum(expected_loss_num * weight) as expected_loss,
           sum(provision_num * weight) as provision, sum(capital_num * weight) as capital,
           sum(fee_num * weight) as fee, sum(interchange_num * weight) as interchange,
           sum(service_cost_num * weight) as service_cost
    from months
    group by all
),
source_wide as (
    -- each cell's amount rounded to 6 decimals and DECIMAL at once, as the customer figures
    -- are: DuckDB divides a DECIMAL by a number in DOUBLE, and the whole-bank rows below sum
    -- the cells, which in DOUBLE depends on the order the rows come in (the sixth decimal
    -- moved from one run to the next); a DECIMAL sum does not
    select branch_id, product_code,
           cast(deposit_nii * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6)) as deposit_nii_amount,
           cast(loan_nii * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6)) as loan_nii_amount,
           cast(commission * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6)) as commission_amount,
           cast(upkeep * $annual_days
               / ($day_count_days::bigint * $history_days * $oldest_month_days)
               as decimal(38, 6)) as upkeep_cost_amount,
           cast(reserve * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6)) as reserve_cost_amount,
           cast(expected_loss * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6))
           + cast(provision / (100 * $oldest_month_days) as decimal(38, 6))
               as risk_cost_amount,
           cast(provision / (100 * $oldest_month_days) as decimal(38, 6))
               as default_provision_amount,
           cast(capital * $capital_cost_percent * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
               as decimal(38, 6)) as capital_charge_amount,
           cast(fee * $annual_days / ($history_days * $oldest_month_days)
               as decimal(38, 6)) as fee_amount,
           cast(interchange * $annual_days / ($history_days * $oldest_month_days)
               as decimal(38, 6)) as interchange_amount,
           cast(service_cost * $annual_days / ($history_days * $oldest_month_days)
               as decimal(38, 6)) as service_cost_amount
    from summed
),
source as (
    -- one row per component, NULLs left out (as DuckDB's UNPIVOT did)
    select branch_id, product_code, 'deposit_nii_amount' as component, deposit_nii_amount as source_amount
    from source_wide where deposit_nii_amount is not null
    union all
    select branch_id, product_code, 'loan_nii_amount' as component, loan_nii_amount as source_amount
    from source_wide where loan_nii_amount is not null
    union all
    select branch_id, product_code, 'commission_amount' as component, commission_amount as source_amount
    from source_wide where commission_amount is not null
    union all
    select branch_id, product_code, 'upkeep_cost_amount' as component, upkeep_cost_amount as source_amount
    from source_wide where upkeep_cost_amount is not null
    union all
    select branch_id, product_code, 'reserve_cost_amount' as component, reserve_cost_amount as source_amount
    from source_wide where reserve_cost_amount is not null
    union all
    select branch_id, product_code, 'risk_cost_amount' as component, risk_cost_amount as source_amount
    from source_wide where risk_cost_amount is not null
    union all
    select branch_id, product_code, 'default_provision_amount' as component, default_provision_amount as source_amount
    from source_wide where default_provision_amount is not null
    union all
    select branch_id, product_code, 'capital_charge_amount' as component, capital_charge_amount as source_amount
    from source_wide where capital_charge_amount is not null
    union all
    select branch_id, product_code, 'fee_amount' as component, fee_amount as source_amount
    from source_wide where fee_amount is not null
    union all
    select branch_id, product_code, 'interchange_amount' as component, interchange_amount as source_amount
    from source_wide where interchange_amount is not null
    union all
    select branch_id, product_code, 'service_cost_amount' as component, service_cost_amount as source_amount
    from source_wide where service_cost_amount is not null
),
customer_sums_wide as (
    select branch_id, product_code, count(*) as summed_rows,
           sum(deposit_nii_amount) as deposit_nii_amount,
           sum(loan_nii_amount) as loan_nii_amount,
           sum(commission_amount) as commission_amount,
           sum(upkeep_cost_amount) as upkeep_cost_amount,
           sum(reserve_cost_amount) as reserve_cost_amount,
           sum(risk_cost_amount) as risk_cost_amount,
           sum(default_provision_amount) as default_provision_amount,
           sum(capital_charge_amount) as capital_charge_amount,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount
    from int_customer_product_contribution
    where business_date = $business_date
    group by branch_id, product_code
),
customer_sums as (
    select branch_id, product_code, summed_rows, 'deposit_nii_amount' as component, deposit_nii_amount as customer_sum_amount
    from customer_sums_wide where deposit_nii_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'loan_nii_amount' as component, loan_nii_amount as customer_sum_amount
    from customer_sums_wide where loan_nii_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'commission_amount' as component, commission_amount as customer_sum_amount
    from customer_sums_wide where commission_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'upkeep_cost_amount' as component, upkeep_cost_amount as customer_sum_amount
    from customer_sums_wide where upkeep_cost_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'reserve_cost_amount' as component, reserve_cost_amount as customer_sum_amount
    from customer_sums_wide where reserve_cost_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'risk_cost_amount' as component, risk_cost_amount as customer_sum_amount
    from customer_sums_wide where risk_cost_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'default_provision_amount' as component, default_provision_amount as customer_sum_amount
    from customer_sums_wide where default_provision_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'capital_charge_amount' as component, capital_charge_amount as customer_sum_amount
    from customer_sums_wide where capital_charge_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'fee_amount' as component, fee_amount as customer_sum_amount
    from customer_sums_wide where fee_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'interchange_amount' as component, interchange_amount as customer_sum_amount
    from customer_sums_wide where interchange_amount is not null
    union all
    select branch_id, product_code, summed_rows, 'service_cost_amount' as component, service_cost_amount as customer_sum_amount
    from customer_sums_wide where service_cost_amount is not null
),
by_cell as (
    select coalesce(s.branch_id, p.branch_id) as branch_id,
           coalesce(s.product_code, p.product_code) as product_code,
           coalesce(s.component, p.component) as component,
           coalesce(s.summed_rows, 0) as summed_rows,
           cast(coalesce(s.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           coalesce(p.source_amount, 0) as source_amount
    from customer_sums s
    full outer join source p
      on p.branch_id is not distinct from s.branch_id
     and p.product_code = s.product_code
     and p.component = s.component
),
whole_customers_wide as (
    select count(*) as summed_rows,
           sum(deposit_nii_amount) as deposit_nii_amount,
           sum(loan_nii_amount) as loan_nii_amount,
           sum(commission_amount) as commission_amount,
           sum(upkeep_cost_amount) as upkeep_cost_amount,
           sum(reserve_cost_amount) as reserve_cost_amount,
           sum(risk_cost_amount) as risk_cost_amount,
           sum(default_provision_amount) as default_provision_amount,
           sum(capital_charge_amount) as capital_charge_amount,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount
    from int_customer_contribution
    where business_date = $business_date
),
whole_customers as (
    select 'deposit_nii_amount' as component, deposit_nii_amount as customer_sum_amount
    from whole_customers_wide where deposit_nii_amount is not null
    union all
    select 'loan_nii_amount' as component, loan_nii_amount as customer_sum_amount
    from whole_customers_wide where loan_nii_amount is not null
    union all
    select 'commission_amount' as component, commission_amount as customer_sum_amount
    from whole_customers_wide where commission_amount is not null
    union all
    select 'upkeep_cost_amount' as component, upkeep_cost_amount as customer_sum_amount
    from whole_customers_wide where upkeep_cost_amount is not null
    union all
    select 'reserve_cost_amount' as component, reserve_cost_amount as customer_sum_amount
    from whole_customers_wide where reserve_cost_amount is not null
    union all
    select 'risk_cost_amount' as component, risk_cost_amount as customer_sum_amount
    from whole_customers_wide where risk_cost_amount is not null
    union all
    select 'default_provision_amount' as component, default_provision_amount as customer_sum_amount
    from whole_customers_wide where default_provision_amount is not null
    union all
    select 'capital_charge_amount' as component, capital_charge_amount as customer_sum_amount
    from whole_customers_wide where capital_charge_amount is not null
    union all
    select 'fee_amount' as component, fee_amount as customer_sum_amount
    from whole_customers_wide where fee_amount is not null
    union all
    select 'interchange_amount' as component, interchange_amount as customer_sum_amount
    from whole_customers_wide where interchange_amount is not null
    union all
    select 'service_cost_amount' as component, service_cost_amount as customer_sum_amount
    from whole_customers_wide where service_cost_amount is not null
),
source_totals as (
    select component, sum(source_amount) as source_amount from source group by component
),
whole as (
    -- a join, not a subquery correlated on the component (Spark 4.x's optimizer fails on one
    -- over this union: PushProjectionThroughUnion, "key not found: component")
    select '*' as branch_id, '*' as product_code, w.component,
           (select sum(summed_rows) from customer_sums_wide) as summed_rows,
           cast(coalesce(w.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           coalesce(p.source_amount, 0)::decimal(38, 6) as source_amount
    from whole_customers w
    left join source_totals p on p.component = w.component
),
final as (
    select cast($business_date as date) as business_date,
           branch_id, product_code, replace(component, '_amount', '') as component,
           summed_rows, customer_sum_amount, source_amount,
           customer_sum_amount - source_amount as difference_amount,
           cast((summed_rows + 1) * $tolerance_per_row as decimal(38, 6)) as tolerance_amount,
           abs(customer_sum_amount - source_amount)
               <= (summed_rows + 1) * $tolerance_per_row as is_ok
    from (select * from by_cell union all select * from whole)
)
select * from final
