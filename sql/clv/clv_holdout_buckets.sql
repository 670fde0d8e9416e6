-- table:  clv_holdout_buckets
-- grain:  business_date, frequency_bucket
-- inputs: clv_holdout_buckets_frame
-- params: business_date
-- materialize: partition
-- Holdout validation per calibration-frequency bucket (0, 1, ..., cap-1, cap+): customers,
-- predicted and actual holdout events (sums and means per customer) and the mean error
-- (predicted minus actual), from the calibration fit of the business date's clv run.
with
buckets as (
    select * from clv_holdout_buckets_frame
),

final as (
    select
        $business_date::date as business_date,
        calibration_end::date as calibration_end,
        holdout_end::date as holdout_end,
        frequency_bucket::varchar as frequency_bucket,
        bucket_order::integer as bucket_order,
        n_customers::bigint as n_customers,
        predicted_events::double as predicted_events,
        actual_events::double as actual_events,
        mean_predicted::double as mean_predicted,
        mean_actual::double as mean_actual,
        mean_error::double as mean_error
    from buckets
)

select * from final
