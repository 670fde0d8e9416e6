-- table:  agg_account_balance_month
-- grain:  account_id, month_start, as_of_date
-- inputs: hist_accounts
-- params: month_from, month_to, as_of
-- materialize: table
-- Balance-days per account and calendar month from the type-2 account versions: for each day
-- of the month up to as_of, the end-of-day balance of the version valid that day (valid_from
-- inclusive, valid_to exclusive). Only versions with valid_from <= as_of count, so a backfill
-- sees what that night saw. Exact DECIMAL: balance_days = sum(balance * days);
-- rate_balance_days = sum(balance * customer rate % * days) (rates may change between versions).
-- Incremental: pipeline/stages/features.py runs this for a range of months and replaces those
-- months only (delete + insert). A closed month (as_of_date = its last day) is recomputed only
-- when agg_refresh_log shows an ACCT delivery for that month loaded after its last refresh; the
-- current month is kept as one partial row set with as_of_date = the business date.
with
months as (
    select cast(m as date) as month_start,
           least(cast(m + interval 1 month as date) - 1, cast($as_of as date)) as last_day
    from range(cast($month_from as timestamp), cast($month_to as timestamp) + interval 1 day,
               interval 1 month) t(m)
),
versions as (
    select account_id, customer_id, product_code, branch_id, balance, interest_rate,
           days_past_due, valid_from, valid_to
    from hist_accounts
    where valid_from <= cast($as_of as date)
      and valid_to > cast($month_from as date)
),
overlap as (
    select v.*, m.month_start, m.last_day,
           greatest(v.valid_from, m.month_start) as day_from,
           least(v.valid_to, m.last_day + 1) as day_to
    from versions v
    join months m
      on v.valid_from <= m.last_day and v.valid_to > m.month_start
),
spans as (
    select *, datediff('day', day_from, day_to) as days
    from overlap
    where day_to > day_from
),
final as (
    select account_id,
           month_start,
           max(last_day) as as_of_date,
           arg_max(customer_id, day_from) as customer_id,
           arg_max(product_code, day_from) as product_code,
           arg_max(branch_id, day_from) as branch_id,
           cast(sum(coalesce(balance, 0) * days) as decimal(18, 2)) as balance_days,
           cast(sum(coalesce(balance, 0) * coalesce(interest_rate, 0) * days)
                as decimal(38, 8)) as rate_balance_days,
           cast(sum(days) as integer) as days_covered,
           cast(arg_max(coalesce(balance, 0), day_from) as decimal(18, 2)) as closing_balance,
           cast(max(coalesce(days_past_due, 0)) as integer) as max_days_past_due
    from spans
    group by account_id, month_start
)
select * from final
