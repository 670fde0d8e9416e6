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
-- One group-by per customer, no group-by per customer and day: distinct event days are the
-- rows marked is_first_delivery (one per customer and day among the deliveries up to any
-- date); sums of money need no deduplication; the first day's amount is its first delivery's
-- row plus, rarely, the late rows of other deliveries for that day (late_rows).
with
events as (
    select
        customer_id,
        event_date,
        amount_total,
        is_first_delivery
    from agg_customer_event_day
    where business_date <= $business_date
        and event_date <= $business_date
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
        max(event_date) filter (where event_date <= $calibration_end) as last_event_date,
        count(*) filter (where is_first_delivery and event_date <= $calibration_end) - 1
            as frequency,
        sum(amount_total) filter (where event_date <= $calibration_end) as amount_to_end,
        arg_min(amount_total, event_date) filter (where is_first_delivery)
            as first_delivery_amount,
        count(*) filter (
            where is_first_delivery
                and event_date > $calibration_end::date - $recent_window_days::integer
                and event_date <= $calibration_end
        ) as events_recent,
        count(*) filter (where is_first_delivery and event_date > $calibration_end)
            as holdout_events
    from events
    group by customer_id
    having min(event_date) <= $calibration_end
),

final as (
    select
        s.customer_id,
        $calibration_end::date as calibration_end,
        s.first_event_date,
        s.last_event_date,
        s.frequency::integer as frequency,
        date_diff('day', s.first_event_date, s.last_event_date)::integer as recency_days,
        date_diff('day', s.first_event_date, $calibration_end::date)::integer as t_days,
        date_diff('day', s.last_event_date, $calibration_end::date)::integer
            as days_since_last_event,
        -- a mean of money for a model's float input; DOUBLE on purpose
        case
            when s.frequency > 0
                then (
                    s.amount_to_end - s.first_delivery_amount - coalesce(l.amount_total, 0)
                )::double / s.frequency
        end as repeat_amount_avg,
        s.events_recent::integer as events_recent,
        s.holdout_events::integer as holdout_events
    from summary as s
    left join late_rows as l
        on l.customer_id = s.customer_id and l.event_date = s.first_event_date
)

select * from final
