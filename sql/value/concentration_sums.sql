-- table:  concentration_sums
-- grain:  one row
-- inputs: int_golden_customers
-- params: business_date, top_1, top_5, top_10, top_20
-- materialize: table
-- The exact sums behind the Pareto / Lorenz view of the date's contribution
-- (models/value.py, summarise_concentration), in DECIMAL: the total, the sum of the $top_<n>
-- largest contributions (the stage passes each count: the top n% of the customers, at least
-- one), the positive parts, their sum weighted by rank from the smallest (the Gini
-- coefficient's numerator; equal values' order does not change it), the golden customers'
-- and the negative ones'. A scratch table of one run, never stored.
with
ranked as (
    select
        contribution_amount as amount,
        is_golden,
        row_number() over (order by contribution_amount desc) as from_top,
        row_number() over (order by greatest(contribution_amount, 0) asc) as from_bottom
    from int_golden_customers
    where business_date = $business_date
)

select
    count(*) as customers,
    sum(amount) as total_amount,
    sum(case when from_top <= $top_1 then amount else 0 end) as top_1_amount,
    sum(case when from_top <= $top_5 then amount else 0 end) as top_5_amount,
    sum(case when from_top <= $top_10 then amount else 0 end) as top_10_amount,
    sum(case when from_top <= $top_20 then amount else 0 end) as top_20_amount,
    sum(case when from_top <= $top_20 then greatest(amount, 0) else 0 end)
        as top_20_positive_amount,
    sum(greatest(amount, 0)) as positive_amount,
    sum(from_bottom * greatest(amount, 0)) as rank_weighted_positive_amount,
    sum(case when is_golden then 1 else 0 end) as golden_customers,
    sum(case when is_golden then amount else 0 end) as golden_amount,
    sum(case when amount < 0 then 1 else 0 end) as negative_customers,
    sum(case when amount < 0 then amount else 0 end) as negative_amount
from ranked
