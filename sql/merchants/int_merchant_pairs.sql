-- table:  int_merchant_pairs
-- grain:  customer_id, counterparty_key, role
-- inputs: agg_merchant_block_pairs, int_merchant_pair_state, int_merchant_coverage
-- params: max_buyers, max_suppliers
-- materialize: table
-- The window's pairs (customer, counterparty, role, as in int_merchant_pair_state) that can be
-- a customer's top payer or among its max_buyers / max_suppliers largest, and every payee
-- (the signals count them and their months), with their state over the whole window; the stage keeps it as a temp
-- table for the run, read by the signals (top payer) and the counterparty chain (ranking).
-- A pair's window is the stored block of closed months (agg_merchant_block_pairs, for the
-- customers int_merchant_coverage says it covers) plus the rows read raw
-- (int_merchant_pair_state). Every pair with raw rows is here, its two parts added
-- (touched). A pair without keeps its block amount while the touched ones only grow (amounts
-- are never negative), so every pair ahead of it in its block (block_rank: amount desc, key)
-- stays ahead: an untouched pair of block_rank above k cannot be among the k largest, k the
-- largest of max_buyers, max_suppliers and 1 (the top payer). Payees have block_rank 0: all
-- are read. amount_cents: whole cents as a
-- double (exact below 2^53), the sum the chain and the signals rank by; raw_cents, is_new:
-- the raw part and whether the pair is new since the block, for the totals
-- (int_merchant_pair_totals).
with
covered as (
    select customer_id from int_merchant_coverage where is_covered
),

-- The block stores Σc², the largest name and bank as NULL where they follow from the rest (one
-- payment: Σc² = (Σc)²; one name, one bank).
block as not materialized (
    select
        b.customer_id,
        b.counterparty_key,
        b.role,
        b.txn_count,
        b.sum_cents,
        coalesce(b.sum_sq_cents, b.sum_cents * b.sum_cents) as sum_sq_cents,
        b.month_bits,
        b.last_txn_date,
        b.min_name,
        coalesce(b.max_name, b.min_name) as max_name,
        b.min_bank,
        coalesce(b.max_bank, b.min_bank) as max_bank,
        b.counterparty_customer_id,
        b.block_rank
    from agg_merchant_block_pairs as b
    semi join covered as c on c.customer_id = b.customer_id
),

touched as materialized (
    select
        r.customer_id,
        r.counterparty_key,
        r.role,
        r.txn_count + coalesce(b.txn_count, 0) as txn_count,
        r.sum_cents + coalesce(b.sum_cents, 0) as sum_cents,
        r.sum_sq_cents + coalesce(b.sum_sq_cents, 0) as sum_sq_cents,
        r.month_bits | coalesce(b.month_bits, 0) as month_bits,
        greatest(r.last_txn_date, b.last_txn_date) as last_txn_date,
        least(r.min_name, b.min_name) as min_name,
        greatest(r.max_name, b.max_name) as max_name,
        least(r.min_bank, b.min_bank) as min_bank,
        greatest(r.max_bank, b.max_bank) as max_bank,
        greatest(r.counterparty_customer_id, b.counterparty_customer_id)
            as counterparty_customer_id,
        cast(r.sum_cents as double) as raw_cents,
        b.block_rank is null as is_new
    from int_merchant_pair_state as r
    left join block as b
        on
            b.customer_id = r.customer_id
            and b.counterparty_key = r.counterparty_key
            and b.role = r.role
),

untouched as (
    select
        b.customer_id,
        b.counterparty_key,
        b.role,
        b.txn_count,
        b.sum_cents,
        b.sum_sq_cents,
        b.month_bits,
        b.last_txn_date,
        b.min_name,
        b.max_name,
        b.min_bank,
        b.max_bank,
        b.counterparty_customer_id,
        cast(0 as double) as raw_cents,
        false as is_new
    from block as b
    anti join touched as t
        on
            t.customer_id = b.customer_id
            and t.counterparty_key = b.counterparty_key
            and t.role = b.role
    where b.block_rank <= greatest($max_buyers, $max_suppliers, 1)
),

final as (
    select *, cast(sum_cents as double) as amount_cents from touched
    union all
    select *, cast(sum_cents as double) as amount_cents from untouched
)

select * from final
