-- table:  int_merchant_day_state
-- grain:  customer_id, txn_date
-- inputs: int_merchant_window_txns, int_merchant_coverage
-- params: block_start, block_end, build_block
-- materialize: table
-- Per screened customer and day with an inflow from others (credits, not LDR or PRR, not own)
-- or an outflow (TRO, PAY, WDL, not own): their sums as whole cents in doubles (exact below
-- 2^53; NULL when none), which add up across disjoint sets of transactions. build_block and
-- the rows read: as int_merchant_pair_state.
with
txns as (
    select t.*
    from int_merchant_window_txns as t
    inner join int_merchant_coverage as c on c.customer_id = t.customer_id
    where
        case
            when $build_block then t.txn_date >= $block_start and t.business_date <= $block_end
            else not (c.is_covered and t.txn_date >= $block_start and t.business_date <= $block_end)
        end
),

days as (
    select
        customer_id,
        txn_date,
        sum(cast(cast(amount * 100 as bigint) as double)) filter (
            where direction = 'C' and txn_code not in ('LDR', 'PRR') and not is_own
        ) as day_inflow_cents,
        sum(cast(cast(amount * 100 as bigint) as double)) filter (
            where direction = 'D' and txn_code in ('TRO', 'PAY', 'WDL') and not is_own
        ) as day_outflow_cents
    from txns
    group by customer_id, txn_date
),

final as (
    select *
    from days
    where day_inflow_cents is not null or day_outflow_cents is not null
)

select * from final
