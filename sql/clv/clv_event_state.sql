-- table:  clv_event_state
-- grain:  customer_id
-- inputs: agg_customer_event_day
-- params: state_end, calibration_end, recent_window_days, state_key
-- materialize: table
-- The clv stage's stored sums of the closed months' event days: per customer, the deliveries
-- up to $state_end (the month end before the business date), so a night groups only the rows
-- delivered since and the few older rows its moving windows need (int_customer_event_summary)
-- instead of the whole year. One state at a time, replaced when its $state_key (the state
-- end, the calibration end, the recent window, and every aggregated delivery up to the state
-- end with its event definition and aggregation time: pipeline/stages/clv.py, event_state_key)
-- no longer matches: a new month, a re-sent or late delivery up to the state end, another
-- event definition or window rebuild it. The columns mean what the same names of
-- int_customer_event_summary mean, over these deliveries only; first_day_late_amount sums the
-- rows of other deliveries on first_event_date (late postings).
with
events as (
    select
        customer_id,
        event_date,
        amount_total,
        is_first_delivery
    from agg_customer_event_day
    where business_date <= $state_end
),

late_rows as (
    select
        customer_id,
        event_date,
        sum(amount_total) as amount_total
    from events
    where not is_first_delivery
    group by customer_id, event_date
),

summary as (
    select
        customer_id,
        min(event_date) as first_event_date,
        -- amount_total is never null (the filter keeps Spark's min_by from returning one)
        arg_min(amount_total, event_date) filter (
            where is_first_delivery and amount_total is not null
        ) as first_delivery_amount,
        max(event_date) filter (where event_date <= $calibration_end) as cal_last_event_date,
        count(*) filter (where is_first_delivery and event_date <= $calibration_end)
            as cal_event_days,
        sum(amount_total) filter (where event_date <= $calibration_end) as cal_amount,
        count(*) filter (
            where is_first_delivery
                and event_date > $calibration_end::date - $recent_window_days::integer
                and event_date <= $calibration_end
        ) as cal_events_recent,
        max(event_date) as last_event_date,
        count(*) filter (where is_first_delivery) as event_days,
        sum(amount_total) as amount
    from events
    group by customer_id
),

final as (
    select
        s.customer_id,
        $state_key::varchar as state_key,
        $state_end::date as state_end,
        s.first_event_date,
        s.first_delivery_amount,
        coalesce(l.amount_total, 0) as first_day_late_amount,
        s.cal_last_event_date,
        s.cal_event_days,
        s.cal_amount,
        s.cal_events_recent,
        s.last_event_date,
        s.event_days,
        s.amount
    from summary as s
    left join late_rows as l
        on l.customer_id = s.customer_id and l.event_date = s.first_event_date
)

select * from final
