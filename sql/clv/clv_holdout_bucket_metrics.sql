-- table:  clv_holdout_bucket_metrics
-- grain:  bucket_order
-- inputs: clv_holdout_scores
-- params: holdout_bucket_cap
-- materialize: table
-- The nightly holdout validation per calibration-frequency bucket (0, 1, ..., cap - 1 and
-- cap+, cap = $holdout_bucket_cap): customers, predicted and actual holdout events (sums and
-- means per customer) and the mean error (predicted minus actual), from each customer's
-- prediction (clv_holdout_scores, models.clv.holdout_predictions); what clv_holdout_buckets
-- stores and the fit's JSON lists. The reference in numpy/polars is
-- models.clv.validate_holdout. A scratch table of one run, never stored.
with
buckets as (
    select
        least(frequency, $holdout_bucket_cap) as bucket_order,
        predicted_events,
        holdout_events
    from clv_holdout_scores
),

sums as (
    select
        bucket_order,
        count(*) as n_customers,
        sum(predicted_events) as predicted_events,
        cast(sum(holdout_events) as double) as actual_events
    from buckets
    group by bucket_order
)

select
    cast(bucket_order as integer) as bucket_order,
    n_customers,
    predicted_events,
    actual_events,
    case
        when bucket_order = $holdout_bucket_cap
            then cast(bucket_order as varchar) || '+'
        else cast(bucket_order as varchar)
    end as frequency_bucket,
    predicted_events / cast(n_customers as double) as mean_predicted,
    actual_events / cast(n_customers as double) as mean_actual,
    predicted_events / cast(n_customers as double)
    - actual_events / cast(n_customers as double) as mean_error
from sums
