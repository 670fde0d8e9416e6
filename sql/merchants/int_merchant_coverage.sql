-- table:  int_merchant_coverage
-- grain:  customer_id
-- inputs: int_merchant_screen, hist_customers, hist_accounts, agg_merchant_block_customers
-- params: business_date
-- materialize: table
-- Whether the stored block of closed months (agg_merchant_block_pairs) can stand for a
-- screened customer's transactions of those months: the customer is in the block, and their
-- name and own accounts as of the business date (what int_merchant_window_txns reads to tell
-- own-account transfers) are those the block was built with. The stage keeps it as a temp
-- table for the run; a customer not covered has every window transaction read raw.
-- reads_block: the block's transactions of the customer are read too (int_merchant_window_txns):
-- for a customer not covered, and (set by the stage) for one whose counterparty in the chain
-- shows two names or banks, whose most frequent the chain takes from the transactions.
with
names as (
    select c.customer_id, c.name
    from hist_customers as c
    semi join int_merchant_screen as s on s.customer_id = c.customer_id
    where c.valid_from <= $business_date and c.valid_to > $business_date
),

own_accounts as (
    select a.customer_id, list_sort(list(distinct a.account_id)) as own_accounts
    from hist_accounts as a
    semi join int_merchant_screen as s on s.customer_id = a.customer_id
    where a.valid_from <= $business_date
    group by a.customer_id
),

final as (
    select
        s.customer_id,
        n.name,
        o.own_accounts,
        coalesce(
            b.customer_id is not null
            and b.name is not distinct from n.name
            and b.own_accounts is not distinct from o.own_accounts,
            false
        ) as is_covered,
        not coalesce(
            b.customer_id is not null
            and b.name is not distinct from n.name
            and b.own_accounts is not distinct from o.own_accounts,
            false
        ) as reads_block
    from int_merchant_screen as s
    left join names as n on n.customer_id = s.customer_id
    left join own_accounts as o on o.customer_id = s.customer_id
    left join agg_merchant_block_customers as b on b.customer_id = s.customer_id
)

select * from final
