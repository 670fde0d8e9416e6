-- table:  clv_expected_contribution
-- grain:  as_of_month, customer_id
-- inputs: agg_customer_contribution_month
-- params: night_month, night_first, calibration_month, calibration_first, run_rate_first_x, trend_bands, trend_on
-- materialize: table
-- Each customer's expected monthly contribution as of a closed month: the night's last closed
-- month ($night_month, what the night's CLV values) and the money backtest's calibration month
-- ($calibration_month), each over its window of closed months ($night_first ..
-- $night_month, $calibration_first .. $calibration_month; x = 0 the window's first month).
-- - run_rate: the mean of the customer's months with x >= $run_rate_first_x (the last
--   clv.run_rate_months; months they have a row in), CNY, rounded to the cent half away from
--   zero by integer arithmetic on micro-CNY (exact on both engines: a DECIMAL division is
--   DOUBLE in DuckDB and exact in Spark, and on a half-cent tie they rounded a cent apart);
--   customers without a month in those months have no row;
-- - monthly_trend: the least-squares slope of the customer's months over the whole window,
--   shrunk toward the mean slope of their run-rate band (empirical Bayes, method of moments,
--   Efron & Morris 1975; docs/clv.md "Trend"): customers ranked by run rate, ties by
--   customer_id, cut into $trend_bands equal bands; a slope from n >= 3 months has sampling
--   variance se2 = max(syy - slope^2 sxx, 0) / (n - 2) / sxx; in a band tau2 = max(var(slope)
--   - mean(se2), 0) over its customers with an se2, and the customer's own slope weighs
--   w = tau2 / (tau2 + se2); fewer than 3 months, or tau2 = 0, gives the band's mean slope; a
--   band without a customer of 3 months gives 0. NULL with the trend off ($trend_on false).
--   The line's sums in DOUBLE (slope = sxy / sxx, sxx = sum x^2 - (sum x)^2 / n).
-- A scratch table of one run, never stored.
with
as_of as (
    select
        cast($night_month as date) as as_of_month,
        cast($night_first as date) as first_month
    union
    select
        cast($calibration_month as date) as as_of_month,
        cast($calibration_first as date) as first_month
),

months as (
    select
        m.as_of_month,
        a.customer_id,
        a.contribution_amount as amount,
        cast(a.contribution_amount as double) as y,
        (year(a.month_start) - year(m.first_month)) * 12
        + month(a.month_start) - month(m.first_month) as x
    from as_of as m
    inner join agg_customer_contribution_month as a
        on a.month_start between m.first_month and m.as_of_month
),

line as (
    select
        as_of_month,
        customer_id,
        cast(
            sum(amount) filter (where x >= $run_rate_first_x) * 1000000 as bigint
        ) as run_rate_micro,
        count(*) filter (where x >= $run_rate_first_x) as run_rate_months,
        count(*) as trend_months,
        sum(cast(x as double)) as sx,
        sum(y) as sy,
        sum(x * y) as sxy,
        sum(cast(x * x as double)) as sx2,
        sum(y * y) as sy2
    from months
    group by as_of_month, customer_id
    having count(*) filter (where x >= $run_rate_first_x) > 0
),

run_rates as (
    select
        as_of_month,
        customer_id,
        trend_months,
        cast(
            cast(
                case when run_rate_micro < 0 then -1 else 1 end
                * ((abs(run_rate_micro) * 2 + run_rate_months * 10000)
                    // (run_rate_months * 20000))
                as decimal(18, 0)
            ) * 0.01 as decimal(18, 2)
        ) as run_rate,
        sxx,
        syy,
        cast(
            (sxy - sx * sy / cast(trend_months as double)) / nullif(sxx, 0) as double
        ) as slope
    from (
        select
            *,
            sx2 - sx * sx / cast(trend_months as double) as sxx,
            sy2 - sy * sy / cast(trend_months as double) as syy
        from line
    )
),

ranked as (
    select
        *,
        (row_number() over (partition by as_of_month order by run_rate, customer_id) - 1)
        * $trend_bands
        // count(*) over (partition by as_of_month) as trend_band,
        case
            when trend_months >= 3 and sxx > 0 and slope is not null
                then cast(
                    greatest(syy - slope * slope * sxx, 0) / cast(trend_months - 2 as double) / sxx
                    as double
                )
        end as se2
    from run_rates
),

bands as (
    select
        as_of_month,
        trend_band,
        avg(slope) as band_slope,
        greatest(coalesce(var_samp(slope), 0) - avg(se2), 0) as tau2
    from ranked
    where se2 is not null
    group by as_of_month, trend_band
),

weighted as (
    select
        r.as_of_month,
        r.customer_id,
        r.run_rate,
        r.slope,
        b.band_slope,
        case
            when r.se2 is null or coalesce(b.tau2, 0) = 0 then 0.0
            else cast(b.tau2 / (b.tau2 + r.se2) as double)
        end as trend_weight
    from ranked as r
    left join bands as b
        on b.as_of_month = r.as_of_month and b.trend_band = r.trend_band
),

final as (
    select
        as_of_month,
        customer_id,
        run_rate,
        case
            when not $trend_on then cast(null as double)
            when trend_weight > 0
                then trend_weight * slope + (1 - trend_weight) * band_slope
            else coalesce(band_slope, 0.0)
        end as monthly_trend
    from weighted
)

select * from final
