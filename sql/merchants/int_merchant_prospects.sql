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

-- The name and the bank most of the merchants' rows carry (mode(), NULL left out), the smallest
-- of equally frequent ones, so that every engine and every run picks the same one.
names as (
    select counterparty_key, counterparty_name,
        row_number() over (
            partition by counterparty_key order by count(*) desc, counterparty_name
        ) as name_rank
    from outside
    semi join prospects as p on p.counterparty_key = outside.counterparty_key
    where counterparty_name is not null
    group by counterparty_key, counterparty_name
),

banks as (
    select counterparty_key, counterparty_bank,
        row_number() over (
            partition by counterparty_key order by count(*) desc, counterparty_bank
        ) as bank_rank
    from outside
    semi join prospects as p on p.counterparty_key = outside.counterparty_key
    where counterparty_bank is not null
    group by counterparty_key, counterparty_bank
),

flows as (
    select
        counterparty_key,
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
),

final as (
    select
        f.counterparty_key,
        cast($business_date as date) as business_date,
        n.counterparty_name,
        b.counterparty_bank,
        f.role,
        f.amount,
        f.paid_to_merchants_amount,
        f.received_from_merchants_amount,
        f.txn_count,
        f.merchant_count,
        f.merchant_customer_ids
    from flows as f
    left join names as n on n.counterparty_key = f.counterparty_key and n.name_rank = 1
    left join banks as b on b.counterparty_key = f.counterparty_key and b.bank_rank = 1
)

select * from final
