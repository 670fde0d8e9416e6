-- table:  int_customer_event_contribution
-- grain:  customer_id, business_date
-- inputs: int_customer_contribution, int_customer_event_summary
-- params: business_date, annual_days
-- materialize: partition
-- Contribution per event: each customer's recurring profit contribution over the days of the
-- contribution stage's trailing window the warehouse holds, divided by the event days in that
-- window (window_start .. window_end, both inclusive). Recurring: int_customer_contribution
-- is a yearly figure (flows × annual_days / history_days, docs/contribution.md), so the
-- window's flows are contribution × history_days / annual_days; default provisions are
-- one-off events and are left out, or the models would project a past default's loss forward
-- again. A customer with contribution but no event in the window has it all on one event
-- (divisor at least 1). This is the monetary value of the lifetime-value models. Both money
-- columns are one division each, cast to DECIMAL(18, 2) (rounded half away from zero).
-- The event days in the window are counted in the night's one pass over the event aggregate
-- (int_customer_event_summary, built with the contribution's window: the contribution stage
-- writes one window per date, which the clv stage checks).
with
contribution as (
    select
        customer_id,
        window_start,
        window_end,
        -- the window's flows × annual_days: divided once, in the casts below
        (contribution_amount + default_provision_amount) * history_days as flows_num
    from int_customer_contribution
    where business_date = $business_date
),

window_events as (
    select
        c.customer_id,
        s.window_events
    from contribution as c
    inner join int_customer_event_summary as s
        on s.customer_id = c.customer_id
        and s.window_start = c.window_start
        and s.window_end = c.window_end
),

final as (
    select
        c.customer_id,
        $business_date::date as business_date,
        c.window_start,
        c.window_end,
        cast(c.flows_num / $annual_days as decimal(18, 2)) as contribution_amount,
        coalesce(w.window_events, 0)::integer as window_events,
        cast(c.flows_num / ($annual_days * greatest(coalesce(w.window_events, 0), 1))
            as decimal(18, 2)) as contribution_per_event
    from contribution as c
    left join window_events as w on c.customer_id = w.customer_id
)

select * from final
