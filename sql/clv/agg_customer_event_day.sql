-- table:  agg_customer_event_day
-- grain:  customer_id, event_date, business_date
-- inputs: stg_transactions
-- params: business_date, first_date, event_txn_codes, event_channels
-- materialize: partition
-- Value-generating events per customer and day, aggregated per delivery (business_date) for
-- the deliveries $first_date .. $business_date, so the nightly run only reads the new delivery
-- and a re-sent delivery replaces its own rows. The clv stage deletes the earlier dates of the
-- range before running this (the loader replaces $business_date's rows); a backfill of many
-- deliveries is one statement. A late posting (txn_date before the delivery date) lands on its
-- own event_date, so one customer and day can appear in several deliveries.
-- is_first_delivery marks the earliest delivery holding the customer's event day: counting the
-- marked rows of the deliveries up to a date counts distinct event days without grouping by
-- day. An on-time row (event_date = business_date) is always the first (earlier deliveries
-- hold no later dates; the contract rejects txn_date after the business date); a late row is
-- written unmarked here and settled by the clv stage against the other deliveries
-- (pipeline/stages/clv.py, settle_first_deliveries).
-- An event is a day with at least one transaction whose code and channel are configured
-- (clv.events); the RFM summary counts at most one event per customer and day.
with
events as (
    select
        customer_id,
        txn_date as event_date,
        business_date,
        amount
    from stg_transactions
    where business_date between $first_date and $business_date
        and list_contains($event_txn_codes, txn_code)
        and list_contains($event_channels, channel)
        and direction <> 'N'
),

final as (
    select
        customer_id,
        event_date,
        business_date,
        count(*)::bigint as txn_count,
        sum(amount)::decimal(18, 2) as amount_total,
        event_date = business_date as is_first_delivery
    from events
    group by customer_id, event_date, business_date
)

select * from final
