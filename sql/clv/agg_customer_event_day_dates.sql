-- table:  agg_customer_event_day_dates
-- grain:  business_date
-- inputs: file_ledger
-- params: business_date, first_date, events_fingerprint
-- materialize: partition
-- Bookkeeping of agg_customer_event_day: which deliveries are aggregated, under which event
-- definition, and the latest TXN file receipt they reflect. A delivery is aggregated again
-- when a TXN file of that date is received later (a re-send) or the definition changes.
-- Written for the deliveries $first_date .. $business_date that have a TXN file.
with
received as (
    select
        business_date,
        max(received_at) as source_received_at
    from file_ledger
    where feed = 'TXN'
        and business_date between $first_date and $business_date
        and outcome in ('loaded', 'replaced')
    group by business_date
),

final as (
    select
        business_date,
        $events_fingerprint::varchar as events_fingerprint,
        source_received_at,
        now()::timestamp as aggregated_at
    from received
)

select * from final
