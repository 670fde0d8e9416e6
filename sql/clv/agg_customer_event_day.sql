-- table:  agg_customer_event_day
-- grain:  customer_id, event_date, business_date
-- inputs: stg_transactions
-- params: business_date, event_txn_codes, event_channels
-- materialize: partition
-- Value-generating events per customer and day, aggregated from ONE delivery (business_date)
-- at a time, so the nightly run only reads the new delivery and a re-sent delivery replaces
-- its own rows. A late posting (txn_date before the delivery date) lands on its own event_date.
-- An event is a day with at least one transaction whose code and channel are configured
-- (clv.events); the RFM summary counts at most one event per customer and day.
with
events as (
    select
        customer_id,
        txn_date as event_date,
        amount
    from stg_transactions
    where business_date = $business_date
        and list_contains($event_txn_codes, txn_code)
        and list_contains($event_channels, channel)
        and direction <> 'N'
),

final as (
    select
        customer_id,
        event_date,
        $business_date::date as business_date,
        count(*)::bigint as txn_count,
        sum(amount)::decimal(18, 2) as amount_total
    from events
    group by customer_id, event_date
)

select * from final
