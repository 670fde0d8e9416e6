-- table:  agg_account_balance_month
-- grain:  account_id, month_start, as_of_date
-- inputs: hist_accounts, ref_product_rates, ref_pd_by_dpd, ref_lifetime_pd
-- params: month_from, month_to, as_of, watch_dpd, default_dpd, default_statuses, years_without_maturity
-- materialize: table
-- Balance-days per account and calendar month from the type-2 account versions: for each day
-- of the month up to as_of, the end-of-day balance of the version valid that day (valid_from
-- inclusive, valid_to exclusive). Only versions with valid_from <= as_of count, so a backfill
-- sees what that night saw. Exact DECIMAL: balance_days = sum(balance * days);
-- rate_balance_days = sum(balance * customer rate % * days) (rates may change between versions).
-- Credit staging of loans and cards, each day (docs/contribution.md, configs economics.credit):
--   default  days past due >= $default_dpd or status in $default_statuses (IFRS 9 stage 3)
--   watch    days past due >= $watch_dpd (stage 2)
--   performing otherwise (stage 1)
-- accrual_rate_balance_days leaves out the days in default (non-accrual); pd_balance_days is
-- Σ PD% × balance × days with the 12-month PD of the day's bucket (ref_pd_by_dpd: the bucket
-- of each number of days past due, those past the last bucket's start at its start) when
-- performing and the lifetime PD (remaining term, ref_lifetime_pd) when in watch, nothing in
-- default; a default is provisioned once instead: default_exposure_change is the change in defaulted exposure at the
-- versions starting in the month (+balance on entering default, −balance on curing, the balance
-- change while in default; 0 when a defaulted account closes: the provision is used by the
-- write-off). Accounts already in default in the first snapshot the warehouse holds are the
-- opening book: provisioned before cvp, so their first version moves nothing. open_days counts the days the account was open (status not C, on or after
-- open_date, before close_date): upkeep is charged on those only.
-- Incremental: pipeline/stages/features.py runs this for a range of months and replaces those
-- months only (delete + insert). A closed month (as_of_date = its last day) is recomputed only
-- when agg_refresh_log shows an ACCT delivery for that month loaded after its last refresh; the
-- current month is kept as one partial row set with as_of_date = the business date.
with
months as (
    select cast(m as date) as month_start,
           least(cast(m + interval 1 month as date) - 1, cast($as_of as date)) as last_day
    from (select unnest(generate_series(cast($month_from as timestamp),
                                        cast($month_to as timestamp), interval 1 month)) as m) t
),
versions as (
    -- valid_to >= month_from keeps the version just before the range: the previous state of
    -- a version starting on the first day
    select h.account_id, h.customer_id, h.product_code, h.branch_id, h.balance,
           h.interest_rate, h.days_past_due, h.status, h.open_date, h.maturity_date,
           h.close_date, h.valid_from, h.valid_to,
           coalesce(r.product_group = 'lending', false) as is_lending
    from hist_accounts h
    left join ref_product_rates r on r.product_code = h.product_code
    where h.valid_from <= cast($as_of as date)
      and h.valid_to >= cast($month_from as date)
),
staged as (
    select *,
           case when not is_lending then 'none'
                when coalesce(days_past_due, 0) >= $default_dpd
                     or list_contains($default_statuses, status) then 'default'
                when coalesce(days_past_due, 0) >= $watch_dpd then 'watch'
                else 'performing' end as credit_stage
    from versions
),
movements as (
    -- provisions are booked when a version starts: the change of defaulted exposure from the
    -- account's previous version (none before the first snapshot: the opening book)
    select *,
           case when credit_stage = 'default' then coalesce(balance, 0) else 0 end
               - coalesce(lag(case when credit_stage = 'default' then coalesce(balance, 0)
                                   else 0 end)
                              over (partition by account_id order by valid_from),
                          case when valid_from = (select min(valid_from) from hist_accounts)
                                    and credit_stage = 'default'
                               then coalesce(balance, 0) else 0 end)
               as exposure_change,
           lag(credit_stage) over (partition by account_id order by valid_from) as previous_stage
    from staged
),
overlap as (
    select v.*, m.month_start, m.last_day,
           greatest(v.valid_from, m.month_start) as day_from,
           least(v.valid_to, m.last_day + 1) as day_to
    from movements v
    join months m
      on v.valid_from <= m.last_day and v.valid_to > m.month_start
),
spans as (
    select o.*, datediff('day', o.day_from, o.day_to) as days,
           case when o.status = 'C' then 0
                else greatest(0, datediff('day',
                        greatest(o.day_from, coalesce(o.open_date, o.day_from)),
                        least(o.day_to, coalesce(o.close_date, o.day_to))))
           end as open_days,
           case when o.credit_stage = 'performing' then pb.pd_percent
                when o.credit_stage = 'watch' then lp.pd_percent
                else 0 end as pd_percent,
           case when o.valid_from >= o.month_start
                     and not (o.status = 'C' and o.previous_stage = 'default')
                then o.exposure_change else 0 end as month_exposure_change,
           cast(round(cast(datediff('day', o.open_date, o.maturity_date) * 12 as double) / 365)
                as integer) as term_months
    from overlap o
    left join ref_pd_by_dpd pb
      on pb.days_past_due = least(coalesce(o.days_past_due, 0),
                                  (select max(days_past_due) from ref_pd_by_dpd))
    left join ref_lifetime_pd lp
      -- watch days only: the key is null otherwise (a condition on one side in the ON clause
      -- of a left join makes DuckDB loop over every pair instead of hashing)
      on lp.min_days_past_due = case when o.credit_stage = 'watch' then pb.min_days_past_due end
     and lp.years = least(40, greatest(1, coalesce(
             cast(ceil(cast(datediff('day', o.day_from, o.maturity_date) as double) / 365)
                  as integer),
             $years_without_maturity)))
    where o.day_to > o.day_from
),
final as (
    select account_id,
           month_start,
           max(last_day) as as_of_date,
           -- the latest value that is not NULL (DuckDB's arg_max skips NULLs, Spark's not)
           arg_max(customer_id, day_from) filter (where customer_id is not null) as customer_id,
           arg_max(product_code, day_from) filter (where product_code is not null)
               as product_code,
           arg_max(branch_id, day_from) filter (where branch_id is not null) as branch_id,
           cast(sum(coalesce(balance, 0) * days) as decimal(18, 2)) as balance_days,
           cast(sum(coalesce(balance, 0) * coalesce(interest_rate, 0) * days)
                as decimal(38, 8)) as rate_balance_days,
           cast(sum(case when credit_stage <> 'default'
                         then coalesce(balance, 0) * coalesce(interest_rate, 0) * days
                         else 0 end) as decimal(38, 8)) as accrual_rate_balance_days,
           cast(sum(case when credit_stage = 'watch' then coalesce(balance, 0) * days else 0 end)
                as decimal(18, 2)) as watch_balance_days,
           cast(sum(case when credit_stage = 'default' then coalesce(balance, 0) * days
                         else 0 end) as decimal(18, 2)) as default_balance_days,
           cast(sum(coalesce(pd_percent, 0) * coalesce(balance, 0) * days) as decimal(38, 8))
               as pd_balance_days,
           cast(sum(month_exposure_change) as decimal(18, 2)) as default_exposure_change,
           cast(sum(days) as integer) as days_covered,
           cast(sum(open_days) as integer) as open_days,
           cast(arg_max(coalesce(balance, 0), day_from) as decimal(18, 2)) as closing_balance,
           cast(max(coalesce(days_past_due, 0)) as integer) as max_days_past_due,
           arg_max(term_months, day_from) filter (where term_months is not null) as term_months
    from spans
    group by account_id, month_start
)
select * from final
