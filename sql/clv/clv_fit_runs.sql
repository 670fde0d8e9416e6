-- table:  clv_fit_runs
-- grain:  business_date, fit_role
-- inputs: clv_fit_runs_frame
-- params: business_date
-- materialize: partition
-- One row per fit of the clv stage: fit_role 'full' (history up to the business date, used
-- for scoring) and 'calibration' (history up to calibration_end, validated on the holdout up
-- to the business date). Purchase-model parameters r, alpha (alpha in model units of
-- time_unit_days days), a, b and Gamma-Gamma p, q, gamma (lifetimes' v) with standard errors
-- (null where the Hessian is singular); holdout metrics on the calibration row only.
-- value_method: how the night valued CLV and why (value_method_reason), with the
-- Gamma-Gamma assumption's test gg_frequency_value_spearman (models/clv.py
-- choose_value_method). Parameter stability (full row): the fit from the default start
-- (cold_log_likelihood) and from the previous night's parameters (warm_log_likelihood); the
-- better one is kept, and mode_jump flags two optima with different parameters.
with
runs as (
    select * from clv_fit_runs_frame
),

final as (
    select
        $business_date::date as business_date,
        fit_role::varchar as fit_role,
        model::varchar as model,
        time_unit_days::integer as time_unit_days,
        data_start::date as data_start,
        calibration_end::date as calibration_end,
        holdout_end::date as holdout_end,
        n_customers::bigint as n_customers,
        n_unique_rows::bigint as n_unique_rows,
        n_repeaters::bigint as n_repeaters,
        converged::boolean as converged,
        penalizer::double as penalizer,
        log_likelihood::double as log_likelihood,
        r::double as r,
        alpha::double as alpha,
        a::double as a,
        b::double as b,
        r_se::double as r_se,
        alpha_se::double as alpha_se,
        a_se::double as a_se,
        b_se::double as b_se,
        gg_status::varchar as gg_status,
        gg_n_customers::bigint as gg_n_customers,
        gg_p::double as gg_p,
        gg_q::double as gg_q,
        gg_gamma::double as gg_gamma,
        gg_p_se::double as gg_p_se,
        gg_q_se::double as gg_q_se,
        gg_gamma_se::double as gg_gamma_se,
        holdout_days::integer as holdout_days,
        holdout_customers::bigint as holdout_customers,
        holdout_predicted_events::double as holdout_predicted_events,
        holdout_actual_events::bigint as holdout_actual_events,
        holdout_rmse::double as holdout_rmse,
        holdout_spearman::double as holdout_spearman,
        holdout_top_decile_share::double as holdout_top_decile_share,
        validation_status::varchar as validation_status,
        param_jump::boolean as param_jump,
        param_jump_detail::varchar as param_jump_detail,
        fit_seconds::double as fit_seconds,
        value_method::varchar as value_method,
        value_method_reason::varchar as value_method_reason,
        gg_frequency_value_spearman::double as gg_frequency_value_spearman,
        cold_log_likelihood::double as cold_log_likelihood,
        warm_log_likelihood::double as warm_log_likelihood,
        mode_jump::boolean as mode_jump,
        mode_jump_detail::varchar as mode_jump_detail
    from runs
)

select * from final
