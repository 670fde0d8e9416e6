-- table:  agg_customer_event_day_dates
-- grain:  business_date
-- inputs: clv_txn_deliveries
-- params: business_date, first_date, events_fingerprint
-- materialize: partition
-- Bookkeeping of agg_customer_event_day: which deliveries are aggregated, under which event
-- definition, and the latest TXN file receipt they reflect. A delivery is aggregated again
-- when a TXN file of that date is received later (a re-send) or the definition changes.
-- Written for the deliveries $first_date .. $business_date that have a TXN file:
-- clv_txn_deliveries is the clv stage's scratch table of file_ledger's loaded or replaced TXN
-- deliveries with their latest receipt (file_ledger stays in the warehouse file whatever the
-- engine; pipeline/stages/clv.py, load_txn_deliveries).
with
received as (
    select
        business_date,
        received_at as source_received_at
    from clv_txn_deliveries
    where business_date between $first_date and $business_date
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
