-- table:  clv_holdout_metrics
-- grain:  one row
-- inputs: clv_holdout_scores
-- params:
-- materialize: table
-- The nightly holdout validation's totals over every calibration customer, from each
-- customer's prediction (clv_holdout_scores, a scratch table the clv stage writes per part of
-- the customers: models.clv.holdout_predictions): customers, predicted and actual holdout
-- events, RMSE per customer, the Spearman rank correlation of predicted and actual events and
-- the share of the actual events made by the top decile by prediction (clv_fit_runs'
-- holdout_* columns). The reference in numpy is models.clv.validate_holdout, and these are
-- its numbers:
-- - Spearman: the Pearson correlation of the average ranks (ties at the mean of their
--   positions), NULL when either side is constant. Each rank is taken doubled and centred,
--   2 x rank - (n + 1) = rank() + count(*) up to the customer's value - n - 1 (an integer;
--   sql/value/value_ranks.sql's average rank, one sort per side), its products summed
--   exactly in DECIMAL; then numpy's corrcoef written out (covariances x 1 / (n - 1), divided
--   by each standard deviation, clipped to [-1, 1]), so the same bits on both engines;
-- - top decile: the first max(1, floor(n / 10)) customers by prediction, ties in customer_id
--   order (the stable sort of the customer-ordered frame it replaces), their actual events
--   over all actual events (NULL when there are none).
-- A scratch table of one run, never stored: one row.
with
ranked as (
    select
        predicted_events,
        holdout_events,
        count(*) over () as n,
        rank() over (order by predicted_events asc)
        + count(*) over (order by predicted_events asc)
        - count(*) over () - 1 as predicted_rank,
        rank() over (order by holdout_events asc)
        + count(*) over (order by holdout_events asc)
        - count(*) over () - 1 as actual_rank,
        row_number() over (order by predicted_events desc, customer_id asc) as from_top
    from clv_holdout_scores
),

sums as (
    select
        count(*) as customers,
        sum(predicted_events) as predicted_events,
        cast(sum(holdout_events) as bigint) as actual_events,
        sum(
            (predicted_events - cast(holdout_events as double))
            * (predicted_events - cast(holdout_events as double))
        ) as squared_error,
        cast(sum(cast(predicted_rank * actual_rank as decimal(38, 0))) as double) as rank_cross,
        cast(sum(cast(predicted_rank * predicted_rank as decimal(38, 0))) as double)
            as predicted_rank_squares,
        cast(sum(cast(actual_rank * actual_rank as decimal(38, 0))) as double)
            as actual_rank_squares,
        cast(sum(
            case when from_top = 1 or from_top * 10 <= n then holdout_events else 0 end
        ) as bigint) as top_decile_events
    from ranked
),

moments as (
    select
        customers,
        predicted_events,
        actual_events,
        squared_error,
        top_decile_events,
        predicted_rank_squares,
        actual_rank_squares,
        -- the ranks were doubled: x 1/4 (exact) gives numpy's sums of centred ranks
        rank_cross * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as rank_cov,
        predicted_rank_squares * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as predicted_rank_var,
        actual_rank_squares * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as actual_rank_var
    from sums
)

select
    customers,
    predicted_events,
    actual_events,
    sqrt(squared_error / cast(customers as double)) as rmse,
    case
        when predicted_rank_squares > 0 and actual_rank_squares > 0
            then greatest(
                cast(-1 as double),
                least(
                    cast(1 as double),
                    rank_cov / cast(sqrt(predicted_rank_var) as double)
                    / cast(sqrt(actual_rank_var) as double)
                )
            )
    end as spearman,
    case
        when actual_events > 0
            then cast(top_decile_events as double) / cast(actual_events as double)
    end as top_decile_share
from moments
