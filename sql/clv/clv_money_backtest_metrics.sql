-- table:  clv_money_backtest_metrics
-- grain:  predictor
-- inputs: clv_holdout_scores, clv_expected_contribution, agg_customer_contribution_month
-- params: cal_month, first_month, last_month, trailing_months, months, trend_steps, with_trend
-- materialize: table
-- The nightly money backtest (pipeline/stages/clv.py money_backtest_rows): each predictor of
-- a calibration customer's contribution over the $months months after the calibration
-- month $cal_month, undiscounted, against what the customer produced in them
-- (agg_customer_contribution_month up to $last_month, a customer without a row 0):
-- - clv: survival_months x run rate + survival_trend_months x shrunk trend (each
--   customer's weights from clv_holdout_scores, models.clv.holdout_predictions; the run rate
--   and trend as of the calibration month from clv_expected_contribution, a customer
--   without a row 0);
-- - run_rate: run rate x months;
-- - run_rate_trend: run rate x months + trend x $trend_steps (the sum of the months' damped
--   steps, models.clv.trend_steps); only with $with_trend;
-- - baseline: the trailing months' mean x months (the $trailing_months closed months from
--   $first_month to $cal_month).
-- Per predictor: customers; the Spearman rank correlation of predicted and realised (average
-- ranks, doubled and centred, summed exactly in DECIMAL, numpy's corrcoef written out: see
-- clv_holdout_metrics.sql), NULL for fewer than 3 customers or a constant side; MAE; the
-- share of the realised total earned by the top ceil(n / 10) by prediction (ties in
-- customer_id order), NULL when the total is 0; the predicted and realised totals. Realised
-- money is summed in DECIMAL (exact on both engines) and made DOUBLE for the metrics. The
-- reference in numpy is models.clv.money_backtest. A scratch table of one run, never stored.
with
money as (
    select
        customer_id,
        cast(sum(contribution_amount) filter (where month_start <= $cal_month) as double)
        / $trailing_months as trailing_monthly,
        coalesce(sum(contribution_amount) filter (where month_start > $cal_month), 0)
            as realized_amount
    from agg_customer_contribution_month
    where month_start between $first_month and $last_month
    group by customer_id
),

customers as (
    select
        s.customer_id,
        s.survival_months,
        s.survival_trend_months,
        coalesce(cast(e.run_rate as double), cast(0 as double)) as run_rate,
        coalesce(e.monthly_trend, cast(0 as double)) as monthly_trend,
        coalesce(m.trailing_monthly, cast(0 as double)) as trailing_monthly,
        coalesce(m.realized_amount, 0) as realized_amount
    from clv_holdout_scores as s
    left join money as m on m.customer_id = s.customer_id
    left join clv_expected_contribution as e
        on e.customer_id = s.customer_id and e.as_of_month = $cal_month
),

realized as (
    -- the realised side's rank, the same for every predictor: taken once
    select
        *,
        rank() over (order by realized asc)
        + count(*) over (order by realized asc)
        - count(*) over () - 1 as realized_rank
    from (select *, cast(realized_amount as double) as realized from customers) as c
),

predictions as (
    select
        1 as predictor_order,
        'clv' as predictor,
        customer_id,
        survival_months * run_rate + survival_trend_months * monthly_trend as predicted,
        realized_amount,
        realized,
        realized_rank
    from realized
    union all
    select
        2 as predictor_order,
        'run_rate' as predictor,
        customer_id,
        run_rate * $months as predicted,
        realized_amount,
        realized,
        realized_rank
    from realized
    union all
    select
        3 as predictor_order,
        'run_rate_trend' as predictor,
        customer_id,
        run_rate * $months + monthly_trend * $trend_steps as predicted,
        realized_amount,
        realized,
        realized_rank
    from realized
    where $with_trend
    union all
    select
        4 as predictor_order,
        'baseline' as predictor,
        customer_id,
        trailing_monthly * $months as predicted,
        realized_amount,
        realized,
        realized_rank
    from realized
),

ranked as (
    select
        predictor_order,
        predictor,
        predicted,
        realized,
        realized_amount,
        count(*) over (partition by predictor_order) as n,
        rank() over (partition by predictor_order order by predicted asc)
        + count(*) over (partition by predictor_order order by predicted asc)
        - count(*) over (partition by predictor_order) - 1 as predicted_rank,
        realized_rank,
        row_number() over (
            partition by predictor_order order by predicted desc, customer_id asc
        ) as from_top
    from predictions
),

sums as (
    select
        predictor_order,
        predictor,
        count(*) as customers,
        sum(abs(predicted - realized)) as absolute_error,
        sum(predicted) as predicted_total,
        sum(realized_amount) as realized_total,
        sum(case when (from_top - 1) * 10 < n then realized_amount else 0 end) as top_realized,
        cast(sum(cast(predicted_rank * realized_rank as decimal(38, 0))) as double) as rank_cross,
        cast(sum(cast(predicted_rank * predicted_rank as decimal(38, 0))) as double)
            as predicted_rank_squares,
        cast(sum(cast(realized_rank * realized_rank as decimal(38, 0))) as double)
            as realized_rank_squares
    from ranked
    group by predictor_order, predictor
),

moments as (
    select
        *,
        -- the ranks were doubled: x 1/4 (exact) gives numpy's sums of centred ranks
        rank_cross * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as rank_cov,
        predicted_rank_squares * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as predicted_rank_var,
        realized_rank_squares * cast(0.25 as double)
        * (cast(1 as double) / cast(nullif(customers - 1, 0) as double)) as realized_rank_var
    from sums
)

select
    predictor_order,
    predictor,
    customers,
    case
        when customers > 2 and predicted_rank_squares > 0 and realized_rank_squares > 0
            then greatest(
                cast(-1 as double),
                least(
                    cast(1 as double),
                    rank_cov / cast(sqrt(predicted_rank_var) as double)
                    / cast(sqrt(realized_rank_var) as double)
                )
            )
    end as spearman,
    absolute_error / cast(customers as double) as mae_amount,
    case
        when realized_total <> 0
            then cast(top_realized as double) / cast(realized_total as double)
    end as top_decile_capture,
    predicted_total as predicted_total_amount,
    cast(realized_total as double) as realized_total_amount
from moments
