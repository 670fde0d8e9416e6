-- table:  int_tier_inputs
-- grain:  customer_id, business_date
-- inputs: int_customer_features, int_customer_contribution, int_customer_clv, int_merchants, int_customer_value_score, int_golden_customers, agg_customer_txn_month
-- params: business_date, window_start, month_start, online_codes, counter_unit_cost
-- materialize: partition
-- Everything the tiers and lists need about each active customer (status A at the business
-- date), one row each: yearly contribution and economic profit (int_customer_contribution),
-- assets, lifetime value, value score and golden flag, merchant evidence, the facts that
-- decide potential (age, occupation, education, the 3-vs-earlier-months amount trend, life
-- stage) and counter use. A customer missing from an upstream table gets zeros / no flag
-- (e.g. no lifetime value yet); history_days stays null without a contribution row.
-- Amounts are rounded to the cent, and economic_profit_amount is the rounded contribution
-- minus the rounded capital charge, so that contribution − capital charge = economic profit
-- holds exactly in every list and sum built from here (within a cent of the warehouse's).
-- counter_online_capable_txns: counter (CTR) transactions of the online-capable codes
-- (configs: tiers.migration.online_capable_codes) in the migration window: the closed months
-- from window_start (as of their month end) plus the month to date (as of the business date).
-- counter_cost_amount: counter transactions over the features window at the economics
-- section's counter unit cost (economics.unit_cost_amount.CTR).
with
features as (
    select customer_id, home_branch_id, rm_id, education, occupation, marketing_consent,
           age_years as age, tenure_months, aum_amount, adb_dda_amount, amount_trend_ratio,
           ctr_txn_count, active_months
    from int_customer_features
    where business_date = $business_date and status = 'A'
),

contribution as (
    select customer_id, contribution_amount, capital_charge_amount, service_cost_amount,
           history_days
    from int_customer_contribution
    where business_date = $business_date
),

clv as (
    select customer_id, clv_amount, p_alive, life_stage
    from int_customer_clv
    where business_date = $business_date
),

merchants as (
    select customer_id, merchant_score, turnover_amount, is_declared
    from int_merchants
    where business_date = $business_date
),

scores as (
    select customer_id, value_score
    from int_customer_value_score
    where business_date = $business_date
),

golden as (
    select customer_id, bool_or(is_golden) as is_golden
    from int_golden_customers
    where business_date = $business_date
    group by customer_id
),

counter as (
    select customer_id, sum(txn_count) as counter_online_capable_txns
    from agg_customer_txn_month
    where channel = 'CTR'
      and list_contains($online_codes, txn_code)
      and ((month_start >= $window_start and month_start < $month_start
            and as_of_date = cast(month_start + interval 1 month as date) - 1)
           or (month_start = $month_start and as_of_date = $business_date))
    group by customer_id
),

final as (
    select
        f.customer_id,
        cast($business_date as date) as business_date,
        f.home_branch_id,
        nullif(f.rm_id, '') as rm_id,
        f.marketing_consent,
        f.age,
        f.occupation,
        f.education,
        f.tenure_months,
        cast(coalesce(c.contribution_amount, 0) as decimal(18, 2)) as contribution_amount,
        cast(cast(coalesce(c.contribution_amount, 0) as decimal(18, 2))
             - cast(coalesce(c.capital_charge_amount, 0) as decimal(18, 2)) as decimal(18, 2))
            as economic_profit_amount,
        cast(coalesce(c.capital_charge_amount, 0) as decimal(18, 2)) as capital_charge_amount,
        cast(c.history_days as integer) as history_days,
        cast(coalesce(c.service_cost_amount, 0) as decimal(18, 2)) as service_cost_amount,
        cast(coalesce(f.aum_amount, 0) as decimal(18, 2)) as aum_amount,
        cast(coalesce(l.clv_amount, 0) as decimal(18, 2)) as clv_amount,
        l.p_alive,
        l.life_stage,
        s.value_score,
        coalesce(g.is_golden, false) as is_golden,
        m.customer_id is not null as is_merchant,
        m.merchant_score,
        cast(coalesce(m.turnover_amount, 0) as decimal(18, 2)) as turnover_amount,
        m.is_declared,
        f.amount_trend_ratio as inflow_trend,
        f.active_months,
        cast(coalesce(f.ctr_txn_count, 0) as bigint) as counter_txns,
        cast(coalesce(f.ctr_txn_count, 0) * $counter_unit_cost as decimal(18, 2))
            as counter_cost_amount,
        cast(coalesce(k.counter_online_capable_txns, 0) as bigint) as counter_online_capable_txns
    from features as f
    left join contribution as c on c.customer_id = f.customer_id
    left join clv as l on l.customer_id = f.customer_id
    left join merchants as m on m.customer_id = f.customer_id
    left join scores as s on s.customer_id = f.customer_id
    left join golden as g on g.customer_id = f.customer_id
    left join counter as k on k.customer_id = f.customer_id
)

select * from final
