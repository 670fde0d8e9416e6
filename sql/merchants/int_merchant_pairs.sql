-- table:  int_merchant_pairs
-- grain:  customer_id, counterparty_key, role
-- inputs: int_merchant_window_txns
-- params:
-- materialize: table
-- What each screened customer received from each payer (role buyer: credits from others, not
-- LDR or PRR) and paid to each payee by transfer out (role supplier: TRO) over the window,
-- own-account transfers left out; the stage keeps it as a temp table for the run, read by the
-- signals (distinct payers, top payer) and the counterparty chain (ranking). amount_cents:
-- whole cents summed as doubles, exact below 2^53 and several times cheaper than DECIMAL(38)
-- sums over millions of pairs; /100 gives back the double a DECIMAL amount converts to.
with
flows as (
    select
        customer_id,
        counterparty_key,
        case when direction = 'C' then 'buyer' else 'supplier' end as role,
        cast(cast(amount * 100 as bigint) as double) as cents
    from int_merchant_window_txns
    where
        counterparty_key is not null
        and not is_own
        and (
            (direction = 'C' and txn_code not in ('LDR', 'PRR'))
            or (direction = 'D' and txn_code = 'TRO')
        )
),

final as (
    select customer_id, counterparty_key, role, sum(cents) as amount_cents
    from flows
    group by customer_id, counterparty_key, role
)

select * from final
