-- table:  int_customer_clv
-- grain:  customer_id, business_date
-- inputs: clv_scores_today
-- params: business_date
-- materialize: partition
-- Lifetime value per customer and business date, from the scores models/clv.py computed
-- (clv_scores_today: the clv stage's scratch table, scored per part of the customers on
-- Spark). Every float is checked finite before it gets here. clv_amount: discounted expected
-- contribution over clv.horizon_months, CNY. expected_days_to_next_event: median wait to the
-- next event given the customer is alive.
-- clv_method: how this customer's CLV was valued (survival_x_contribution, gamma_gamma,
-- own_value_per_event, no_model; docs/clv.md); monthly_contribution_amount: the run rate (mean
-- of the last clv.run_rate_months closed months) and monthly_trend_amount: the shrunk, damped
-- trend per month added to it, what survival_x_contribution values.
with
scores as (
    select * from clv_scores_today
),

final as (
    select
        customer_id::varchar as customer_id,
        $business_date::date as business_date,
        first_event_date::date as first_event_date,
        last_event_date::date as last_event_date,
        frequency::integer as frequency,
        recency_days::integer as recency_days,
        t_days::integer as t_days,
        monetary_value::decimal(18, 2) as monetary,
        expected_events::double as expected_events,
        p_alive::double as p_alive,
        p_active_30d::double as p_active_30d,
        expected_days_to_next_event::double as expected_days_to_next_event,
        expected_contribution_per_event::decimal(18, 2) as expected_contribution_per_event,
        clv_amount::decimal(18, 2) as clv_amount,
        life_stage::varchar as life_stage,
        clv_method::varchar as clv_method,
        monthly_contribution::decimal(18, 2) as monthly_contribution_amount,
        monthly_trend::decimal(18, 2) as monthly_trend_amount
    from scores
)

select * from final
