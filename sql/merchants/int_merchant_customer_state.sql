-- table:  int_merchant_customer_state
-- grain:  customer_id
-- inputs: int_merchant_window_txns, int_merchant_coverage
-- params: block_start, block_end, build_block, small_payment_max_amount, round_amount_unit
-- materialize: table
-- Per screened customer, the sums and counts of the signals that add up across disjoint sets
-- of transactions (NULL where no row counts, as the signals' sums over no row): inflows from
-- others (credits, not LDR or PRR, not own), their largest, those from a counterparty, those
-- of at most small_payment_max_amount, cash deposits at the counter; outflows to others
-- (TRO, PAY to a counterparty, not own), transfers out and those that are whole multiples of
-- round_amount_unit. build_block and the rows read: as int_merchant_pair_state.
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

final as (
    select
        customer_id,
        sum(amount) filter (where is_inflow) as inflow_amount,
        count(*) filter (where is_inflow) as inflow_count,
        max(amount) filter (where is_inflow) as largest_inflow_amount,
        sum(amount) filter (
            where is_inflow and counterparty_key is not null and amount <= $small_payment_max_amount
        ) as small_payment_amount,
        sum(amount) filter (where is_inflow and counterparty_key is not null)
            as payer_inflow_amount,
        count(*) filter (where is_inflow and txn_code = 'DEP' and channel = 'CTR')
            as counter_cash_deposit_count,
        sum(amount) filter (where is_inflow and txn_code = 'DEP' and channel = 'CTR')
            as counter_cash_amount,
        sum(amount) filter (where is_outflow) as outflow_amount,
        count(*) filter (where is_outflow and txn_code = 'TRO') as supplier_payment_count,
        count(*) filter (
            where
                is_outflow and txn_code = 'TRO'
                and cast(amount as double) / $round_amount_unit
                = floor(cast(amount as double) / $round_amount_unit)
        ) as round_payment_count
    from (
        select
            *,
            direction = 'C' and txn_code not in ('LDR', 'PRR') and not is_own as is_inflow,
            direction = 'D' and txn_code in ('TRO', 'PAY') and counterparty_key is not null
            and not is_own as is_outflow
        from txns
    )
    group by customer_id
)

select * from final
