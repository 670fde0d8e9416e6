-- table:  int_customer_contribution
-- grain:  customer_id, business_date
-- inputs: int_customer_product_contribution, hist_customers
-- params: customer_from, customer_to, business_date, contribution_start, history_days
-- materialize: partition
-- Profit contribution (利润贡献度) per customer, a yearly figure from the trailing window: the
-- sum over the customer's branches and products of int_customer_product_contribution, one
-- column per component (CNY a year), revenue − cost = contribution, and economic profit =
-- contribution − capital charge. counter_cost_amount is the branch-counter part of
-- service_cost_amount (a memo: the branch summary's counter cost). window_start .. window_end: the rolling year the figure covers
-- (the last 365 days, or the history the warehouse holds when shorter), history_days its
-- length; flows are annualised over it (docs/contribution.md). Every customer valid at the business
-- date has a row (zeros when nothing happened); customers known only from accounts are kept.
-- The query reads one range of customers at a time (customer_id from $customer_from, before
-- $customer_to, on every input; pipeline/sqlfiles.py, configs: warehouse.chunk_customers).
with
customers as (
    select customer_id, home_branch_id, rm_id
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
parts as (
    select customer_id,
           sum(deposit_nii_amount) as deposit_nii_amount,
           sum(loan_nii_amount) as loan_nii_amount,
           sum(commission_amount) as commission_amount,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount,
           sum(upkeep_cost_amount) as upkeep_cost_amount,
           sum(risk_cost_amount) as risk_cost_amount,
           sum(reserve_cost_amount) as reserve_cost_amount,
           sum(default_provision_amount) as default_provision_amount,
           sum(capital_charge_amount) as capital_charge_amount,
           sum(counter_cost_amount) as counter_cost_amount,
           count(distinct product_code) filter (where product_code <> 'NONE') as products_used
    from int_customer_product_contribution
    where business_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    group by customer_id
),
final as (
    select coalesce(c.customer_id, p.customer_id) as customer_id,
           cast($business_date as date) as business_date,
           cast($contribution_start as date) as window_start,
           cast($business_date as date) as window_end,
           cast($history_days as integer) as history_days,
           c.home_branch_id,
           c.rm_id,
           cast(coalesce(p.deposit_nii_amount, 0) as decimal(38, 6)) as deposit_nii_amount,
           cast(coalesce(p.loan_nii_amount, 0) as decimal(38, 6)) as loan_nii_amount,
           cast(coalesce(p.commission_amount, 0) as decimal(38, 6)) as commission_amount,
           cast(coalesce(p.fee_amount, 0) as decimal(38, 6)) as fee_amount,
           cast(coalesce(p.interchange_amount, 0) as decimal(38, 6)) as interchange_amount,
           cast(coalesce(p.service_cost_amount, 0) as decimal(38, 6)) as service_cost_amount,
           cast(coalesce(p.upkeep_cost_amount, 0) as decimal(38, 6)) as upkeep_cost_amount,
           cast(coalesce(p.reserve_cost_amount, 0) as decimal(38, 6)) as reserve_cost_amount,
           cast(coalesce(p.risk_cost_amount, 0) as decimal(38, 6)) as risk_cost_amount,
           cast(coalesce(p.default_provision_amount, 0) as decimal(38, 6))
               as default_provision_amount,
           cast(coalesce(p.capital_charge_amount, 0) as decimal(38, 6)) as capital_charge_amount,
           coalesce(p.products_used, 0) as products_used,
           cast(coalesce(p.counter_cost_amount, 0) as decimal(38, 6)) as counter_cost_amount
    from customers c
    full outer join parts p on p.customer_id = c.customer_id
),
totals as (
    select *,
           deposit_nii_amount + loan_nii_amount + commission_amount + fee_amount
               + interchange_amount as revenue_amount,
           service_cost_amount + upkeep_cost_amount + reserve_cost_amount + risk_cost_amount
               as cost_amount
    from final
)
select *,
       revenue_amount - cost_amount as contribution_amount,
       revenue_amount - cost_amount - capital_charge_amount as economic_profit_amount
from totals
