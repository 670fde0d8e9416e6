-- table:  chk_contribution_reconciliation
-- grain:  business_date, branch_id, product_code, component
-- inputs: int_customer_product_contribution, int_customer_contribution, hist_accounts, stg_transactions, ref_product_rates, ref_ftp_by_term, ref_channel_costs, ref_interchange, ref_pd_buckets, ref_lifetime_pd
-- params: business_date, oldest_month, oldest_days, oldest_month_days, day_count_days, annual_days, history_days, tolerance_per_row, watch_dpd, default_dpd, default_statuses, years_without_maturity, grace_days, reserve_ratio_percent, reserve_rate_percent, default_risk_weight_percent, capital_cost_percent
-- materialize: partition
-- Contribution reconciled against the source, not against itself: per account branch and
-- product, interest (deposit and loan margin), commission, upkeep, reserve cost, risk cost
-- (expected loss and default provisions), capital charge, fees, interchange and service cost
-- recomputed here straight from the loaded account versions
-- (hist_accounts) and transactions (stg_transactions) of the window as of the business date,
-- without the monthly aggregates or window parts the customer figures are built from, and
-- compared with the sum over customers (int_customer_product_contribution). Rows with branch
-- '*' and product '*' compare int_customer_contribution's total with the source total; the
-- fee row there is the fee revenue found in the extracts. The rules are restated here on
-- purpose (credit stages, non-accrual in default, cards accruing only when the previous
-- statement was not repaid by its due date, upkeep on open days, FEE amounts as fees): a rule
-- changed in one place only makes the check fail. The rolling year is the window's months
-- whole and the month before them pro rata (weight oldest_days / oldest_month_days), as in
-- int_customer_product_contribution. An account's branch and product in a month are those of
-- its latest version as of the month's end (the business date in its own month), as in the
-- customer figures. Customer amounts are rounded to 6 decimals, so n summed rows may differ by
-- n × tolerance_per_row; a larger difference fails the contribution stage.
with
months as (
    -- weight: the month's days in the rolling year, in oldest_month_days-ths
    select cast(m as date) as month_start,
           least(last_day(cast(m as date)), cast($business_date as date)) as as_of,
           case when cast(m as date) = cast($oldest_month as date) then $oldest_days
                else $oldest_month_days end as weight
    from range(cast($oldest_month as timestamp), cast($business_date as timestamp)
               + interval 1 day, interval 1 month) t(m)
),
day_spans as (
    -- every (account version, month) overlap: the days the version was valid in the month
    select h.*, m.month_start, m.as_of, m.weight,
           greatest(h.valid_from, m.month_start) as day_from,
           least(h.valid_to, m.as_of + 1) as day_to
    from hist_accounts h
    join months m on h.valid_from <= m.as_of and h.valid_to > m.month_start
),
owner_month as (
    select account_id, month_start,
           arg_max(branch_id, valid_from) as branch_id,
           arg_max(product_code, valid_from) as product_code
    from day_spans
    group by account_id, month_start
),
cycle_months as (
    -- the window's months and the one before (an open cycle is judged like the one before)
    select cast(m as date) as month_start
    from range(cast($oldest_month as timestamp) - interval 1 month,
               cast($business_date as timestamp) + interval 1 day, interval 1 month) t(m)
),
statement_balance as (
    -- a card's balance on the last day of the month before: its statement
    select m.month_start, h.account_id, h.balance
    from cycle_months m
    join hist_accounts h
      on h.product_code = 'CCD'
     and h.valid_from <= m.month_start - 1 and h.valid_to > m.month_start - 1
     and h.valid_from <= cast($business_date as date)
),
card_payments as (
    -- repayments to cards: LRP transactions naming the card, credits posted on the card
    select case when t.direction = 'C' then t.account_id else t.counterparty_account end
               as account_id,
           t.txn_date, t.amount
    from stg_transactions t
    where t.business_date <= cast($business_date as date)
      and t.txn_date >= cast($oldest_month as date) - interval 1 month
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
           case when month_start - 1 + $grace_days <= cast($business_date as date)
                     or repaid >= balance
                then balance > 0 and repaid < balance
                else coalesce(lag(balance > 0 and repaid < balance)
                                  over (partition by account_id order by month_start), false)
           end as revolves
    from card_repaid
),
rated as (
    select o.branch_id, o.product_code, r.product_group,
           d.balance * datediff('day', d.day_from, d.day_to) * d.weight as balance_days,
           coalesce(f.ftp_rate_percent, r.ftp_rate_percent) as ftp,
           coalesce(d.interest_rate, 0) as rate,
           (coalesce(d.days_past_due, 0) >= $default_dpd
            or list_contains($default_statuses, d.status)) as in_default,
           coalesce(d.days_past_due, 0) >= $watch_dpd as past_watch,
           pb.pd_percent as pd_12m, lp.pd_percent as pd_lifetime,
           d.product_code <> 'CCD' or coalesce(c.revolves, false) as may_accrue,
           case when d.status = 'C' then 0
                else greatest(0, datediff('day',
                        greatest(d.day_from, coalesce(d.open_date, d.day_from)),
                        least(d.day_to, coalesce(d.close_date, d.day_to)))) * d.weight
           end as open_days,
           r.commission_rate_percent, r.upkeep_amount_per_year, r.lgd_percent,
           r.risk_weight_percent
    from day_spans d
    join owner_month o on o.account_id = d.account_id and o.month_start = d.month_start
    left join ref_product_rates r on r.product_code = d.product_code
    left join ref_ftp_by_term f
      on r.has_term_ftp and d.maturity_date is not null and d.open_date is not null
     and f.term_months = least(600, cast(round(datediff('day', d.open_date, d.maturity_date)
                                              * 12 / 365) as integer))
    left join card_months c on c.account_id = d.account_id and c.month_start = d.month_start
    left join ref_pd_buckets pb
      on coalesce(d.days_past_due, 0) between pb.min_days_past_due
         and coalesce(pb.max_days_past_due, 2147483647)
    left join ref_lifetime_pd lp
      on lp.min_days_past_due = pb.min_days_past_due
     and lp.years = case when d.maturity_date is null then $years_without_maturity
                         else least(40, greatest(1, cast(ceil(
                             datediff('day', d.day_from, d.maturity_date) / 365) as integer)))
                    end
    where d.day_to > d.day_from
),
balance_source as (
    select branch_id, product_code,
           sum(case when product_group = 'deposit' then (ftp - rate) * balance_days else 0 end)
               as deposit_nii,
           sum(case when product_group = 'lending'
                    then (case when in_default or not may_accrue then 0 else rate end - ftp)
                         * balance_days else 0 end) as loan_nii,
           sum(case when product_group = 'investment'
                    then commission_rate_percent * balance_days else 0 end) as commission,
           sum(coalesce(upkeep_amount_per_year, 0) * open_days) as upkeep,
           sum(case when product_group = 'deposit'
                    then $reserve_ratio_percent * (ftp - $reserve_rate_percent) * balance_days
                    else 0 end) as reserve,
           sum(case when product_group <> 'lending' or in_default then 0
                    when past_watch then lgd_percent * pd_lifetime * balance_days
                    else lgd_percent * pd_12m * balance_days end) as expected_loss,
           sum(case when product_group <> 'lending' then 0
                    when in_default then $default_risk_weight_percent * balance_days
                    else risk_weight_percent * balance_days end) as capital
    from rated
    group by branch_id, product_code
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
    where h.valid_from <= cast($business_date as date)
),
provision_source as (
    select o.branch_id, o.product_code,
           sum(r.lgd_percent * (d.exposure - coalesce(d.exposure_before, 0)) * m.weight)
               as provision
    from defaulted d
    join months m
      on d.valid_from between m.month_start and m.as_of
    join owner_month o on o.account_id = d.account_id and o.month_start = m.month_start
    left join ref_product_rates r on r.product_code = o.product_code
    where not (d.status = 'C' and coalesce(d.exposure_before, 0) > 0)
    group by o.branch_id, o.product_code
),
latest_version as (
    -- each account's latest version as of each month's end (the business date in its month)
    select h.account_id, m.month_start, h.product_code, h.branch_id
    from (select account_id, product_code, branch_id, valid_from,
                 lead(valid_from) over (partition by account_id order by valid_from) as next_from
          from hist_accounts
          where valid_from <= cast($business_date as date)) h
    join months m on h.valid_from <= m.as_of and (h.next_from is null or h.next_from > m.as_of)
),
txn_rows as (
    select account_id, channel, txn_code, direction, amount, fee,
           cast(date_trunc('month', business_date) as date) as month_start
    from stg_transactions
    where business_date between cast($oldest_month as date) and cast($business_date as date)
),
txn_by_account as (
    select account_id, month_start, channel, txn_code,
           count(*) as txns,
           sum(case when txn_code = 'FEE' and direction = 'C' then -amount
                    when txn_code = 'FEE' then amount
                    else coalesce(fee, 0) end) as fee
    from txn_rows
    group by all
),
pos_by_account as (
    -- interchange per purchase for each card product, kept for the account's own below
    select x.account_id, x.month_start, i.product_code,
           sum(case when i.cap_amount is not null
                         and x.amount * i.rate_percent * 0.01 > i.cap_amount
                    then i.cap_amount else x.amount * i.rate_percent * 0.01 end) as interchange
    from txn_rows x
    cross join ref_interchange i
    where x.txn_code = 'POS' and x.direction = 'D'
    group by all
),
txn_source as (
    select a.branch_id, coalesce(a.product_code, 'NONE') as product_code,
           sum(x.fee * m.weight) as fee,
           sum(x.txns * coalesce(c.unit_cost_amount, 0) * m.weight) as service_cost,
           0 as interchange
    from txn_by_account x
    join months m on m.month_start = x.month_start
    left join latest_version a on a.account_id = x.account_id and a.month_start = x.month_start
    left join ref_channel_costs c on c.channel = x.channel and c.txn_code = x.txn_code
    group by all
    union all by name
    select a.branch_id, a.product_code, 0 as fee, 0 as service_cost,
           sum(p.interchange * m.weight) as interchange
    from pos_by_account p
    join months m on m.month_start = p.month_start
    join latest_version a
      on a.account_id = p.account_id and a.month_start = p.month_start
     and a.product_code = p.product_code
    group by all
),
txn_totals as (
    select branch_id, product_code, sum(fee) as fee, sum(interchange) as interchange,
           sum(service_cost) as service_cost
    from txn_source
    group by all
),
source_wide as (
    select coalesce(b.branch_id, t.branch_id, p.branch_id) as branch_id,
           coalesce(b.product_code, t.product_code, p.product_code) as product_code,
           coalesce(b.deposit_nii, 0) * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days) as deposit_nii_amount,
           coalesce(b.loan_nii, 0) * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days) as loan_nii_amount,
           coalesce(b.commission, 0) * $annual_days
               / (100::bigint * $day_count_days * $history_days * $oldest_month_days) as commission_amount,
           coalesce(b.upkeep, 0) * $annual_days
               / ($day_count_days::bigint * $history_days * $oldest_month_days) as upkeep_cost_amount,
           coalesce(p.provision, 0) / (100 * $oldest_month_days) as default_provision_amount,
           coalesce(b.reserve, 0) * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days) as reserve_cost_amount,
           coalesce(b.expected_loss, 0) * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days)
               + coalesce(p.provision, 0) / (100 * $oldest_month_days) as risk_cost_amount,
           coalesce(b.capital, 0) * $capital_cost_percent * $annual_days
               / (10000::bigint * $day_count_days * $history_days * $oldest_month_days) as capital_charge_amount,
           coalesce(t.fee, 0) * $annual_days / ($history_days * $oldest_month_days) as fee_amount,
           coalesce(t.interchange, 0) * $annual_days
               / ($history_days * $oldest_month_days) as interchange_amount,
           coalesce(t.service_cost, 0) * $annual_days
               / ($history_days * $oldest_month_days) as service_cost_amount
    from balance_source b
    full outer join txn_totals t
      on t.branch_id is not distinct from b.branch_id and t.product_code = b.product_code
    full outer join provision_source p
      on p.branch_id is not distinct from coalesce(b.branch_id, t.branch_id)
     and p.product_code = coalesce(b.product_code, t.product_code)
),
source as (
    unpivot source_wide
    on deposit_nii_amount, loan_nii_amount, commission_amount, upkeep_cost_amount,
       reserve_cost_amount, risk_cost_amount, default_provision_amount, capital_charge_amount,
       fee_amount, interchange_amount, service_cost_amount
    into name component value source_amount
),
customer_sums_wide as (
    select branch_id, product_code, count(*) as summed_rows,
           sum(deposit_nii_amount) as deposit_nii_amount,
           sum(loan_nii_amount) as loan_nii_amount,
           sum(commission_amount) as commission_amount,
           sum(upkeep_cost_amount) as upkeep_cost_amount,
           sum(reserve_cost_amount) as reserve_cost_amount,
           sum(risk_cost_amount) as risk_cost_amount,
           sum(default_provision_amount) as default_provision_amount,
           sum(capital_charge_amount) as capital_charge_amount,
           sum(fee_amount) as fee_amount,
           sum(interchange_amount) as interchange_amount,
           sum(service_cost_amount) as service_cost_amount
    from int_customer_product_contribution
    where business_date = $business_date
    group by branch_id, product_code
),
customer_sums as (
    unpivot customer_sums_wide
    on deposit_nii_amount, loan_nii_amount, commission_amount, upkeep_cost_amount,
       reserve_cost_amount, risk_cost_amount, default_provision_amount, capital_charge_amount,
       fee_amount, interchange_amount, service_cost_amount
    into name component value customer_sum_amount
),
by_cell as (
    select coalesce(s.branch_id, p.branch_id) as branch_id,
           coalesce(s.product_code, p.product_code) as product_code,
           coalesce(s.component, p.component) as component,
           coalesce(s.summed_rows, 0) as summed_rows,
           cast(coalesce(s.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           cast(round(coalesce(p.source_amount, 0), 6) as decimal(38, 6)) as source_amount
    from customer_sums s
    full outer join source p
      on p.branch_id is not distinct from s.branch_id
     and p.product_code = s.product_code
     and p.component = s.component
),
whole_customers as (
    unpivot (
        select count(*) as summed_rows,
               sum(deposit_nii_amount) as deposit_nii_amount,
               sum(loan_nii_amount) as loan_nii_amount,
               sum(commission_amount) as commission_amount,
               sum(upkeep_cost_amount) as upkeep_cost_amount,
               sum(reserve_cost_amount) as reserve_cost_amount,
               sum(risk_cost_amount) as risk_cost_amount,
               sum(default_provision_amount) as default_provision_amount,
               sum(capital_charge_amount) as capital_charge_amount,
               sum(fee_amount) as fee_amount,
               sum(interchange_amount) as interchange_amount,
               sum(service_cost_amount) as service_cost_amount
        from int_customer_contribution
        where business_date = $business_date
    )
    on deposit_nii_amount, loan_nii_amount, commission_amount, upkeep_cost_amount,
       reserve_cost_amount, risk_cost_amount, default_provision_amount, capital_charge_amount,
       fee_amount, interchange_amount, service_cost_amount
    into name component value customer_sum_amount
),
whole as (
    select '*' as branch_id, '*' as product_code, w.component,
           (select sum(summed_rows) from customer_sums_wide) as summed_rows,
           cast(coalesce(w.customer_sum_amount, 0) as decimal(38, 6)) as customer_sum_amount,
           cast(round(coalesce(
               (select sum(p.source_amount) from source p where p.component = w.component),
               0), 6) as decimal(38, 6)) as source_amount
    from whole_customers w
),
final as (
    select cast($business_date as date) as business_date,
           branch_id, product_code, replace(component, '_amount', '') as component,
           summed_rows, customer_sum_amount, source_amount,
           customer_sum_amount - source_amount as difference_amount,
           cast((summed_rows + 1) * $tolerance_per_row as decimal(38, 6)) as tolerance_amount,
           abs(customer_sum_amount - source_amount)
               <= (summed_rows + 1) * $tolerance_per_row as is_ok
    from (select * from by_cell union all select * from whole)
)
select * from final
