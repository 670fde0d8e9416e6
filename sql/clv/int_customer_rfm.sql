-- table:  int_customer_rfm
-- grain:  customer_id, calibration_end
-- inputs: int_customer_event_summary
-- params: business_date, calibration_end
-- materialize: table
-- The RFM summary as the BG/NBD and Gamma-Gamma models define it (Fader, Hardie & Lee 2005),
-- at two cut-offs from one pass over the aggregate: as of $calibration_end, for every customer
-- with an event by then, and as of $business_date, for every customer (calibration_end =
-- $business_date; these rows only once when the two dates are equal). At most one event per
-- customer and day; frequency = event days after the first; recency_days = last minus first
-- event date; t_days = cut-off minus first event date (exact day differences, no flooring to
-- weeks). repeat_amount_avg is the mean daily amount over the repeat event days (the CDNOW
-- check's monetary value; the pipeline's monetary value is contribution, see
-- int_customer_event_contribution). holdout_events counts event days after the cut-off up to
-- $business_date (0 for the business date's rows). Only deliveries up to $business_date count,
-- so a re-run of an earlier date sees what that date saw. A scratch table, rebuilt per run,
-- from the night's one pass over the event aggregate (int_customer_event_summary, built with
-- the same $business_date and $calibration_end).
with
cutoffs as (
    select
        s.customer_id,
        $calibration_end::date as calibration_end,
        s.first_event_date,
        s.cal_last_event_date as last_event_date,
        s.cal_event_days - 1 as frequency,
        s.cal_amount as amount,
        s.cal_events_recent as events_recent,
        s.event_days - s.cal_event_days as holdout_events,
        s.first_delivery_amount,
        s.first_day_late_amount
    from int_customer_event_summary as s
    where s.first_event_date <= $calibration_end
    union all
    select
        s.customer_id,
        $business_date::date as calibration_end,
        s.first_event_date,
        s.last_event_date,
        s.event_days - 1 as frequency,
        s.amount,
        s.events_recent,
        0 as holdout_events,
        s.first_delivery_amount,
        s.first_day_late_amount
    from int_customer_event_summary as s
    where $business_date::date > $calibration_end::date
),

final as (
    select
        c.customer_id,
        c.calibration_end,
        c.first_event_date,
        c.last_event_date,
        c.frequency::integer as frequency,
        date_diff('day', c.first_event_date, c.last_event_date)::integer as recency_days,
        date_diff('day', c.first_event_date, c.calibration_end)::integer as t_days,
        date_diff('day', c.last_event_date, c.calibration_end)::integer as days_since_last_event,
        -- a mean of money for a model's float input; DOUBLE on purpose
        case
            when c.frequency > 0
                then (c.amount - c.first_delivery_amount - c.first_day_late_amount)::double
                / c.frequency
        end as repeat_amount_avg,
        c.events_recent::integer as events_recent,
        c.holdout_events::integer as holdout_events
    from cutoffs as c
)

select * from final
