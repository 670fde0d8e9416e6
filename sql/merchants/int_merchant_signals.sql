-- table:  int_merchant_signals
-- grain:  customer_id, business_date
-- inputs: int_merchant_screen, int_merchant_coverage, int_merchant_pairs, int_merchant_pair_totals, int_merchant_customer_state, int_merchant_day_state, int_merchant_branch_state, agg_merchant_block_customers, agg_merchant_block_days, agg_merchant_block_branches, hist_customers, hist_accounts, hist_branches
-- params: business_date, window_days, annualise, candidate_min_amount, recurring_supplier_min_months, top_suppliers, pass_through_days
-- materialize: partition
-- The evidence of business turnover per personal customer over the trailing window
-- (window_days ending on the business date; transactions delivered up to that date).
-- Inflows are credits from others: own-account transfers (the counterparty is the customer, one
-- of their accounts, or carries their own name, i.e. their account at another bank), loan
-- drawdowns (LDR) and product redemptions (PRR) are not turnover. turnover_amount is the
-- inflow scaled to a year over the days of history the window holds (annualise). Only
-- candidates are kept: customers whose yearly inflow reaches candidate_min_amount (the
-- scorecard needs turnover above the floor anyway), so the table stays small at scale. The
-- statistics are computed for the customers the monthly screen lets through
-- (int_merchant_screen, a superset of the candidates) and the final select keeps the
-- candidates. Each adds up across disjoint sets of transactions: the stored block of closed
-- months (agg_merchant_block_*, for the customers int_merchant_coverage says it covers) and
-- the rows read raw (int_merchant_*_state, sql/merchants/) are summed here; the pairs come
-- from int_merchant_pairs and int_merchant_pair_totals.
-- Outflows to others are transfers out (TRO) and bill payments (PAY) to a counterparty that
-- is not the customer; suppliers are the payees of transfers out.
with
customers as (
    select customer_id, occupation, business_license, home_branch_id, rm_id
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date and status <> 'C'
),

branches as (
    select branch_id, market_area = 'Y' as is_market
    from hist_branches
    where valid_from <= $business_date and valid_to > $business_date
),

history as not materialized (
    select customer_id, history_start from int_merchant_screen
),

covered as (
    select customer_id from int_merchant_coverage where is_covered
),

-- Sums over no row stay NULL, as sums over no transaction do.
sums as (
    select
        customer_id,
        sum(inflow_amount) as inflow_amount,
        cast(sum(inflow_count) as bigint) as inflow_count,
        max(largest_inflow_amount) as largest_inflow_amount,
        sum(small_payment_amount) as small_payment_amount,
        sum(payer_inflow_amount) as payer_inflow_amount,
        cast(sum(counter_cash_deposit_count) as bigint) as counter_cash_deposit_count,
        sum(counter_cash_amount) as counter_cash_amount,
        sum(outflow_amount) as outflow_amount,
        cast(sum(supplier_payment_count) as bigint) as supplier_payment_count,
        cast(sum(round_payment_count) as bigint) as round_payment_count
    from (
        select
            b.customer_id,
            b.inflow_amount,
            b.inflow_count,
            b.largest_inflow_amount,
            b.small_payment_amount,
            b.payer_inflow_amount,
            b.counter_cash_deposit_count,
            b.counter_cash_amount,
            b.outflow_amount,
            b.supplier_payment_count,
            b.round_payment_count
        from agg_merchant_block_customers as b
        semi join covered as c on c.customer_id = b.customer_id
        union all
        select
            customer_id,
            inflow_amount,
            inflow_count,
            largest_inflow_amount,
            small_payment_amount,
            payer_inflow_amount,
            counter_cash_deposit_count,
            counter_cash_amount,
            outflow_amount,
            supplier_payment_count,
            round_payment_count
        from int_merchant_customer_state
    )
    group by customer_id
),

inflow_totals as (
    select customer_id, inflow_amount, inflow_count, largest_inflow_amount
    from sums
    where inflow_amount is not null
),

candidates as (
    select
        t.customer_id,
        t.inflow_amount,
        t.inflow_count,
        t.largest_inflow_amount,
        h.history_start,
        date_diff('day', h.history_start, $business_date) + 1 as history_days,
        cast(
            round(
                t.inflow_amount
                * case
                    when $annualise
                    then 365.0 / cast(date_diff('day', h.history_start, $business_date) + 1 as double)
                    else 1
                end,
                2
            ) as decimal(18, 2)
        ) as turnover_amount
    from inflow_totals as t
    inner join history as h on h.customer_id = t.customer_id
    where
        t.inflow_amount
        * case
            when $annualise
            then 365.0 / cast(date_diff('day', h.history_start, $business_date) + 1 as double)
            else 1
        end
        >= $candidate_min_amount
),

-- Amounts per day are summed as whole cents in doubles: exact below 2^53 and several times
-- cheaper than DECIMAL(38) sums over millions of groups. /100 gives back the double a
-- DECIMAL amount converts to. Distinct payers come from int_merchant_pair_totals, the top
-- payer from int_merchant_pairs (every customer's largest payers are there, with their state
-- over the window).
payer_counts as (
    select customer_id, pair_count as payer_count
    from int_merchant_pair_totals
    where role = 'buyer'
),

payer_stats as (
    select
        customer_id,
        cast(max(amount_cents) as double) / 100 as top_payer_amount,
        max(amount_cents) filter (where counterparty_key is not null) as top_payer_cents
    from int_merchant_pairs
    where role = 'buyer'
    group by customer_id
),

-- The top payer: the largest amount, and of payers with equal amounts the smallest key (as
-- the block ranks its pairs), so that every engine and every run picks the same one.
top_payer_keys as (
    select p.customer_id, min(p.counterparty_key) as top_payer_key
    from int_merchant_pairs as p
    inner join payer_stats as s
        on s.customer_id = p.customer_id and s.top_payer_cents = p.amount_cents
    where p.role = 'buyer'
    group by p.customer_id
),

-- The salary test looks at the top payer only: its months and the spread of its payments.
-- The coefficient of variation stddev_pop / avg is sqrt(n·Σc² − (Σc)²) / Σc over the
-- payments c in whole cents: integer sums, exact and independent of the order DuckDB meets
-- the rows in (stddev_pop's floating-point updates differed in the last digits from run to
-- run at 1M customers), rounded once by the square root and the division.
top_payers as (
    select
        p.customer_id,
        cast(bit_count(p.month_bits) as bigint) as top_payer_months,
        cast(
            sqrt(cast(p.txn_count * p.sum_sq_cents - p.sum_cents * p.sum_cents as double))
            / nullif(cast(p.sum_cents as double), 0)
            as double
        ) as top_payer_amount_cv
    from int_merchant_pairs as p
    inner join top_payer_keys as s
        on s.customer_id = p.customer_id and s.top_payer_key = p.counterparty_key
    where p.role = 'buyer'
),

daily_flows as materialized (
    select
        customer_id,
        txn_date,
        sum(day_inflow_cents) as day_inflow_cents,
        sum(day_outflow_cents) as day_outflow_cents
    from (
        select b.customer_id, b.txn_date, b.day_inflow_cents, b.day_outflow_cents
        from agg_merchant_block_days as b
        semi join covered as c on c.customer_id = b.customer_id
        union all
        select customer_id, txn_date, day_inflow_cents, day_outflow_cents
        from int_merchant_day_state
    )
    group by customer_id, txn_date
),

inflow_stats as (
    select
        customer_id,
        small_payment_amount,
        payer_inflow_amount,
        counter_cash_deposit_count,
        counter_cash_amount
    from sums
    where inflow_amount is not null
),

-- Days and weeks with an inflow, from the days (daily_flows) rather than every inflow.
-- A business day is Monday to Friday: (date_diff('day', date '1970-01-05', d) % 7 + 7) % 7 + 1
-- is the ISO weekday of d (1 = Monday; 1970-01-05 was a Monday).
inflow_days as (
    select
        customer_id,
        count(distinct date_trunc('week', txn_date)) as inflow_weeks,
        count(*) filter (
            where (date_diff('day', date '1970-01-05', txn_date) % 7 + 7) % 7 + 1 <= 5
        ) as inflow_business_days
    from daily_flows
    where day_inflow_cents is not null
    group by customer_id
),

-- The window's days: day n is the business date - n.
window_days as (
    select unnest(generate_series(0, $window_days - 1)) as n
),

calendar as (
    select
        day,
        sum(case when (date_diff('day', date '1970-01-05', day) % 7 + 7) % 7 + 1 <= 5
                 then 1 else 0 end) over (order by day desc) as weekdays_to_end
    from (select cast($business_date - cast(n as integer) as date) as day from window_days)
),

-- Payees: the pairs of role payee (TRO and PAY to a counterparty, not own), all of them.
payees as (
    select
        customer_id,
        counterparty_key,
        sum_cents * 0.01 as payee_amount,
        bit_count(month_bits) as payee_months,
        row_number() over (partition by customer_id order by sum_cents desc) as payee_rank
    from int_merchant_pairs
    where role = 'payee'
),

supplier_stats as (
    select customer_id, outflow_amount, supplier_payment_count, round_payment_count
    from sums
    where outflow_amount is not null
),

payee_stats as (
    select
        customer_id,
        count(*) as supplier_count,
        count(*) filter (where payee_months >= $recurring_supplier_min_months)
            as recurring_supplier_count,
        sum(payee_amount) filter (where payee_rank <= $top_suppliers) as top_supplier_amount
    from payees
    group by customer_id
),

pass_through as (
    select
        customer_id,
        cast(sum(day_outflow_cents) filter (where recent_inflow_cents > 0) as double) / 100
            as passed_amount
    from (
        select
            customer_id,
            day_outflow_cents,
            sum(coalesce(day_inflow_cents, 0)) over (
                partition by customer_id order by txn_date
                range between interval ($pass_through_days) day preceding and current row
            ) as recent_inflow_cents
        from daily_flows
    )
    group by customer_id
),

branch_counts as (
    select customer_id, branch_id, sum(txn_count) as txn_count
    from (
        select b.customer_id, b.branch_id, b.txn_count
        from agg_merchant_block_branches as b
        semi join covered as c on c.customer_id = b.customer_id
        union all
        select customer_id, branch_id, txn_count
        from int_merchant_branch_state
    )
    group by customer_id, branch_id
),

branch_activity as (
    select
        t.customer_id,
        cast(sum(t.txn_count) as bigint) as branch_txn_count,
        cast(coalesce(sum(t.txn_count) filter (where b.is_market), 0) as bigint)
            as market_txn_count
    from branch_counts as t
    left join branches as b on b.branch_id = t.branch_id
    group by t.customer_id
),

balances as (
    select
        a.customer_id,
        sum(a.balance) filter (where a.product_code in ('DDA', 'TDA')) as deposit_amount,
        sum(a.balance) filter (where a.product_code in ('DDA', 'TDA', 'WMP', 'FND', 'INS'))
            as aum_amount
    from hist_accounts as a
    semi join candidates as c on c.customer_id = a.customer_id
    where
        a.valid_from <= $business_date and a.valid_to > $business_date
        and coalesce(a.status, 'A') <> 'C'
    group by a.customer_id
),

final as (
    select
        c.customer_id,
        cast($business_date as date) as business_date,
        c.history_days,
        c.inflow_amount,
        c.turnover_amount,
        c.inflow_count,
        coalesce(pc.payer_count, 0) as payer_count,
        cast(coalesce(i.small_payment_amount, 0) as double) / nullif(i.payer_inflow_amount, 0)
            as small_payment_share,
        cast(coalesce(p.top_payer_amount, 0) as double) / c.inflow_amount as top_payer_share,
        tp.top_payer_months,
        tp.top_payer_amount_cv,
        cast(c.largest_inflow_amount as double) / c.inflow_amount as largest_inflow_share,
        cast(d.inflow_weeks as double) / ceil(cast(c.history_days as double) / 7)
            as inflow_week_share,
        cast(d.inflow_business_days as double) / nullif(cal.weekdays_to_end, 0)
            as inflow_business_day_share,
        coalesce(s.outflow_amount, 0) as outflow_amount,
        coalesce(ps.supplier_count, 0) as supplier_count,
        coalesce(ps.recurring_supplier_count, 0) as recurring_supplier_count,
        cast(ps.top_supplier_amount as double) / nullif(s.outflow_amount, 0) as top_supplier_share,
        cast(s.round_payment_count as double) / nullif(s.supplier_payment_count, 0)
            as round_outflow_share,
        cast(coalesce(pt.passed_amount, 0) as double) / c.inflow_amount as pass_through_ratio,
        i.counter_cash_deposit_count,
        cast(coalesce(i.counter_cash_amount, 0) as double) / c.inflow_amount
            as counter_cash_deposit_share,
        cast(ba.market_txn_count as double) / nullif(ba.branch_txn_count, 0)
            as market_branch_share,
        coalesce(hb.is_market, false) as is_market_home_branch,
        cu.occupation = 'SE' as is_self_employed,
        cu.business_license = 'Y' as is_declared,
        cu.home_branch_id,
        cu.rm_id,
        coalesce(bal.deposit_amount, 0) as deposit_amount,
        coalesce(bal.aum_amount, 0) as aum_amount
    from candidates as c
    inner join customers as cu on cu.customer_id = c.customer_id
    left join payer_counts as pc on pc.customer_id = c.customer_id
    left join payer_stats as p on p.customer_id = c.customer_id
    left join top_payers as tp on tp.customer_id = c.customer_id
    left join inflow_stats as i on i.customer_id = c.customer_id
    left join inflow_days as d on d.customer_id = c.customer_id
    left join calendar as cal on cal.day = c.history_start
    left join supplier_stats as s on s.customer_id = c.customer_id
    left join payee_stats as ps on ps.customer_id = c.customer_id
    left join pass_through as pt on pt.customer_id = c.customer_id
    left join branch_activity as ba on ba.customer_id = c.customer_id
    left join branches as hb on hb.branch_id = cu.home_branch_id
    left join balances as bal on bal.customer_id = c.customer_id
)

select * from final
