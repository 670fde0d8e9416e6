-- table:  int_customer_event_summary
-- grain:  customer_id
-- inputs: clv_event_state, agg_customer_event_day
-- params: business_date, calibration_end, recent_window_days, window_start, window_end, state_end, state_key
-- materialize: table
-- The clv stage's event sums per customer with an event by $business_date, from which
-- int_customer_rfm (at the calibration end and at the business date) and
-- int_customer_event_contribution (event days in the contribution window $window_start ..
-- $window_end) are built. A scratch table of one run: the clv stage creates it as a temp
-- table. The stored state (clv_event_state: the deliveries up to $state_end, built for this
-- $calibration_end and $recent_window_days, read by its $state_key: none when no state is
-- wanted; $window_end at or after $state_end) plus the rows
-- delivered since, and of the older rows only those the moving windows need: event days in
-- the last $recent_window_days (events_recent) and before $window_start (leaving the window).
-- Exactly what one pass over every delivery up to $business_date gives (an empty state is
-- that pass; tests/test_clv_state.py): sums and counts add; first and last dates are the
-- least and greatest; the first day's amount is its first delivery's row
-- (first_delivery_amount: in the state unless the rows since start earlier) plus the late
-- rows of other deliveries for that day (first_day_late_amount: the state's when the state
-- holds that day, plus those delivered since). Only deliveries up to $business_date count,
-- so a re-run of an earlier date sees what that date saw. Distinct event days are the rows
-- marked is_first_delivery (one per customer and day among the deliveries up to any date).
with
state as (
    select *
    from clv_event_state
    where state_key = $state_key
),

since as (
    select
        customer_id,
        event_date,
        amount_total,
        is_first_delivery
    from agg_customer_event_day
    where business_date > $state_end
        and business_date <= $business_date
        and event_date <= $business_date
),

since_summary as (
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
        sum(amount_total) as amount,
        count(*) filter (
            where is_first_delivery
                and event_date > $business_date::date - $recent_window_days::integer
        ) as events_recent,
        count(*) filter (
            where is_first_delivery and event_date between $window_start and $window_end
        ) as window_events
    from since
    group by customer_id
),

since_late_rows as (
    select
        customer_id,
        event_date,
        sum(amount_total) as amount_total
    from since
    where not is_first_delivery
    group by customer_id, event_date
),

-- the state's event days in the recent window (a delivery is never before its events, so
-- the window's rows are among the deliveries of the window's days)
state_recent as (
    select
        customer_id,
        count(*) as events_recent
    from agg_customer_event_day
    where business_date <= $state_end
        and business_date > $business_date::date - $recent_window_days::integer
        and event_date > $business_date::date - $recent_window_days::integer
        and is_first_delivery
    group by customer_id
),

-- the state's event days before the contribution window
state_before_window as (
    select
        customer_id,
        count(*) as window_events_before
    from agg_customer_event_day
    where business_date <= $state_end
        and event_date < $window_start
        and is_first_delivery
    group by customer_id
),

combined as (
    select
        coalesce(s.customer_id, n.customer_id) as customer_id,
        s.first_event_date as state_first_event_date,
        s.first_day_late_amount as state_first_day_late_amount,
        least(s.first_event_date, n.first_event_date) as first_event_date,
        case
            when n.customer_id is null or s.first_event_date <= n.first_event_date
                then s.first_delivery_amount
            else n.first_delivery_amount
        end as first_delivery_amount,
        greatest(s.cal_last_event_date, n.cal_last_event_date) as cal_last_event_date,
        coalesce(s.cal_event_days, 0) + coalesce(n.cal_event_days, 0) as cal_event_days,
        case
            when s.cal_amount is null then n.cal_amount
            when n.cal_amount is null then s.cal_amount
            else s.cal_amount + n.cal_amount
        end as cal_amount,
        coalesce(s.cal_events_recent, 0) + coalesce(n.cal_events_recent, 0)
            as cal_events_recent,
        greatest(s.last_event_date, n.last_event_date) as last_event_date,
        coalesce(s.event_days, 0) + coalesce(n.event_days, 0) as event_days,
        coalesce(s.amount, 0) + coalesce(n.amount, 0) as amount,
        coalesce(r.events_recent, 0) + coalesce(n.events_recent, 0) as events_recent,
        coalesce(s.event_days, 0) - coalesce(b.window_events_before, 0)
            + coalesce(n.window_events, 0) as window_events
    from state as s
    full outer join since_summary as n on n.customer_id = s.customer_id
    left join state_recent as r on r.customer_id = s.customer_id
    left join state_before_window as b on b.customer_id = s.customer_id
),

final as (
    select
        c.customer_id,
        c.first_event_date,
        c.first_delivery_amount,
        case
            when c.state_first_event_date = c.first_event_date
                then c.state_first_day_late_amount
            else 0
        end + coalesce(l.amount_total, 0) as first_day_late_amount,
        c.cal_last_event_date,
        c.cal_event_days,
        c.cal_amount,
        c.cal_events_recent,
        c.last_event_date,
        c.event_days,
        c.amount,
        c.events_recent,
        $window_start::date as window_start,
        $window_end::date as window_end,
        c.window_events
    from combined as c
    left join since_late_rows as l
        on l.customer_id = c.customer_id and l.event_date = c.first_event_date
)

select * from final
