-- table:  int_merchant_prospects
-- grain:  counterparty_key, business_date
-- inputs: int_merchant_counterparties
-- params: business_date, bank_code, prospect_min_amount
-- materialize: partition
-- Prospects: counterparties of our merchants that bank elsewhere (counterparty_bank is not our
-- bank_code and they are not our customer) with flows to or from our merchants over the
-- window of at least prospect_min_amount. Buyers who pay our merchants and suppliers our
-- merchants pay are both prospects; a counterparty trading with several merchants ranks high.
-- Built from the main counterparties kept per merchant (max_buyers / max_suppliers).
with
outside as (
    select *
    from int_merchant_counterparties
    where
        business_date = $business_date
        and not is_our_customer
        and coalesce(counterparty_bank, '') <> $bank_code
),

-- Counterparties whose flows reach the minimum: only those get names, banks and lists.
prospects as (
    select counterparty_key
    from outside
    group by counterparty_key
    having sum(amount) >= $prospect_min_amount
),

final as (
    select
        counterparty_key,
        cast($business_date as date) as business_date,
        mode(counterparty_name) as counterparty_name,
        mode(counterparty_bank) as counterparty_bank,
        case
            when bool_or(role = 'buyer') and bool_or(role = 'supplier') then 'buyer and supplier'
            when bool_or(role = 'buyer') then 'buyer'
            else 'supplier'
        end as role,
        cast(sum(amount) as decimal(18, 2)) as amount,
        cast(coalesce(sum(amount) filter (where role = 'buyer'), 0) as decimal(18, 2))
            as paid_to_merchants_amount,
        cast(coalesce(sum(amount) filter (where role = 'supplier'), 0) as decimal(18, 2))
            as received_from_merchants_amount,
        cast(sum(txn_count) as bigint) as txn_count,
        count(distinct customer_id) as merchant_count,
        list_sort(list(distinct customer_id)) as merchant_customer_ids
    from outside
    semi join prospects as p on p.counterparty_key = outside.counterparty_key
    group by counterparty_key
)

select * from final
