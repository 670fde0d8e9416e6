-- table:  int_customer_event_summary
-- grain:  customer_id
-- inputs: agg_customer_event_day
-- params: business_date, calibration_end, recent_window_days, window_start, window_end
-- materialize: table
-- One pass over the event aggregate for the clv stage: per customer with an event by
-- $business_date, the sums that int_customer_rfm (at the calibration end and at the business
-- date) and int_customer_event_contribution (event days in the contribution window
-- $window_start .. $window_end) are built from, so the year of event days is grouped once a
-- night, not twice. A scratch table of one run: the clv stage creates it as a temp table.
-- Only deliveries up to $business_date count, so a re-run of an earlier date sees what that
-- date saw. Distinct event days are the rows marked is_first_delivery (one per customer and
-- day among the deliveries up to any date); sums of money need no deduplication; the first
-- day's amount is its first delivery's row (first_delivery_amount) plus, rarely, the late
-- rows of other deliveries for that day (first_day_late_amount).
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
    from agg_customer_event_day
    where business_date <= $business_date
        and event_date <= $business_date
        and not is_first_delivery
    group by customer_id, event_date
),

summary as (
    select
        customer_id,
        min(event_date) as first_event_date,
        arg_min(amount_total, event_date) filter (where is_first_delivery)
            as first_delivery_amount,
        -- as of the calibration end
        max(event_date) filter (where event_date <= $calibration_end) as cal_last_event_date,
        count(*) filter (where is_first_delivery and event_date <= $calibration_end)
            as cal_event_days,
        sum(amount_total) filter (where event_date <= $calibration_end) as cal_amount,
        count(*) filter (
            where is_first_delivery
                and event_date > $calibration_end::date - $recent_window_days::integer
                and event_date <= $calibration_end
        ) as cal_events_recent,
        -- as of the business date
        max(event_date) as last_event_date,
        count(*) filter (where is_first_delivery) as event_days,
        sum(amount_total) as amount,
        count(*) filter (
            where is_first_delivery
                and event_date > $business_date::date - $recent_window_days::integer
        ) as events_recent,
        -- in the contribution window
        count(*) filter (
            where is_first_delivery and event_date between $window_start and $window_end
        ) as window_events
    from events
    group by customer_id
),

final as (
    select
        s.customer_id,
        s.first_event_date,
        s.first_delivery_amount,
        coalesce(l.amount_total, 0) as first_day_late_amount,
        s.cal_last_event_date,
        s.cal_event_days,
        s.cal_amount,
        s.cal_events_recent,
        s.last_event_date,
        s.event_days,
        s.amount,
        s.events_recent,
        $window_start::date as window_start,
        $window_end::date as window_end,
        s.window_events
    from summary as s
    left join late_rows as l
        on l.customer_id = s.customer_id and l.event_date = s.first_event_date
)

select * from final
