-- table:  int_merchant_counterparties
-- grain:  customer_id, counterparty_key, role, business_date
-- inputs: int_merchant_scorecard, stg_transactions, hist_accounts, hist_customers
-- params: business_date, window_days, max_buyers, max_suppliers
-- materialize: partition
-- The counterparty chain of each detected merchant over the trailing window: its main buyers
-- (downstream: payers of its inflows) and suppliers (upstream: payees of its transfers out),
-- the max_buyers / max_suppliers largest by amount. A counterparty is identified by its
-- account, or its name when the account is missing. is_our_customer: the counterparty is a
-- personal customer of this bank (counterparty_customer_id set, as the extract spec says);
-- is_counterparty_merchant: that customer is itself a detected merchant. Own-account
-- transfers, loan drawdowns and product redemptions are left out, as in the signals.
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
    select distinct customer_id, account_id
    from hist_accounts
    where valid_from <= $business_date
),

trade as (
    select
        t.customer_id,
        coalesce(t.counterparty_account, t.counterparty_name) as counterparty_key,
        case when t.direction = 'C' then 'buyer' else 'supplier' end as role,
        t.amount,
        t.txn_date,
        t.counterparty_name,
        t.counterparty_bank,
        t.counterparty_customer_id
    from stg_transactions as t
    semi join merchants as m on m.customer_id = t.customer_id
    inner join customers as c on c.customer_id = t.customer_id
    left join own_accounts as oa
        on oa.customer_id = t.customer_id and oa.account_id = t.counterparty_account
    where
        t.business_date <= $business_date
        and t.txn_date <= $business_date
        and t.txn_date > $business_date - $window_days
        and coalesce(t.counterparty_account, t.counterparty_name) is not null
        and oa.account_id is null
        and not coalesce(t.counterparty_customer_id = t.customer_id, false)
        and not coalesce(t.counterparty_name = c.name, false)
        and (
            (t.direction = 'C' and t.txn_code not in ('LDR', 'PRR'))
            or (t.direction = 'D' and t.txn_code = 'TRO')
        )
),

pairs as (
    select
        customer_id,
        counterparty_key,
        role,
        sum(amount) as amount,
        count(*) as txn_count,
        count(distinct date_trunc('month', txn_date)) as active_months,
        max(txn_date) as last_txn_date,
        mode(counterparty_name) as counterparty_name,
        mode(counterparty_bank) as counterparty_bank,
        max(counterparty_customer_id) as counterparty_customer_id
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
    from pairs
),

final as (
    select
        r.customer_id,
        cast($business_date as date) as business_date,
        r.counterparty_key,
        r.role,
        r.counterparty_rank,
        r.counterparty_name,
        r.counterparty_bank,
        cast(r.amount as decimal(18, 2)) as amount,
        r.share_of_role,
        r.txn_count,
        r.active_months,
        r.last_txn_date,
        r.counterparty_customer_id is not null as is_our_customer,
        r.counterparty_customer_id,
        m.customer_id is not null as is_counterparty_merchant
    from ranked as r
    left join merchants as m on m.customer_id = r.counterparty_customer_id
    where
        (r.role = 'buyer' and r.counterparty_rank <= $max_buyers)
        or (r.role = 'supplier' and r.counterparty_rank <= $max_suppliers)
)

select * from final
