-- table:  int_merchant_window_txns
-- grain:  one row per transaction of a screened customer in the window
-- inputs: int_merchant_coverage, stg_transactions
-- params: business_date, window_days, block_start, block_end
-- materialize: table
-- The trailing window's transactions (window_days ending on the business date, delivered up
-- to that date) of the screened customers (int_merchant_coverage) that the stored block of
-- closed months does not stand for: the days before the block and the deliveries after it
-- for every screened customer, and the block's rows (txn_date from block_start, delivered by
-- block_end) of the customers it does not cover (reads_block: also of those whose chain
-- needs them). Read once from stg_transactions in three
-- parts that the delivery and transaction dates prune; the stage keeps it as a temp table
-- for the run. business_date is the delivery date. counterparty_key identifies the
-- counterparty by its account, or its name when the account is missing. is_own: a transfer
-- between the customer's own accounts (the counterparty is the customer, one of their
-- accounts, or carries their own name, i.e. their account at another bank; name and accounts
-- as of the business date, from int_merchant_coverage).
with
readers as (
    select customer_id from int_merchant_coverage
),

block_readers as (
    select customer_id from int_merchant_coverage where reads_block
),

own_accounts as (
    select customer_id, unnest(own_accounts) as account_id
    from int_merchant_coverage
),

after_block as (
    select t.*
    from stg_transactions as t
    semi join readers as r on r.customer_id = t.customer_id
    where
        t.business_date > $block_end
        and t.business_date <= $business_date
        and t.txn_date <= $business_date
        and t.txn_date > $business_date - $window_days
),

before_block as (
    select t.*
    from stg_transactions as t
    semi join readers as r on r.customer_id = t.customer_id
    where
        t.business_date <= $block_end
        and t.txn_date < $block_start
        and t.txn_date > $business_date - $window_days
),

block_rows as (
    select t.*
    from stg_transactions as t
    semi join block_readers as u on u.customer_id = t.customer_id
    where
        t.business_date <= $block_end
        and t.txn_date >= $block_start
        and t.txn_date > $business_date - $window_days
),

txns as (
    select * from after_block
    union all
    select * from before_block
    union all
    select * from block_rows
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
            or coalesce(t.counterparty_name = c.name, false)
        ) as is_own
    from txns as t
    inner join int_merchant_coverage as c on c.customer_id = t.customer_id
    left join own_accounts as oa
        on oa.customer_id = t.customer_id and oa.account_id = t.counterparty_account
)

select * from final
