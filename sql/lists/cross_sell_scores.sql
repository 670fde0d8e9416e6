-- table:  cross_sell_scores
-- grain:  customer_id, product_code
-- inputs: cross_sell_scored
-- params: cutoff_date, model_version, data_stamp
-- materialize: table
-- The current cut-off's scores of each customer's products not held (docs/cross_sell.md),
-- from cross_sell_scored (models.cross_sell.score_products, per part of the customers on
-- Spark): a take-up product's calibrated propensity as scored; a look-alike product's
-- resemblance as a percentile rank over every customer at the cut-off, holders too:
-- (position - 1) / (customers - 1) in the order of resemblance, ties by customer_id (a total
-- order: the same ranks whatever the parts the customers were scored in), the holders then
-- dropped. Written by the stage into the declared table (the rows of the cut-off, model
-- version and deliveries under it, data_stamp), replacing the previous cut-off's.
with
scored as (
    select customer_id, product_code, score_kind, is_held, propensity_score, resemblance_score
    from cross_sell_scored
),

ranked as (
    select customer_id, product_code, score_kind, is_held,
           cast(row_number() over (partition by product_code
                                   order by resemblance_score, customer_id) - 1 as double)
           / greatest(count(*) over (partition by product_code) - 1, 1) as lookalike_rank
    from scored
    where score_kind = 'lookalike'
),

final as (
    select customer_id, product_code, score_kind, propensity_score,
           cast(null as double) as lookalike_rank
    from scored
    where score_kind = 'takeup'
    union all
    select customer_id, product_code, score_kind, cast(null as double) as propensity_score,
           lookalike_rank
    from ranked
    where not is_held
)

select
    cast($cutoff_date as date) as cutoff_date,
    cast($model_version as varchar) as model_version,
    cast($data_stamp as varchar) as data_stamp,
    customer_id,
    product_code,
    score_kind,
    propensity_score,
    lookalike_rank
from final
