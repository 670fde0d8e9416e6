-- table:  agg_source_contribution_month
-- grain:  month_start, as_of_date, branch_id, product_code
-- inputs: hist_accounts, stg_transactions, ref_product_rates, ref_ftp_by_term, ref_channel_costs, ref_interchange, ref_pd_buckets, ref_lifetime_pd
-- params: month_from, month_to, as_of, watch_dpd, default_dpd, default_statuses, years_without_maturity, grace_days, reserve_ratio_percent, reserve_rate_percent, default_risk_weight_percent
-- materialize: table
-- The other side of the contribution reconciliation (chk_contribution_reconciliation): each
-- contribution numerator per calendar month, account branch and product, recomputed straight
-- from the loaded account versions (hist_accounts) and transactions (stg_transactions) as of
-- as_of, without the monthly aggregates and window parts the customer figures are built from.
-- The rules are restated here on purpose (credit stages, non-accrual in default, lifetime PD in
-- watch, provisions once on entering default and the opening book, cards accruing only when
-- the previous statement was not repaid by its due date, upkeep on open days, FEE amounts as
-- fees, matched-maturity FTP, reserve cost, risk weights): a rule changed in one place only
-- makes the check fail. Numerators as in agg_customer_contribution_parts (rates in percent,
-- not yet divided by the day count). An account's branch and product in a month are those of
-- its latest version as of the month's end (as_of in its own month), as in the customer
-- figures. Incremental like the features aggregates: a closed month is recomputed only when a
-- delivery for it arrives or the economics config changes (pipeline/stages/contribution.py).
with
months as (
    select cast(m as date) as month_start,
           least(last_day(cast(m as date)), cast($as_of as date)) as as_of
    from (select unnest(generate_series(cast($month_from as timestamp),
                                        cast($month_to as timestamp), interval 1 month)) as m) t
),
day_spans as (
    -- every (account version, month) overlap: the days the version was valid in the month
    select h.account_id, h.product_code, h.branch_id, h.balance, h.interest_rate, h.status,
           h.days_past_due, h.open_date, h.close_date, h.maturity_date, h.valid_from,
           m.month_start, m.as_of,
           greatest(h.valid_from, m.month_start) as day_from,
           least(h.valid_to, m.as_of + 1) as day_to,
           case when h.maturity_date is not null and h.open_date is not null
                then least(600, cast(round(cast(datediff('day', h.open_date, h.maturity_date)
                                                * 12 as double) / 365) as integer)) end
               as term_months
    from hist_accounts h
    join months m on h.valid_from <= m.as_of and h.valid_to > m.month_start
),
owner_month as (
    select account_id, month_start,
           arg_max(branch_id, valid_from) filter (where branch_id is not null) as branch_id,
           arg_max(product_code, valid_from) filter (where product_code is not null)
               as product_code
    from day_spans
    group by account_id, month_start
),
cycle_months as (
    -- the months and the one before (an open cycle is judged like the one before)
    select cast(m as date) as month_start
    from (select unnest(generate_series(cast($month_from as timestamp) - interval 1 month,
                                        cast($month_to as timestamp), interval 1 month)) as m) t
),
statement_balance as (
    -- a card's balance on the last day of the month before: its statement
    select m.month_start, h.account_id, h.balance
    from cycle_months m
    join hist_accounts h
      on h.product_code = 'CCD'
     and h.valid_from <= m.month_start - 1 and h.valid_to > m.month_start - 1
     and h.valid_from <= cast($as_of as date)
),
card_payments as (
    -- repayments to cards: LRP transactions naming the card, credits posted on the card
    select case when t.direction = 'C' then t.account_id else t.counterparty_account end
               as account_id,
           t.txn_date, t.amount
    from stg_transactions t
    where t.business_date <= cast($as_of as date)
      and t.txn_date >= cast($month_from as date) - interval 1 month
      and t.txn_date <= cast($as_of as date)
      and ((t.txn_code = 'LRP' and t.direction = 'D'
            and t.counterparty_account in (select account_id from statement_balance))
           or (t.direction = 'C'
               and t.account_id in (select account_id from statement_balance)))
),
card_repaid as (
    select s.account_id, s.month_start, s.balance,
           coalesce(sum(p.amount), 0) as repaid
    from statement_balance s
    left join card_payments p
      on p.account_id = s.account_id
     and p.txn_date between s.month_start and s.month_start - 1 + $grace_days
    group by all
),
card_months as (
    -- revolving in a month: last month's statement not repaid by its due date (while the due
    -- date is still ahead, as the month before)
    select account_id, month_start,
           case when month_start - 1 + $grace_days <= cast($as_of as date)
                     or repaid >= balance
                then balance > 0 and repaid < balance
                else coalesce(lag(balance > 0 and repaid < balance)
                                  over (partition by account_id order by month_start), false)
           end as revolves
    from card_repaid
),
rated as (
    select o.month_start, o.branch_id, o.product_code, r.product_group,
           d.balance * datediff('day', d.day_from, d.day_to) as balance_days,
           case when r.has_term_ftp and f.ftp_rate_percent is not null then f.ftp_rate_percent
                else r.ftp_rate_percent end as ftp,
           coalesce(d.interest_rate, 0) as rate,
           (coalesce(d.days_past_due, 0) >= $default_dpd
            or list_contains($default_statuses, d.status)) as in_default,
           d.product_code <> 'CCD' or coalesce(c.revolves, false) as may_accrue,
           case when d.status = 'C' then 0
                else greatest(0, datediff('day',
                        greatest(d.day_from, coalesce(d.open_date, d.day_from)),
                        least(d.day_to, coalesce(d.close_date, d.day_to)))) end as open_days,
           r.commission_rate_percent, r.upkeep_amount_per_year, r.lgd_percent,
           r.risk_weight_percent,
           -- what a performing loan's PD depends on: its days past due, and in watch the
           -- years to maturity (lifetime PD); null on rows without expected loss
           case when r.product_group = 'lending'
                     and not (coalesce(d.days_past_due, 0) >= $default_dpd
                              or list_contains($default_statuses, d.status))
                then coalesce(d.days_past_due, 0) end as pd_days_past_due,
           case when r.product_group = 'lending'
                     and not (coalesce(d.days_past_due, 0) >= $default_dpd
                              or list_contains($default_statuses, d.status))
                     and coalesce(d.days_past_due, 0) >= $watch_dpd
                then case when d.maturity_date is null then $years_without_maturity
                          else least(40, greatest(1, cast(ceil(
                              cast(datediff('day', d.day_from, d.maturity_date) as double)
                              / 365) as integer)))
                     end end as pd_years
    from day_spans d
    join owner_month o on o.account_id = d.account_id and o.month_start = d.month_start
    left join ref_product_rates r on r.product_code = d.product_code
    left join ref_ftp_by_term f on f.term_months = d.term_months
    left join card_months c on c.account_id = d.account_id and c.month_start = d.month_start
    where d.day_to > d.day_from
),
rate_groups as (
    -- balance-days and open days summed per rate (and per PD key) first: a rate times a sum is
    -- the sum of the rate times each (exact decimals), and it costs one wide multiplication
    -- per group instead of one per account version and month (most of this query's CPU).
    -- The only reader of rated: a second one (the expected loss) made DuckDB materialise its
    -- rows (3M at 1M customers, 12M at 2M; docs/warehouse.md, session 19)
    select month_start, branch_id, product_code, product_group, ftp, rate, in_default,
           may_accrue, commission_rate_percent, upkeep_amount_per_year, risk_weight_percent,
           lgd_percent, pd_days_past_due, pd_years,
           sum(balance_days) as balance_days, sum(open_days) as open_days
    from rated
    group by all
),
balance_source as (
    select month_start, branch_id, product_code,
           sum(case when product_group = 'deposit' then (ftp - rate) * balance_days else 0 end)
               as deposit_nii_num,
           sum(case when product_group = 'lending'
                    then (case when in_default or not may_accrue then 0 else rate end - ftp)
                         * balance_days else 0 end) as loan_nii_num,
           sum(case when product_group = 'investment'
                    then commission_rate_percent * balance_days else 0 end) as commission_num,
           sum(coalesce(upkeep_amount_per_year, 0) * open_days) as upkeep_num,
           sum(case when product_group = 'deposit'
                    then $reserve_ratio_percent * (ftp - $reserve_rate_percent) * balance_days
                    else 0 end) as reserve_num,
           sum(case when product_group <> 'lending' then 0
                    when in_default then $default_risk_weight_percent * balance_days
                    else risk_weight_percent * balance_days end) as capital_num
    from rate_groups
    group by all
),
expected_loss_source as (
    -- the PD of a loan's or card's day: 12-month when performing, lifetime in watch
    select month_start, branch_id, product_code,
           sum(lgd_percent * pd * balance_days) as expected_loss_num
    from (
        select g.month_start, g.branch_id, g.product_code, g.lgd_percent,
               case when g.pd_years is not null then lp.pd_percent else pb.pd_percent end as pd,
               sum(g.balance_days) as balance_days
        from rate_groups g
        join ref_pd_buckets pb
          on g.pd_days_past_due between pb.min_days_past_due
             and coalesce(pb.max_days_past_due, 2147483647)
        left join ref_lifetime_pd lp
          on lp.min_days_past_due = pb.min_days_past_due and lp.years = g.pd_years
        group by all
    ) g
    group by all
),
defaulted as (
    -- exposure in default at each version of a loan or card, and the change from the version
    -- before; a defaulted account that closes uses its provision (no release); an account in
    -- default in the warehouse's first snapshot was provisioned before (the opening book)
    select h.account_id, h.valid_from, h.status, e.exposure,
           coalesce(lag(e.exposure) over (partition by h.account_id order by h.valid_from),
                    case when h.valid_from = (select min(valid_from) from hist_accounts)
                         then e.exposure else 0 end) as exposure_before
    from hist_accounts h
    join ref_product_rates r on r.product_code = h.product_code and r.product_group = 'lending'
    cross join lateral (
        select case when coalesce(h.days_past_due, 0) >= $default_dpd
                         or list_contains($default_statuses, h.status)
                    then h.balance else 0 end as exposure) e
    where h.valid_from <= cast($as_of as date)
      -- a version starting in the months and the one before it (ending on or after
      -- month_from): older history moves no provision in these months
      and h.valid_to >= cast($month_from as date)
),
provision_source as (
    select m.month_start, o.branch_id, o.product_code,
           sum(r.lgd_percent * (d.exposure - coalesce(d.exposure_before, 0))) as provision_num
    from defaulted d
    join months m on d.valid_from between m.month_start and m.as_of
    join owner_month o on o.account_id = d.account_id and o.month_start = m.month_start
    left join ref_product_rates r on r.product_code = o.product_code
    where not (d.status = 'C' and coalesce(d.exposure_before, 0) > 0)
    group by all
),
txn_rows as (
    select account_id, channel, txn_code, direction, amount, fee,
           cast(date_trunc('month', business_date) as date) as month_start
    from stg_transactions
    where business_date between cast($month_from as date) and cast($as_of as date)
),
latest_version as (
    -- the latest version as of each month's end (as_of in its own month) of each account with
    -- transactions in the months: a grouping, not a window (sorting every version of every
    -- account costs several times more)
    select h.account_id, m.month_start,
           arg_max(h.product_code, h.valid_from) filter (where h.product_code is not null)
               as product_code,
           arg_max(h.branch_id, h.valid_from) filter (where h.branch_id is not null) as branch_id
    from hist_accounts h
    join months m on h.valid_from <= m.as_of
    where h.account_id in (select account_id from txn_rows)
    group by h.account_id, m.month_start
),
txn_source as (
    -- each transaction priced on its own row and summed per branch and product (a sum of
    -- exact decimals: the same as summing per account first, without a group per account)
    select x.month_start, a.branch_id, coalesce(a.product_code, 'NONE') as product_code,
           sum(case when x.txn_code = 'FEE' and x.direction = 'C' then -x.amount
                    when x.txn_code = 'FEE' then x.amount
                    else coalesce(x.fee, 0) end) as fee_num,
           sum(coalesce(c.unit_cost_amount, 0)) as service_cost_num,
           -- interchange on purchases, by the card account's own product
           sum(case when i.product_code is null then 0
                    when i.cap_amount is not null
                         and x.amount * i.rate_percent * 0.01 > i.cap_amount
                    then i.cap_amount else x.amount * i.rate_percent * 0.01 end)
               as interchange_num
    from txn_rows x
    left join latest_version a on a.account_id = x.account_id and a.month_start = x.month_start
    left join ref_channel_costs c on c.channel = x.channel and c.txn_code = x.txn_code
    left join ref_interchange i
      on i.product_code = a.product_code and x.txn_code = 'POS' and x.direction = 'D'
    group by all
),
all_parts as (
    -- every part in every branch, NULL where a source has none
    select month_start, branch_id, product_code, deposit_nii_num, loan_nii_num,
           commission_num, upkeep_num, reserve_num, capital_num, null as expected_loss_num,
           null as provision_num, null as fee_num, null as service_cost_num,
           null as interchange_num
    from balance_source
    union all
    select month_start, branch_id, product_code, null, null, null, null, null, null,
           expected_loss_num, null, null, null, null
    from expected_loss_source
    union all
    select month_start, branch_id, product_code, null, null, null, null, null, null, null,
           provision_num, null, null, null
    from provision_source
    union all
    select month_start, branch_id, product_code, null, null, null, null, null, null, null,
           null, fee_num, service_cost_num, interchange_num
    from txn_source
),
final as (
    select month_start,
           least(last_day(month_start), cast($as_of as date)) as as_of_date,
           branch_id, product_code,
           cast(coalesce(sum(deposit_nii_num), 0) as decimal(38, 8)) as deposit_nii_num,
           cast(coalesce(sum(loan_nii_num), 0) as decimal(38, 8)) as loan_nii_num,
           cast(coalesce(sum(commission_num), 0) as decimal(38, 8)) as commission_num,
           cast(coalesce(sum(upkeep_num), 0) as decimal(38, 6)) as upkeep_num,
           cast(coalesce(sum(reserve_num), 0) as decimal(38, 12)) as reserve_num,
           cast(coalesce(sum(expected_loss_num), 0) as decimal(38, 14)) as expected_loss_num,
           cast(coalesce(sum(provision_num), 0) as decimal(38, 8)) as provision_num,
           cast(coalesce(sum(capital_num), 0) as decimal(38, 8)) as capital_num,
           cast(coalesce(sum(fee_num), 0) as decimal(38, 2)) as fee_num,
           cast(coalesce(sum(interchange_num), 0) as decimal(38, 10)) as interchange_num,
           cast(coalesce(sum(service_cost_num), 0) as decimal(38, 6)) as service_cost_num
    from all_parts
    group by all
)
select * from final
