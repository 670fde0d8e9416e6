-- table:  int_merchant_counterparties
-- grain:  customer_id, counterparty_key, role, business_date
-- inputs: int_merchant_scorecard, int_merchant_window_txns, hist_accounts, hist_customers
-- params: business_date, max_buyers, max_suppliers
-- materialize: partition
-- The counterparty chain of each detected merchant over the trailing window: its main buyers
-- (downstream: payers of its inflows) and suppliers (upstream: payees of its transfers out),
-- the max_buyers / max_suppliers largest by amount. A counterparty is identified by its
-- account, or its name when the account is missing. is_our_customer: the counterparty is a
-- personal customer of this bank (counterparty_customer_id set, as the extract spec says);
-- is_counterparty_merchant: that customer is itself a detected merchant. Own-account
-- transfers, loan drawdowns and product redemptions are left out, as in the signals. The
-- window's transactions are those read for the signals (int_merchant_window_txns).
with
merchants as (
    select customer_id
    from int_merchant_scorecard
    where business_date = $business_date and is_merchant
),

customers as (
    select customer_id, name
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date
),

own_accounts as (
    select distinct a.customer_id, a.account_id
    from hist_accounts as a
    semi join merchants as m on m.customer_id = a.customer_id
    where a.valid_from <= $business_date
),

trade as materialized (
    select
        t.customer_id,
        coalesce(t.counterparty_account, t.counterparty_name) as counterparty_key,
        case when t.direction = 'C' then 'buyer' else 'supplier' end as role,
        t.amount,
        t.txn_date,
        t.counterparty_name,
        t.counterparty_bank,
        t.counterparty_customer_id
    from int_merchant_window_txns as t
    semi join merchants as m on m.customer_id = t.customer_id
    inner join customers as c on c.customer_id = t.customer_id
    left join own_accounts as oa
        on oa.customer_id = t.customer_id and oa.account_id = t.counterparty_account
    where
        coalesce(t.counterparty_account, t.counterparty_name) is not null
        and oa.account_id is null
        and not coalesce(t.counterparty_customer_id = t.customer_id, false)
        and not coalesce(t.counterparty_name = c.name, false)
        and (
            (t.direction = 'C' and t.txn_code not in ('LDR', 'PRR'))
            or (t.direction = 'D' and t.txn_code = 'TRO')
        )
),

pair_amounts as (
    select customer_id, counterparty_key, role, sum(amount) as amount
    from trade
    group by customer_id, counterparty_key, role
),

ranked as (
    select
        *,
        row_number() over (
            partition by customer_id, role order by amount desc, counterparty_key
        ) as counterparty_rank,
        amount / sum(amount) over (partition by customer_id, role) as share_of_role
    from pair_amounts
),

kept as (
    select *
    from ranked
    where
        (role = 'buyer' and counterparty_rank <= $max_buyers)
        or (role = 'supplier' and counterparty_rank <= $max_suppliers)
),

-- Counts, months, names and banks for the kept counterparties only.
details as (
    select
        t.customer_id,
        t.counterparty_key,
        t.role,
        count(*) as txn_count,
        count(distinct date_trunc('month', t.txn_date)) as active_months,
        max(t.txn_date) as last_txn_date,
        mode(t.counterparty_name) as counterparty_name,
        mode(t.counterparty_bank) as counterparty_bank,
        max(t.counterparty_customer_id) as counterparty_customer_id
    from trade as t
    semi join kept as k
        on
            k.customer_id = t.customer_id
            and k.counterparty_key = t.counterparty_key
            and k.role = t.role
    group by t.customer_id, t.counterparty_key, t.role
),

final as (
    select
        r.customer_id,
        cast($business_date as date) as business_date,
        r.counterparty_key,
        r.role,
        r.counterparty_rank,
        d.counterparty_name,
        d.counterparty_bank,
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
    left join merchants as m on m.customer_id = d.counterparty_customer_id
)

select * from final
