-- table:  int_merchant_window_txns
-- grain:  one row per transaction of a screened customer in the window
-- inputs: int_merchant_screen, stg_transactions, hist_customers, hist_accounts
-- params: business_date, window_days
-- materialize: table
-- The trailing window's transactions (window_days ending on the business date, delivered up
-- to that date) of the screened customers (int_merchant_screen), read once from
-- stg_transactions for the signals and the counterparty chain; the stage keeps it as a temp
-- table for the run. business_date (the delivery date) tells the rows of the stored block of
-- closed months (agg_merchant_block_pairs) from the others. counterparty_key identifies the
-- counterparty by its account, or its name when the account is missing. is_own: a transfer
-- between the customer's own accounts (the counterparty is the customer, one of their
-- accounts, or carries their own name, i.e. their account at another bank).
with
names as (
    select c.customer_id, c.name
    from hist_customers as c
    semi join int_merchant_screen as s on s.customer_id = c.customer_id
    where c.valid_from <= $business_date and c.valid_to > $business_date
),

own_accounts as (
    select distinct a.customer_id, a.account_id
    from hist_accounts as a
    semi join int_merchant_screen as s on s.customer_id = a.customer_id
    where a.valid_from <= $business_date
),

txns as (
    select t.*
    from stg_transactions as t
    semi join int_merchant_screen as s on s.customer_id = t.customer_id
    where
        t.business_date <= $business_date
        and t.txn_date <= $business_date
        and t.txn_date > $business_date - $window_days
),

final as (
    select
        t.customer_id,
        t.business_date,
        t.txn_date,
        t.channel,
        t.txn_code,
        t.direction,
        t.amount,
        t.branch_id,
        coalesce(t.counterparty_account, t.counterparty_name) as counterparty_key,
        t.counterparty_name,
        t.counterparty_bank,
        t.counterparty_customer_id,
        (
            coalesce(t.counterparty_customer_id = t.customer_id, false)
            or oa.account_id is not null
            or coalesce(t.counterparty_name = n.name, false)
        ) as is_own
    from txns as t
    left join names as n on n.customer_id = t.customer_id
    left join own_accounts as oa
        on oa.customer_id = t.customer_id and oa.account_id = t.counterparty_account
)

select * from final
