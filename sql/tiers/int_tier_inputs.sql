-- table:  int_tier_inputs
-- grain:  customer_id, business_date
-- inputs: int_customer_features, int_customer_contribution, int_customer_clv, int_merchants, int_merchant_scorecard, int_customer_value_score, int_golden_customers, agg_customer_txn_month, agg_customer_txn_month_current, agg_account_balance_month, agg_account_balance_month_current, hist_accounts, ref_product_rates, ref_channel_costs, ref_online_fees
-- params: business_date, window_start, month_start, online_codes, watch_dpd, default_dpd, default_statuses
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
-- from window_start (as of their month end) plus the month to date (as of the business date:
-- the temp table agg_customer_txn_month_current of this run, or the stored month on its
-- last day).
-- counter_cost_amount: the yearly cost of the customer's counter (CTR) transactions, from the
-- contribution model (int_customer_contribution: per-code unit costs, the same rolling year).
-- Migration money over the same window (the model scales it to a year):
-- counter_cost_saving_amount = Σ count × (counter unit cost − online unit cost) of the same
-- code (ref_channel_costs: the contribution model's per-channel, per-code costs);
-- counter_fee_amount = Σ fee paid on those counter transactions; online_fee_amount = what the
-- same transactions would pay online (ref_online_fees, tiers.migration.online_fee_amount).
-- Credit gate (economics.credit, the contribution model's staging): has_default_account when
-- any loan or card account version valid at the business date (valid_from <= D < valid_to)
-- is $default_dpd+ days past due or in a status of $default_statuses; has_watch_account when
-- one is $watch_dpd+ days past due (and not in default). max_days_past_due is the worst.
-- recent_aum_amount: average daily balance of DDA TDA WMP FND INS over the month to date
-- (agg_account_balance_month as of the business date, from this run's temp table
-- agg_account_balance_month_current, or stored on the month's last day): the fast path of
-- upgrades.
-- merchant_score: the merchant scorecard's score for every scored customer, detected or not.
with
features as (
    select customer_id, home_branch_id, rm_id, education, occupation, marketing_consent,
           age_years as age, tenure_months, aum_amount, adb_dda_amount, amount_trend_ratio,
           ctr_txn_count, active_months
    from int_customer_features
    where business_date = $business_date and status = 'A'
),

contribution as (
    -- DECIMAL(38, 6) to (18, 6) first: the same cents below, and DuckDB's rounding cast from
    -- a 128-bit decimal to (18, 2) costs ~1 us a value (5 s of CPU a night at 1M customers);
    -- an amount of 10^12 CNY or more fails the cast instead of passing
    select customer_id,
           cast(contribution_amount as decimal(18, 6)) as contribution_amount,
           cast(capital_charge_amount as decimal(18, 6)) as capital_charge_amount,
           cast(service_cost_amount as decimal(18, 6)) as service_cost_amount,
           cast(counter_cost_amount as decimal(18, 6)) as counter_cost_amount,
           history_days
    from int_customer_contribution
    where business_date = $business_date
),

clv as (
    select customer_id, clv_amount, p_alive, life_stage, monthly_contribution_amount,
           monthly_trend_amount
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

scorecard as (
    select customer_id, max(merchant_score) as merchant_score
    from int_merchant_scorecard
    where business_date = $business_date
    group by customer_id
),

counter_codes as (
    select customer_id, txn_code, sum(txn_count) as txn_count,
           sum(coalesce(fee_amount, 0)) as fee_amount
    from (
        select customer_id, txn_code, txn_count, fee_amount
        from agg_customer_txn_month
        where channel = 'CTR'
          and list_contains($online_codes, txn_code)
          and ((month_start >= $window_start and month_start < $month_start
                and as_of_date = cast(month_start + interval 1 month as date) - 1)
               or (month_start = $month_start and as_of_date = $business_date))
        union all
        select customer_id, txn_code, txn_count, fee_amount  -- this run's month to date
        from agg_customer_txn_month_current
        where channel = 'CTR'
          and list_contains($online_codes, txn_code)
          and month_start = $month_start and as_of_date = $business_date
    ) t
    group by customer_id, txn_code
),

counter as (
    select k.customer_id,
           sum(k.txn_count) as counter_online_capable_txns,
           sum(k.txn_count * (coalesce(c.unit_cost_amount, 0) - coalesce(n.unit_cost_amount, 0)))
               as counter_cost_saving_amount,
           sum(k.fee_amount) as counter_fee_amount,
           sum(k.txn_count * coalesce(o.fee_amount, 0)) as online_fee_amount
    from counter_codes as k
    left join ref_channel_costs as c on c.channel = 'CTR' and c.txn_code = k.txn_code
    left join ref_channel_costs as n on n.channel = 'NET' and n.txn_code = k.txn_code
    left join ref_online_fees as o on o.txn_code = k.txn_code
    group by k.customer_id
),

credit as (
    select h.customer_id,
           bool_or(coalesce(h.days_past_due, 0) >= $default_dpd
                   or list_contains($default_statuses, h.status)) as has_default_account,
           bool_or(coalesce(h.days_past_due, 0) >= $watch_dpd) as has_watch_account,
           max(coalesce(h.days_past_due, 0)) as max_days_past_due
    from hist_accounts as h
    inner join ref_product_rates as r
        on r.product_code = h.product_code and r.product_group = 'lending'
    where h.valid_from <= $business_date and h.valid_to > $business_date
    group by h.customer_id
),

recent as (
    select customer_id,
           cast(sum(balance_days) / (datediff('day', cast($month_start as date),
                                              cast($business_date as date)) + 1)
                as decimal(18, 2)) as recent_aum_amount
    from (
        select customer_id, balance_days
        from agg_account_balance_month
        where month_start = $month_start and as_of_date = $business_date
          and product_code in ('DDA', 'TDA', 'WMP', 'FND', 'INS')
        union all
        select customer_id, balance_days  -- this run's month to date
        from agg_account_balance_month_current
        where month_start = $month_start and as_of_date = $business_date
          and product_code in ('DDA', 'TDA', 'WMP', 'FND', 'INS')
    ) b
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
        cast(coalesce(r.recent_aum_amount, 0) as decimal(18, 2)) as recent_aum_amount,
        coalesce(d.has_default_account, false) as has_default_account,
        coalesce(d.has_watch_account and not d.has_default_account, false) as has_watch_account,
        cast(coalesce(d.max_days_past_due, 0) as integer) as max_days_past_due,
        cast(coalesce(l.clv_amount, 0) as decimal(18, 2)) as clv_amount,
        l.p_alive,
        l.life_stage,
        cast(l.monthly_contribution_amount as decimal(18, 2)) as clv_run_rate_amount,
        cast(l.monthly_trend_amount as decimal(18, 2)) as contribution_trend_amount,
        s.value_score,
        coalesce(g.is_golden, false) as is_golden,
        m.customer_id is not null as is_merchant,
        coalesce(m.merchant_score, sc.merchant_score) as merchant_score,
        cast(coalesce(m.turnover_amount, 0) as decimal(18, 2)) as turnover_amount,
        m.is_declared,
        f.amount_trend_ratio as inflow_trend,
        f.active_months,
        cast(coalesce(f.ctr_txn_count, 0) as bigint) as counter_txns,
        cast(coalesce(c.counter_cost_amount, 0) as decimal(18, 2)) as counter_cost_amount,
        cast(coalesce(k.counter_online_capable_txns, 0) as bigint) as counter_online_capable_txns,
        cast(cast(coalesce(k.counter_cost_saving_amount, 0) as decimal(18, 6))
             as decimal(18, 2)) as counter_cost_saving_amount,
        cast(coalesce(k.counter_fee_amount, 0) as decimal(18, 2)) as counter_fee_amount,
        cast(coalesce(k.online_fee_amount, 0) as decimal(18, 2)) as online_fee_amount
    from features as f
    left join contribution as c on c.customer_id = f.customer_id
    left join clv as l on l.customer_id = f.customer_id
    left join merchants as m on m.customer_id = f.customer_id
    left join scores as s on s.customer_id = f.customer_id
    left join golden as g on g.customer_id = f.customer_id
    left join counter as k on k.customer_id = f.customer_id
    left join scorecard as sc on sc.customer_id = f.customer_id
    left join credit as d on d.customer_id = f.customer_id
    left join recent as r on r.customer_id = f.customer_id
)

select * from final
