-- table:  agg_customer_contribution_parts
-- grain:  customer_id, window_month, part, branch_id, product_code
-- inputs: agg_account_balance_month, agg_account_balance_month_current, agg_customer_txn_month, agg_customer_txn_month_current, agg_card_cycle_month, agg_card_cycle_month_current, ref_product_rates, ref_ftp_by_term, ref_channel_costs
-- params: customer_from, customer_to, month_from, month_to, month_start, business_date, reserve_ratio_percent, reserve_rate_percent, default_risk_weight_percent
-- materialize: table
-- Contribution numerators per customer, account branch and product over a range of months:
-- one part of a window (the closed months, computed once per window month and economics
-- config; or the month to date, each night, into the run's temp table
-- agg_customer_contribution_parts_current), written part by part by
-- pipeline/stages/contribution.py. Numerators are exact DECIMAL and additive across parts
-- (docs/contribution.md has each formula and its source):
--   deposit_nii_num = Σ FTP% × balance-days − Σ customer-rate% × balance-days   (DDA, TDA)
--   loan_nii_num    = Σ customer-rate% × balance-days on accruing days − Σ FTP% × balance-days
--                     (lending; no accrual in default; a card accrues only in months it revolves)
--   reserve_num     = RRR% × (FTP% − reserve rate%) × balance-days               (DDA, TDA)
--   commission_num  = commission% × balance-days                                 (WMP, FND, INS)
--   upkeep_num      = upkeep per account-year × open days
--   expected_loss_num = LGD% × Σ PD% × balance-days (12-month PD performing, lifetime PD watch)
--   provision_num   = LGD% × change in defaulted exposure (once, when it happens)
--   capital_num     = risk weight% × balance-days (the default risk weight on days in default)
--   fee_amount      = the fee column, and a FEE charge's amount; interchange_num, service_cost_num
--   counter_cost_num = the part of service_cost_num spent at the branch counter (channel CTR)
-- FTP% is the account's: the curve point of its original term (ref_ftp_by_term) for products
-- priced by term, else the product's rate (ref_product_rates; demand deposits: core/volatile).
-- Columns that fit are stored as DECIMAL(18, x): DuckDB reads DECIMAL(38, x) back some 20
-- times slower; the margin numerators need the wide type to stay exact.
-- Written one range of customers at a time (customer_id from $customer_from, before
-- $customer_to, on every per-customer input; pipeline/stages/features.py, part_ranges): a
-- pass groups a range's customers, and reads only their row groups (inputs in customer order).
with
balances as (
    select *
    from agg_account_balance_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_account_balance_month_current
    where month_start between $month_from and $month_to and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
txns as (
    select *
    from agg_customer_txn_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
    union all
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_txn_month_current
    where month_start between $month_from and $month_to and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
cycles as (
    select account_id, month_start, is_revolving
    from agg_card_cycle_month
    where month_start between $month_from and $month_to
      and as_of_date = case when month_start = $month_start then cast($business_date as date)
                            else last_day(month_start) end
    union all
    select account_id, month_start, is_revolving  -- the month to date (this run's temp table)
    from agg_card_cycle_month_current
    where month_start between $month_from and $month_to and as_of_date = $business_date
),
balance_rated as (
    select b.customer_id, b.branch_id, b.product_code,
           cast(b.balance_days as decimal(38, 2)) as balance_days,  -- rates × 10^12 overflow 18
           b.rate_balance_days,
           case when b.product_code = 'CCD' and not coalesce(y.is_revolving, false) then 0
                else b.accrual_rate_balance_days end as accrued_rate_balance_days,
           b.pd_balance_days, b.default_exposure_change,
           cast(b.default_balance_days as decimal(38, 2)) as default_balance_days,
           b.open_days, r.product_group,
           coalesce(f.ftp_rate_percent, r.ftp_rate_percent) as ftp_rate_percent,
           r.commission_rate_percent, r.upkeep_amount_per_year, r.lgd_percent,
           r.risk_weight_percent
    from balances b
    left join ref_product_rates r on r.product_code = b.product_code
    left join ref_ftp_by_term f
      -- least() skips nulls: an account without a maturity must not take the 600-month point.
      -- The key is null when the product is not priced by term: conditions on one side in the
      -- ON clause of a left join make DuckDB loop over every pair instead of hashing
      on f.term_months = case when r.has_term_ftp and b.term_months is not null
                              then least(b.term_months, 600) end
    left join cycles y on y.account_id = b.account_id and y.month_start = b.month_start
),
balance_parts as (
    select customer_id, branch_id, product_code,
           sum(case when product_group = 'deposit'
                    then ftp_rate_percent * balance_days - rate_balance_days else 0 end)
               as deposit_nii_num,
           sum(case when product_group = 'lending'
                    then accrued_rate_balance_days - ftp_rate_percent * balance_days else 0 end)
               as loan_nii_num,
           sum(case when product_group = 'deposit'
                    then $reserve_ratio_percent * (ftp_rate_percent - $reserve_rate_percent)
                         * balance_days else 0 end) as reserve_num,
           sum(case when product_group = 'investment'
                    then commission_rate_percent * balance_days else 0 end) as commission_num,
           cast(sum(coalesce(upkeep_amount_per_year, 0) * open_days) as decimal(18, 6))
               as upkeep_num,
           sum(case when product_group = 'lending'
                    then lgd_percent * pd_balance_days else 0 end) as expected_loss_num,
           sum(case when product_group = 'lending'
                    then lgd_percent * default_exposure_change else 0 end) as provision_num,
           sum(case when product_group = 'lending'
                    then risk_weight_percent * (balance_days - default_balance_days)
                         + $default_risk_weight_percent * default_balance_days else 0 end)
               as capital_num
    from balance_rated
    group by customer_id, branch_id, product_code
),
txn_parts as (
    select t.customer_id, t.branch_id, t.product_code,
           -- a FEE charge's amount is the fee (a refund, direction C, takes it back)
           cast(sum(case when t.txn_code = 'FEE' and t.direction = 'C' then -t.amount
                         when t.txn_code = 'FEE' then t.amount else t.fee_amount end)
                as decimal(18, 2)) as fee_amount,
           cast(sum(t.interchange_amount) as decimal(18, 8)) as interchange_num,
           cast(sum(t.txn_count * coalesce(c.unit_cost_amount, 0)) as decimal(18, 6))
               as service_cost_num,
           cast(sum(case when t.channel = 'CTR'
                         then t.txn_count * coalesce(c.unit_cost_amount, 0) else 0 end)
                as decimal(18, 6)) as counter_cost_num
    from txns t
    left join ref_channel_costs c on c.channel = t.channel and c.txn_code = t.txn_code
    group by t.customer_id, t.branch_id, t.product_code
),
joined as (
    select coalesce(b.customer_id, t.customer_id) as customer_id,
           coalesce(b.branch_id, t.branch_id) as branch_id,
           coalesce(b.product_code, t.product_code) as product_code,
           b.deposit_nii_num, b.loan_nii_num, b.reserve_num, b.commission_num, b.upkeep_num,
           b.expected_loss_num, b.provision_num, b.capital_num,
           t.fee_amount, t.interchange_num, t.service_cost_num, t.counter_cost_num
    from balance_parts b
    full outer join txn_parts t
      on t.customer_id = b.customer_id
     and t.branch_id is not distinct from b.branch_id
     and t.product_code = b.product_code
)
select * from joined
