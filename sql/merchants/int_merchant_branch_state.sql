-- table:  int_merchant_branch_state
-- grain:  customer_id, branch_id
-- inputs: int_merchant_window_txns, int_merchant_coverage
-- params: block_start, block_end, build_block
-- materialize: table
-- Per screened customer and branch: how many transactions were performed there (counts add up
-- across disjoint sets of transactions; whether the branch serves a market area is read as of
-- the date by the signals). build_block and the rows read: as int_merchant_pair_state.
with
txns as (
    select t.*
    from int_merchant_window_txns as t
    inner join int_merchant_coverage as c on c.customer_id = t.customer_id
    where
        t.branch_id is not null
        and case
            when $build_block then t.txn_date >= $block_start and t.business_date <= $block_end
            else not (c.is_covered and t.txn_date >= $block_start and t.business_date <= $block_end)
        end
),

final as (
    select customer_id, branch_id, count(*) as txn_count
    from txns
    group by customer_id, branch_id
)

select * from final
