-- table:  chk_contribution_reconciliation
-- grain:  business_date, branch_id, product_code, component
-- inputs: int_customer_product_contribution, int_customer_contribution, agg_account_balance_month, agg_customer_txn_month, ref_product_rates, ref_channel_costs, ref_pd_buckets
-- params: business_date, window_start, month_start, day_count_days, tolerance_per_row
-- materialize: partition
-- The parts sum to the whole. Per account branch and product, each contribution component
-- summed over customers (int_customer_product_contribution) against the same component
-- computed directly at portfolio level: balance-days, rate-days, counts and interchange summed
-- over the branch's accounts first, rated once. Rows with branch_id '*' and product_code '*'
-- compare the customer table (int_customer_contribution) with the portfolio total. Customer
-- amounts are rounded to 6 decimals, so n summed rows may differ by n × tolerance_per_row;
-- a larger difference is a failure (is_ok false) and fails the contribution stage.
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
pd_weighted as (
    select b.branch_id, b.product_code,
           sum(coalesce(p.pd_percent, 0) * b.balance_days) as pd_balance_days
    from balances b
    left join ref_pd_buckets p
      on b.max_days_past_due >= p.min_days_past_due
     and (p.max_days_past_due is null or b.max_days_past_due <= p.max_days_past_due)
    group by b.branch_id, b.product_code
),
balance_totals as (
    select branch_id, product_code,
           sum(balance_days) as balance_days,
           sum(rate_balance_days) as rate_balance_days,
           sum(days_covered) as account_days
    from balances
    group by branch_id, product_code
),
portfolio_balance as (
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
           coalesce(r.upkeep_amount_per_year, 0) * t.account_days / $day_count_days
               as upkeep_cost_amount,
           case when r.product_group = 'lending'
                then r.lgd_percent * w.pd_balance_days / (100 * 100 * $day_count_days)
                else 0 end as risk_cost_amount
    from balance_totals t
    left join ref_product_rates r on r.product_code = t.product_code
    left join pd_weighted w
      on w.branch_id is not distinct from t.branch_id and w.product_code = t.product_code
),
counts as (
    select branch_id, product_code, channel, txn_code, sum(txn_count) as txn_count
    from txns
    group by branch_id, product_code, channel, txn_code
),
service_costs as (
    select k.branch_id, k.product_code,
           sum(k.txn_count * coalesce(c.unit_cost_amount, 0)) as service_cost_amount
    from counts k
    left join ref_channel_costs c on c.channel = k.channel and c.txn_code = k.txn_code
    group by k.branch_id, k.product_code
),
portfolio_txn as (
    select t.branch_id, t.product_code,
           sum(t.fee_amount) as fee_amount,
           sum(t.interchange_amount) as interchange_amount,
           any_value(s.service_cost_amount) as service_cost_amount
    from txns t
    left join service_costs s
      on s.branch_id is not distinct from t.branch_id and s.product_code = t.product_code
    group by t.branch_id, t.product_code
),
portfolio_wide as (
    select coalesce(b.branch_id, x.branch_id) as branch_id,
           coalesce(b.product_code, x.product_code) as product_code,
           coalesce(b.deposit_nii_amount, 0) as deposit_nii_amount,
           coalesce(b.loan_nii_amount, 0) as loan_nii_amount,
           coalesce(b.commission_amount, 0) as commission_amount,
           coalesce(x.fee_amount, 0) as fee_amount,
           coalesce(x.interchange_amount, 0) as interchange_amount,
           coalesce(x.service_cost_amount, 0) as service_cost_amount,
           coalesce(b.upkeep_cost_amount, 0) as upkeep_cost_amount,
           coalesce(b.risk_cost_amount, 0) as risk_cost_amount
    from portfolio_balance b
    full outer join portfolio_txn x
      on x.branch_id is not distinct from b.branch_id and x.product_code = b.product_code
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
