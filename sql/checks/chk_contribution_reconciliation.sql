-- table:  chk_contribution_reconciliation
-- grain:  business_date, branch_id, product_code, component
-- inputs: int_customer_product_contribution, int_customer_contribution, agg_portfolio_contribution_parts, agg_portfolio_contribution_parts_current, ref_product_rates
-- params: business_date, month_start, day_count_days, tolerance_per_row
-- materialize: partition
-- The parts sum to the whole. Per account branch and product, each contribution component
-- summed over customers (int_customer_product_contribution) against the same component
-- computed directly at portfolio level: balance-days, rate-days, counts and interchange summed
-- over the branch's accounts first (agg_portfolio_contribution_parts, straight from the
-- monthly aggregates), rated once. Rows with branch_id '*' and product_code '*' compare the
-- customer table (int_customer_contribution) with the portfolio total. Customer amounts are
-- rounded to 6 decimals, so n summed rows may differ by n × tolerance_per_row; a larger
-- difference is a failure (is_ok false) and fails the contribution stage.
with
totals as (
    select branch_id, product_code,
           sum(balance_days) as balance_days,
           sum(rate_balance_days) as rate_balance_days,
           sum(account_days) as account_days,
           sum(pd_balance_days) as pd_balance_days,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount
    from (
        select * from agg_portfolio_contribution_parts
        where window_month = $month_start and part = 'closed'
        union all by name
        select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
        from agg_portfolio_contribution_parts_current
        where window_month = $month_start and as_of_date = $business_date
    ) p
    group by branch_id, product_code
),
portfolio_wide as (
    select t.branch_id, t.product_code,
           case when r.product_group = 'deposit'
                then (r.ftp_rate_percent * t.balance_days - t.rate_balance_days)
                     / (100 * $day_count_days) else 0 end as deposit_nii_amount,
           case when r.product_group = 'lending'
                then (t.rate_balance_days - r.ftp_rate_percent * t.balance_days)
                     / (100 * $day_count_days) else 0 end as loan_nii_amount,
           case when r.product_group = 'investment'
                then r.commission_rate_percent * t.balance_days / (100 * $day_count_days)
                else 0 end as commission_amount,
           t.fee_amount,
           t.interchange_amount,
           t.service_cost_amount,
           coalesce(r.upkeep_amount_per_year, 0) * t.account_days / $day_count_days
               as upkeep_cost_amount,
           case when r.product_group = 'lending'
                then r.lgd_percent * t.pd_balance_days / (100 * 100 * $day_count_days)
                else 0 end as risk_cost_amount
    from totals t
    left join ref_product_rates r on r.product_code = t.product_code
),
portfolio as (
    unpivot portfolio_wide
    on deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
       interchange_amount, service_cost_amount, upkeep_cost_amount, risk_cost_amount
    into name component value portfolio_amount
),
customer_sums_wide as (
    select branch_id, product_code, count(*) as summed_rows,
           sum(deposit_nii_amount) as deposit_nii_amount,
           sum(loan_nii_amount) as loan_nii_amount,
           sum(commission_amount) as commission_amount,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount,
           sum(upkeep_cost_amount) as upkeep_cost_amount,
           sum(risk_cost_amount) as risk_cost_amount
    from int_customer_product_contribution
    where business_date = $business_date
    group by branch_id, product_code
),
customer_sums as (
    unpivot customer_sums_wide
    on deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
       interchange_amount, service_cost_amount, upkeep_cost_amount, risk_cost_amount
    into name component value customer_sum_amount
),
by_cell as (
    select coalesce(s.branch_id, p.branch_id) as branch_id,
           coalesce(s.product_code, p.product_code) as product_code,
           coalesce(s.component, p.component) as component,
           coalesce(s.summed_rows, 0) as summed_rows,
           cast(coalesce(s.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           cast(round(coalesce(p.portfolio_amount, 0), 6) as decimal(38, 6))
               as portfolio_amount
    from customer_sums s
    full outer join portfolio p
      on p.branch_id is not distinct from s.branch_id
     and p.product_code = s.product_code
     and p.component = s.component
),
whole_customers as (
    unpivot (
        select count(*) as summed_rows,
               sum(deposit_nii_amount) as deposit_nii_amount,
               sum(loan_nii_amount) as loan_nii_amount,
               sum(commission_amount) as commission_amount,
               sum(fee_amount) as fee_amount,
               sum(interchange_amount) as interchange_amount,
               sum(service_cost_amount) as service_cost_amount,
               sum(upkeep_cost_amount) as upkeep_cost_amount,
               sum(risk_cost_amount) as risk_cost_amount
        from int_customer_contribution
        where business_date = $business_date
    )
    on deposit_nii_amount, loan_nii_amount, commission_amount, fee_amount,
       interchange_amount, service_cost_amount, upkeep_cost_amount, risk_cost_amount
    into name component value customer_sum_amount
),
whole as (
    select '*' as branch_id, '*' as product_code, w.component,
           (select sum(summed_rows) from customer_sums_wide) as summed_rows,
           cast(coalesce(w.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           cast(round(coalesce(
               (select sum(p.portfolio_amount) from portfolio p where p.component = w.component),
               0), 6) as decimal(38, 6)) as portfolio_amount
    from whole_customers w
),
final as (
    select cast($business_date as date) as business_date,
           branch_id, product_code, replace(component, '_amount', '') as component,
           summed_rows, customer_sum_amount, portfolio_amount,
           customer_sum_amount - portfolio_amount as difference_amount,
           cast((summed_rows + 1) * $tolerance_per_row as decimal(38, 6)) as tolerance_amount,
           abs(customer_sum_amount - portfolio_amount)
               <= (summed_rows + 1) * $tolerance_per_row as is_ok
    from (select * from by_cell union all select * from whole)
)
select * from final
