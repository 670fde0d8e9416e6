-- table:  int_merchant_pair_totals
-- grain:  customer_id, role
-- inputs: int_merchant_pairs, int_merchant_coverage, agg_merchant_block_customers
-- params:
-- materialize: table
-- Per screened customer and role (buyer, supplier): how many counterparties over the window
-- (pair_count: distinct payers for the signals) and the whole cents they moved (role_cents, a
-- double, exact below 2^53: the chain's share_of_role). The stored block's counts and cents
-- (agg_merchant_block_customers, for the customers it covers) plus the pairs new since the
-- block and the cents read raw (int_merchant_pairs). The stage keeps it as a temp table.
with
covered as (
    select b.*
    from agg_merchant_block_customers as b
    semi join int_merchant_coverage as c on c.customer_id = b.customer_id and c.is_covered
),

block as (
    select customer_id, 'buyer' as role, buyer_pairs as pair_count, buyer_cents as role_cents
    from covered
    union all
    select customer_id, 'supplier' as role, supplier_pairs, supplier_cents
    from covered
),

raw as (
    select
        customer_id,
        role,
        count(*) filter (where is_new) as pair_count,
        sum(raw_cents) as role_cents
    from int_merchant_pairs
    where role <> 'payee'
    group by customer_id, role
),

final as (
    select
        coalesce(b.customer_id, r.customer_id) as customer_id,
        coalesce(b.role, r.role) as role,
        coalesce(b.pair_count, 0) + coalesce(r.pair_count, 0) as pair_count,
        cast(coalesce(b.role_cents, 0) as double) + coalesce(r.role_cents, 0) as role_cents
    from block as b
    full outer join raw as r on r.customer_id = b.customer_id and r.role = b.role
    where coalesce(b.pair_count, 0) + coalesce(r.pair_count, 0) > 0
)

select * from final
