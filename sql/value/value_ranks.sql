-- table:  value_ranks
-- grain:  customer_id
-- inputs: int_customer_features, int_customer_contribution, value_clv, agg_customer_contribution_month
-- params: business_date, band_first, band_last, min_contribution_percentile, min_contribution_amount
-- materialize: table
-- The global parts of the value stage's per-customer rules (models/value.py), one row per
-- customer of the date (the customer view's customers with a contribution), as window
-- functions over all of them, so the rules never need every customer at once:
-- - <part>_percentile: the customer's percentile rank among the date's customers on the
--   input of each part of the value score (models.value.SCORE_INPUTS: contribution_amount,
--   aum_amount, clv_amount, txn_count, products_held, tenure_months; the lifetime value from
--   value_clv, a scratch table of the clv stage's amounts of the date, empty when clv wrote
--   none; a customer without one counts 0): (rank - 1) / (n - 1) with ties at their average
--   rank, (the first tie's rank + the last's) / 2 (rank() and the count of values up to the
--   customer's, one sort), 0 the lowest and 1 the highest, 1 when at most one customer has a
--   value, NULL for a NULL value; one IEEE division of exact whole or half numbers, so both
--   engines give the same bits;
-- - months_in_band: the months from $band_first to $band_last (closed months of
--   agg_customer_contribution_month) in which the customer's contribution was in the top
--   band: its percentile rank among that month's customers at least
--   $min_contribution_percentile and the amount above $min_contribution_amount.
-- A scratch table of one run, never stored; narrow, so the windows sort little.
with
customers as (
    select
        f.customer_id,
        c.contribution_amount,
        f.aum_amount,
        coalesce(v.clv_amount, 0) as clv_amount,
        f.txn_count,
        f.products_held,
        f.tenure_months
    from int_customer_features as f
    inner join int_customer_contribution as c
        on c.customer_id = f.customer_id and c.business_date = f.business_date
    left join value_clv as v on v.customer_id = f.customer_id
    where f.business_date = $business_date
),

month_ranks as (
    select
        customer_id,
        contribution_amount,
        case
            when count(contribution_amount) over (partition by month_start) <= 1
                then cast(1 as double)
            when contribution_amount is null then null
            else cast(
                rank() over (
                    partition by month_start order by contribution_amount asc nulls last
                )
                + count(*) over (
                    partition by month_start order by contribution_amount asc nulls last
                ) - 2 as double
            ) / 2
            / cast(count(contribution_amount) over (partition by month_start) - 1 as double)
        end as month_percentile
    from agg_customer_contribution_month
    where month_start between $band_first and $band_last
),

band as (
    select
        customer_id,
        cast(sum(
            case
                when month_percentile >= $min_contribution_percentile
                    and contribution_amount > $min_contribution_amount then 1
                else 0
            end
        ) as bigint) as months_in_band
    from month_ranks
    group by customer_id
),

ranks as (
    select
        k.customer_id,
        case
            when n.contribution_amount_count <= 1 then cast(1 as double)
            when k.contribution_amount is null then null
            else cast(
                rank() over (order by k.contribution_amount asc nulls last)
                + count(*) over (order by k.contribution_amount asc nulls last) - 2 as double
            ) / 2 / cast(n.contribution_amount_count - 1 as double)
        end as contribution_percentile,
        case
            when n.aum_amount_count <= 1 then cast(1 as double)
            when k.aum_amount is null then null
            else cast(
                rank() over (order by k.aum_amount asc nulls last)
                + count(*) over (order by k.aum_amount asc nulls last) - 2 as double
            ) / 2 / cast(n.aum_amount_count - 1 as double)
        end as assets_percentile,
        case
            when n.clv_amount_count <= 1 then cast(1 as double)
            when k.clv_amount is null then null
            else cast(
                rank() over (order by k.clv_amount asc nulls last)
                + count(*) over (order by k.clv_amount asc nulls last) - 2 as double
            ) / 2 / cast(n.clv_amount_count - 1 as double)
        end as clv_percentile,
        case
            when n.txn_count_count <= 1 then cast(1 as double)
            when k.txn_count is null then null
            else cast(
                rank() over (order by k.txn_count asc nulls last)
                + count(*) over (order by k.txn_count asc nulls last) - 2 as double
            ) / 2 / cast(n.txn_count_count - 1 as double)
        end as activity_percentile,
        case
            when n.products_held_count <= 1 then cast(1 as double)
            when k.products_held is null then null
            else cast(
                rank() over (order by k.products_held asc nulls last)
                + count(*) over (order by k.products_held asc nulls last) - 2 as double
            ) / 2 / cast(n.products_held_count - 1 as double)
        end as breadth_percentile,
        case
            when n.tenure_months_count <= 1 then cast(1 as double)
            when k.tenure_months is null then null
            else cast(
                rank() over (order by k.tenure_months asc nulls last)
                + count(*) over (order by k.tenure_months asc nulls last) - 2 as double
            ) / 2 / cast(n.tenure_months_count - 1 as double)
        end as tenure_percentile
    from customers as k
    cross join (
        select
            count(contribution_amount) as contribution_amount_count,
            count(aum_amount) as aum_amount_count,
            count(clv_amount) as clv_amount_count,
            count(txn_count) as txn_count_count,
            count(products_held) as products_held_count,
            count(tenure_months) as tenure_months_count
        from customers
    ) as n
)

select
    r.*,
    coalesce(b.months_in_band, 0) as months_in_band
from ranks as r
left join band as b on b.customer_id = r.customer_id
