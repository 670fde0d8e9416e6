-- table:  agg_card_cycle_month
-- grain:  account_id, month_start, as_of_date
-- inputs: hist_accounts, stg_transactions
-- params: month_from, month_to, as_of, grace_days
-- materialize: table
-- Credit-card statement cycles: whether each card revolves in a month and so earns interest
-- on its balance that month (configs economics.cards). The statement of month M is struck on
-- the last day of month M−1 (statement_balance: the card's balance that day); it is due
-- $grace_days later. The card is a transactor in M when repayments between the day after the
-- statement date and the due date add up to at least the statement balance; otherwise it
-- revolves. A repayment to card X is an LRP transaction whose counterparty_account is X (paid
-- from another account) or a credit (direction C) on X itself. While the due date is after
-- as_of, a cycle not yet repaid in full is judged like the cycle before it.
-- Incremental like agg_account_balance_month (pipeline/stages/features.py, agg_refresh_log).
with
months as (
    -- the months asked for and the one before: an open cycle takes the previous one's verdict
    select cast(m as date) as month_start
    from (select unnest(generate_series(cast($month_from as timestamp) - interval 1 month,
                                        cast($month_to as timestamp), interval 1 month)) as m) t
    where cast(m as date) <= cast($as_of as date)
),
cards as (
    select distinct account_id
    from hist_accounts
    where product_code = 'CCD' and valid_from <= cast($as_of as date)
),
statements as (
    select c.account_id, m.month_start,
           cast(m.month_start - 1 as date) as statement_date,
           cast(m.month_start - 1 + $grace_days as date) as due_date,
           coalesce(h.balance, 0) as statement_balance
    from cards c
    cross join months m
    left join hist_accounts h
      on h.account_id = c.account_id
     and h.valid_from <= m.month_start - 1
     and h.valid_to > m.month_start - 1
     and h.valid_from <= cast($as_of as date)
),
repayments as (
    select coalesce(case when t.direction = 'C' then t.account_id end,
                    t.counterparty_account) as account_id,
           t.txn_date, t.amount
    from stg_transactions t
    where t.business_date <= cast($as_of as date)
      and t.txn_date >= cast(cast($month_from as date) - interval 1 month as date)
      and t.txn_date <= cast($as_of as date)
      and ((t.txn_code = 'LRP' and t.direction = 'D'
            and t.counterparty_account in (select account_id from cards))
           or (t.direction = 'C' and t.account_id in (select account_id from cards)))
),
cycles as (
    select s.account_id, s.month_start, s.statement_date, s.due_date, s.statement_balance,
           cast(coalesce(sum(r.amount), 0) as decimal(18, 2)) as repaid_amount,
           s.due_date <= cast($as_of as date) as is_settled
    from statements s
    left join repayments r
      on r.account_id = s.account_id
     and r.txn_date > s.statement_date
     and r.txn_date <= s.due_date
    group by all
),
judged as (
    select *,
           statement_balance > 0 and repaid_amount < statement_balance as is_short
    from cycles
),
final as (
    select account_id, month_start,
           least(last_day(month_start), cast($as_of as date)) as as_of_date,
           statement_date, due_date, statement_balance, repaid_amount, is_settled,
           case when is_settled or not is_short then is_short
                else coalesce(lag(is_short) over (partition by account_id
                                                  order by month_start), false)
           end as is_revolving
    from judged
)
select * from final
where month_start >= cast($month_from as date)
