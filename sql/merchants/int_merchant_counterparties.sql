-- table:  int_merchant_counterparties
-- grain:  customer_id, counterparty_key, role, business_date
-- inputs: int_merchant_scorecard, int_merchant_screen, int_merchant_window_txns, int_merchant_pairs, int_merchant_pair_totals
-- params: business_date, max_buyers, max_suppliers
-- materialize: partition
-- The counterparty chain of each detected merchant over the trailing window: its main buyers
-- (downstream: payers of its inflows) and suppliers (upstream: payees of its transfers out),
-- the max_buyers / max_suppliers largest by amount. A counterparty is identified by its
-- account, or its name when the account is missing. is_our_customer: the counterparty is a
-- personal customer of this bank (counterparty_customer_id set, as the extract spec says);
-- is_counterparty_merchant: that customer is itself a detected merchant. Own-account
-- transfers (is_own), loan drawdowns and product redemptions are left out, as in the
-- signals. The pairs that can rank high, with their counts, months, names and banks over
-- the window, are int_merchant_pairs (amounts in whole cents as doubles, exact), the totals
-- per role int_merchant_pair_totals; the window's transactions (int_merchant_window_txns)
-- are read only for a counterparty seen under several names or banks.
-- The merchants are taken as the screened customers (a temp table of this run) whose
-- scorecard says is_merchant: the scorecard's rows of the date are written in the stage's
-- transaction, where DuckDB estimates them at 0 rows and would build its hash tables on the
-- large side of the joins.
with
merchants as (
    select s.customer_id
    from int_merchant_screen as s
    semi join int_merchant_scorecard as c
        on
            c.customer_id = s.customer_id
            and c.business_date = $business_date
            and c.is_merchant
),

contenders as (
    select p.*, t.role_cents
    from int_merchant_pairs as p
    semi join merchants as m on m.customer_id = p.customer_id
    inner join int_merchant_pair_totals as t on t.customer_id = p.customer_id and t.role = p.role
    where p.role in ('buyer', 'supplier')
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, role order by amount_cents desc, counterparty_key
        ) as counterparty_rank,
        cast(amount_cents / 100 as decimal(18, 2)) as amount,
        cast(amount_cents / 100 as double) / (cast(role_cents as double) / 100) as share_of_role
    from contenders
),

kept as (
    select *
    from ranked
    where
        (role = 'buyer' and counterparty_rank <= $max_buyers)
        or (role = 'supplier' and counterparty_rank <= $max_suppliers)
),

-- A counterparty seen under several names or banks: the most frequent one, from its
-- transactions (every window transaction of the customer is read for it: reads_block in
-- int_merchant_coverage); of two as frequent, the smaller.
varied_pairs as (
    select customer_id, counterparty_key, role
    from kept
    where min_name <> max_name or min_bank <> max_bank
),

varied_trade as materialized (
    select
        t.customer_id,
        t.counterparty_key,
        case when t.direction = 'C' then 'buyer' else 'supplier' end as role,
        t.counterparty_name,
        t.counterparty_bank
    from int_merchant_window_txns as t
    semi join varied_pairs as v
        on
            v.customer_id = t.customer_id
            and v.counterparty_key = t.counterparty_key
            and v.role = case when t.direction = 'C' then 'buyer' else 'supplier' end
    where
        not t.is_own
        and (
            (t.direction = 'C' and t.txn_code not in ('LDR', 'PRR'))
            or (t.direction = 'D' and t.txn_code = 'TRO')
        )
),

varied_names as (
    select
        customer_id,
        counterparty_key,
        role,
        counterparty_name,
        row_number() over (
            partition by customer_id, counterparty_key, role
            order by count(*) desc, counterparty_name
        ) as name_rank
    from varied_trade
    where counterparty_name is not null
    group by customer_id, counterparty_key, role, counterparty_name
),

varied_banks as (
    select
        customer_id,
        counterparty_key,
        role,
        counterparty_bank,
        row_number() over (
            partition by customer_id, counterparty_key, role
            order by count(*) desc, counterparty_bank
        ) as bank_rank
    from varied_trade
    where counterparty_bank is not null
    group by customer_id, counterparty_key, role, counterparty_bank
),

varied as (
    select
        v.customer_id,
        v.counterparty_key,
        v.role,
        n.counterparty_name,
        b.counterparty_bank
    from varied_pairs as v
    left join varied_names as n
        on
            n.customer_id = v.customer_id
            and n.counterparty_key = v.counterparty_key
            and n.role = v.role
            and n.name_rank = 1
    left join varied_banks as b
        on
            b.customer_id = v.customer_id
            and b.counterparty_key = v.counterparty_key
            and b.role = v.role
            and b.bank_rank = 1
),

final as (
    select
        r.customer_id,
        cast($business_date as date) as business_date,
        r.counterparty_key,
        r.role,
        r.counterparty_rank,
        case when r.min_name = r.max_name then r.min_name else v.counterparty_name end
            as counterparty_name,
        case when r.min_bank = r.max_bank then r.min_bank else v.counterparty_bank end
            as counterparty_bank,
        cast(r.amount as decimal(18, 2)) as amount,
        r.share_of_role,
        r.txn_count,
        cast(bit_count(r.month_bits) as bigint) as active_months,
        r.last_txn_date,
        r.counterparty_customer_id is not null as is_our_customer,
        r.counterparty_customer_id,
        m.customer_id is not null as is_counterparty_merchant
    from kept as r
    left join varied as v
        on
            v.customer_id = r.customer_id
            and v.counterparty_key = r.counterparty_key
            and v.role = r.role
    left join merchants as m on m.customer_id = r.counterparty_customer_id
)

select * from final
