-- table:  int_merchant_counterparties
-- grain:  customer_id, counterparty_key, role, business_date
-- inputs: int_merchant_scorecard, int_merchant_screen, int_merchant_window_txns, int_merchant_pairs
-- params: business_date, max_buyers, max_suppliers
-- materialize: partition
-- The counterparty chain of each detected merchant over the trailing window: its main buyers
-- (downstream: payers of its inflows) and suppliers (upstream: payees of its transfers out),
-- the max_buyers / max_suppliers largest by amount. A counterparty is identified by its
-- account, or its name when the account is missing. is_our_customer: the counterparty is a
-- personal customer of this bank (counterparty_customer_id set, as the extract spec says);
-- is_counterparty_merchant: that customer is itself a detected merchant. Own-account
-- transfers (is_own), loan drawdowns and product redemptions are left out, as in the
-- signals. The window's transactions and amounts per counterparty are those read for the
-- signals (int_merchant_window_txns, int_merchant_pairs; amounts in whole cents as doubles,
-- exact).
-- The merchants are taken as the screened customers (a temp table of this run) whose
-- scorecard says is_merchant: the scorecard's rows of the date are written in the stage's
-- transaction, where DuckDB estimates them at 0 rows and would build its hash tables on the
-- 18M window transactions (18 s at 1M customers instead of 8).
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

trade as (
    select
        t.customer_id,
        t.counterparty_key,
        case when t.direction = 'C' then 'buyer' else 'supplier' end as role,
        t.amount,
        t.txn_date,
        t.counterparty_name,
        t.counterparty_bank,
        t.counterparty_customer_id
    from int_merchant_window_txns as t
    semi join merchants as m on m.customer_id = t.customer_id
    where
        t.counterparty_key is not null
        and not t.is_own
        and (
            (t.direction = 'C' and t.txn_code not in ('LDR', 'PRR'))
            or (t.direction = 'D' and t.txn_code = 'TRO')
        )
),

pair_amounts as (
    select p.customer_id, p.counterparty_key, p.role, p.amount_cents
    from int_merchant_pairs as p
    semi join merchants as m on m.customer_id = p.customer_id
),

-- Per merchant and role: the total, and the amounts of its largest counterparties, so that
-- only counterparties that can be among the max_buyers / max_suppliers largest are ranked.
role_totals as (
    select
        customer_id,
        role,
        sum(amount_cents) as role_cents,
        max(amount_cents, greatest($max_buyers, $max_suppliers)) as top_cents
    from pair_amounts
    group by customer_id, role
),

contenders as (
    select p.*, t.role_cents
    from pair_amounts as p
    inner join role_totals as t on t.customer_id = p.customer_id and t.role = p.role
    where
        p.amount_cents >= t.top_cents[
            least(
                case when p.role = 'buyer' then $max_buyers else $max_suppliers end,
                len(t.top_cents)
            )
        ]
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, role order by amount_cents desc, counterparty_key
        ) as counterparty_rank,
        cast(amount_cents / 100 as decimal(18, 2)) as amount,
        (amount_cents / 100) / (role_cents / 100) as share_of_role
    from contenders
),

kept as (
    select * exclude (amount_cents, role_cents)
    from ranked
    where
        (role = 'buyer' and counterparty_rank <= $max_buyers)
        or (role = 'supplier' and counterparty_rank <= $max_suppliers)
),

kept_trade as materialized (
    select t.*
    from trade as t
    semi join kept as k
        on
            k.customer_id = t.customer_id
            and k.counterparty_key = t.counterparty_key
            and k.role = t.role
),

-- Counts, months, names and banks for the kept counterparties only, month by month first.
pair_months as (
    select
        customer_id,
        counterparty_key,
        role,
        count(*) as txn_count,
        max(txn_date) as last_txn_date,
        min(counterparty_name) as min_name,
        max(counterparty_name) as max_name,
        min(counterparty_bank) as min_bank,
        max(counterparty_bank) as max_bank,
        max(counterparty_customer_id) as counterparty_customer_id
    from kept_trade
    group by customer_id, counterparty_key, role, date_trunc('month', txn_date)
),

details as (
    select
        customer_id,
        counterparty_key,
        role,
        cast(sum(txn_count) as bigint) as txn_count,
        count(*) as active_months,
        max(last_txn_date) as last_txn_date,
        min(min_name) as min_name,
        max(max_name) as max_name,
        min(min_bank) as min_bank,
        max(max_bank) as max_bank,
        max(counterparty_customer_id) as counterparty_customer_id
    from pair_months
    group by customer_id, counterparty_key, role
),

-- A counterparty seen under several names or banks: the most frequent one.
varied as (
    select
        t.customer_id,
        t.counterparty_key,
        t.role,
        mode(t.counterparty_name) as counterparty_name,
        mode(t.counterparty_bank) as counterparty_bank
    from kept_trade as t
    semi join details as d
        on
            d.customer_id = t.customer_id
            and d.counterparty_key = t.counterparty_key
            and d.role = t.role
            and (d.min_name <> d.max_name or d.min_bank <> d.max_bank)
    group by t.customer_id, t.counterparty_key, t.role
),

final as (
    select
        r.customer_id,
        cast($business_date as date) as business_date,
        r.counterparty_key,
        r.role,
        r.counterparty_rank,
        case when d.min_name = d.max_name then d.min_name else v.counterparty_name end
            as counterparty_name,
        case when d.min_bank = d.max_bank then d.min_bank else v.counterparty_bank end
            as counterparty_bank,
        cast(r.amount as decimal(18, 2)) as amount,
        r.share_of_role,
        d.txn_count,
        d.active_months,
        d.last_txn_date,
        d.counterparty_customer_id is not null as is_our_customer,
        d.counterparty_customer_id,
        m.customer_id is not null as is_counterparty_merchant
    from kept as r
    inner join details as d
        on
            d.customer_id = r.customer_id
            and d.counterparty_key = r.counterparty_key
            and d.role = r.role
    left join varied as v
        on
            v.customer_id = d.customer_id
            and v.counterparty_key = d.counterparty_key
            and v.role = d.role
    left join merchants as m on m.customer_id = d.counterparty_customer_id
)

select * from final
