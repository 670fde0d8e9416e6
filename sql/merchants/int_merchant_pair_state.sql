-- table:  int_merchant_pair_state
-- grain:  customer_id, counterparty_key, role
-- inputs: int_merchant_window_txns, int_merchant_coverage
-- params: block_start, block_end, build_block
-- materialize: table
-- What each screened customer received from each payer (role buyer: credits from others, not
-- LDR or PRR), paid to each payee by transfer out (role supplier: TRO) and to each payee by
-- transfer out or bill payment (role payee: TRO, PAY), own-account transfers left out, as a
-- state that adds up across disjoint sets of transactions: counts,
-- sums of whole cents and of their squares (exact integers), the months as bits, the last
-- date, the smallest and largest name and bank. build_block: the rows of the block of closed
-- months (txn_date from block_start, delivered by block_end), which the stage keeps in
-- agg_merchant_block_pairs; else the rows the block does not hold for the customers it covers (int_merchant_coverage:
-- the window's days before the block and the deliveries after it), and every row for the
-- others. A month's bit is its number (year × 12 + month) modulo 60: a window spans at most
-- 25 months (window_days ≤ 731), so distinct months have distinct bits.
with
txns as (
    select t.*
    from int_merchant_window_txns as t
    inner join int_merchant_coverage as c on c.customer_id = t.customer_id
    where
        t.counterparty_key is not null
        and not t.is_own
        and case
            when $build_block then t.txn_date >= $block_start and t.business_date <= $block_end
            else not (c.is_covered and t.txn_date >= $block_start and t.business_date <= $block_end)
        end
),

flows as (
    select
        customer_id,
        counterparty_key,
        case when direction = 'C' then 'buyer' else 'supplier' end as role,
        txn_date,
        cast(amount * 100 as decimal(38, 0)) as cents,
        counterparty_name,
        counterparty_bank,
        counterparty_customer_id
    from txns
    where
        (direction = 'C' and txn_code not in ('LDR', 'PRR'))
        or (direction = 'D' and txn_code = 'TRO')
    union all
    select
        customer_id,
        counterparty_key,
        'payee' as role,
        txn_date,
        cast(amount * 100 as decimal(38, 0)) as cents,
        counterparty_name,
        counterparty_bank,
        counterparty_customer_id
    from txns
    where direction = 'D' and txn_code in ('TRO', 'PAY')
),

pairs as (
    select
        customer_id,
        counterparty_key,
        role,
        count(*) as txn_count,
        sum(cents) as sum_cents,
        sum(cents * cents) as sum_sq_cents,
        bit_or(cast(1 as bigint) << ((year(txn_date) * 12 + month(txn_date)) % 60)) as month_bits,
        max(txn_date) as last_txn_date,
        min(counterparty_name) as min_name,
        max(counterparty_name) as max_name,
        min(counterparty_bank) as min_bank,
        max(counterparty_bank) as max_bank,
        max(counterparty_customer_id) as counterparty_customer_id
    from flows
    group by customer_id, counterparty_key, role
),

final as (
    select * from pairs
)

select * from final
