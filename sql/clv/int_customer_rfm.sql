-- table:  int_customer_rfm
-- grain:  customer_id
-- inputs: agg_customer_event_day
-- params: business_date, calibration_end, recent_window_days
-- materialize: table
-- The RFM summary of every customer with an event by $calibration_end, as the BG/NBD and
-- Gamma-Gamma models define it (Fader, Hardie & Lee 2005): at most one event per customer and
-- day; frequency = event days after the first; recency_days = last minus first event date;
-- t_days = calibration end minus first event date (exact day differences, no flooring to
-- weeks). repeat_amount_avg is the mean daily amount over the repeat event days (the CDNOW
-- check's monetary value; the pipeline's monetary value is contribution, see
-- int_customer_event_contribution). holdout_events counts event days after $calibration_end
-- up to $business_date (0 when they are equal). Only deliveries up to $business_date count, so
-- a re-run of an earlier date sees what that date saw. A scratch table, rebuilt per fit.
with
events as (
    select
        customer_id,
        event_date,
        sum(amount_total) as amount_total
    from agg_customer_event_day
    where business_date <= $business_date
        and event_date <= $business_date
    group by customer_id, event_date
),

firsts as (
    select
        customer_id,
        min(event_date) as first_event_date
    from events
    where event_date <= $calibration_end
    group by customer_id
),

summary as (
    select
        e.customer_id,
        f.first_event_date,
        max(e.event_date) filter (where e.event_date <= $calibration_end) as last_event_date,
        count(*) filter (where e.event_date <= $calibration_end) - 1 as frequency,
        -- a mean of money for a model's float input; DOUBLE on purpose
        avg(e.amount_total::double) filter (
            where e.event_date > f.first_event_date and e.event_date <= $calibration_end
        ) as repeat_amount_avg,
        count(*) filter (
            where e.event_date > $calibration_end::date - $recent_window_days::integer
                and e.event_date <= $calibration_end
        ) as events_recent,
        count(*) filter (where e.event_date > $calibration_end) as holdout_events
    from events as e
    inner join firsts as f on e.customer_id = f.customer_id
    group by e.customer_id, f.first_event_date
),

final as (
    select
        customer_id,
        $calibration_end::date as calibration_end,
        first_event_date,
        last_event_date,
        frequency::integer as frequency,
        date_diff('day', first_event_date, last_event_date)::integer as recency_days,
        date_diff('day', first_event_date, $calibration_end::date)::integer as t_days,
        date_diff('day', last_event_date, $calibration_end::date)::integer
            as days_since_last_event,
        repeat_amount_avg,
        events_recent::integer as events_recent,
        holdout_events::integer as holdout_events
    from summary
)

select * from final
