-- table:  int_customer_features
-- grain:  customer_id, business_date
-- inputs: agg_customer_feature_parts, agg_customer_feature_parts_current, agg_customer_card_spend_parts, agg_customer_card_spend_parts_current, agg_account_balance_month, agg_account_balance_month_current, hist_customers, ref_age_bands
-- params: business_date, window_start, month_start, recent_start, regular_inflow_min_months, customer_from, customer_to
-- materialize: partition
-- The customer view shared by every later stage, over the trailing window (configs: features):
-- the sum of the window's parts in agg_customer_feature_parts (the closed months, computed once
-- per window month, plus the business date's month to date), never raw history. Average daily
-- balance = balance-days / days in the window. AUM = deposits, wealth products, funds and
-- insurance. Trend = average month of the recent months against the earlier ones. Holdings,
-- closing balances and days past due are those of the business date's month (as of the date).
-- Card spending by merchant category (configs: features.mcc_categories; others 'other') is a
-- map category -> amount (and -> purchases) over the window (DESIGN.md point 6).
-- Customers are those with a customer version valid at the business date. The query reads one
-- range of them at a time (customer_id from $customer_from, before $customer_to, on every
-- input; pipeline/sqlfiles.py, configs: warehouse.chunk_customers): its memory is a range's.
with
customers as (
    select customer_id, gender, birth_date, education, occupation, industry, region_code,
           home_branch_id, rm_id, open_date, business_license, marketing_consent, status,
           year(cast($business_date as date)) - year(birth_date)
               - case when strftime(cast($business_date as date), '%m%d')
                           < strftime(birth_date, '%m%d') then 1 else 0 end as age_years
    from hist_customers
    where valid_from <= $business_date and valid_to > $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
closed as (
    select *
    from agg_customer_feature_parts
    where window_month = $month_start and part = 'closed'
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
current_month as (
    select *  -- the month to date: a temp table of this run (pipeline/stages/features.py)
    from agg_customer_feature_parts_current
    where window_month = $month_start and as_of_date = $business_date
      and customer_id >= $customer_from
      and ($customer_to is null or customer_id < $customer_to)
),
sums as (
    -- the window = closed months + month to date; each part has one row per customer, so a
    -- join adds them (a group-by over both would hold ~45 wide sums for every customer)
    select coalesce(c.customer_id, m.customer_id) as customer_id,
           cast(coalesce(c.bd_dda, 0) + coalesce(m.bd_dda, 0) as decimal(38, 2)) as bd_dda,
           cast(coalesce(c.bd_tda, 0) + coalesce(m.bd_tda, 0) as decimal(38, 2)) as bd_tda,
           cast(coalesce(c.bd_wmp, 0) + coalesce(m.bd_wmp, 0) as decimal(38, 2)) as bd_wmp,
           cast(coalesce(c.bd_fnd, 0) + coalesce(m.bd_fnd, 0) as decimal(38, 2)) as bd_fnd,
           cast(coalesce(c.bd_ins, 0) + coalesce(m.bd_ins, 0) as decimal(38, 2)) as bd_ins,
           cast(coalesce(c.bd_ccd, 0) + coalesce(m.bd_ccd, 0) as decimal(38, 2)) as bd_ccd,
           cast(coalesce(c.bd_pln, 0) + coalesce(m.bd_pln, 0) as decimal(38, 2)) as bd_pln,
           cast(coalesce(c.bd_mtg, 0) + coalesce(m.bd_mtg, 0) as decimal(38, 2)) as bd_mtg,
           cast(coalesce(c.bd_bln, 0) + coalesce(m.bd_bln, 0) as decimal(38, 2)) as bd_bln,
           cast(coalesce(c.txn_count, 0) + coalesce(m.txn_count, 0) as bigint) as txn_count,
           cast(coalesce(c.txn_amount, 0) + coalesce(m.txn_amount, 0) as decimal(38, 2)) as txn_amount,
           cast(coalesce(c.ctr_txn_count, 0) + coalesce(m.ctr_txn_count, 0) as bigint) as ctr_txn_count,
           cast(coalesce(c.atm_txn_count, 0) + coalesce(m.atm_txn_count, 0) as bigint) as atm_txn_count,
           cast(coalesce(c.tel_txn_count, 0) + coalesce(m.tel_txn_count, 0) as bigint) as tel_txn_count,
           cast(coalesce(c.net_txn_count, 0) + coalesce(m.net_txn_count, 0) as bigint) as net_txn_count,
           cast(coalesce(c.pos_txn_count, 0) + coalesce(m.pos_txn_count, 0) as bigint) as pos_txn_count,
           cast(coalesce(c.ctr_amount, 0) + coalesce(m.ctr_amount, 0) as decimal(38, 2)) as ctr_amount,
           cast(coalesce(c.atm_amount, 0) + coalesce(m.atm_amount, 0) as decimal(38, 2)) as atm_amount,
           cast(coalesce(c.tel_amount, 0) + coalesce(m.tel_amount, 0) as decimal(38, 2)) as tel_amount,
           cast(coalesce(c.net_amount, 0) + coalesce(m.net_amount, 0) as decimal(38, 2)) as net_amount,
           cast(coalesce(c.pos_amount, 0) + coalesce(m.pos_amount, 0) as decimal(38, 2)) as pos_amount,
           cast(coalesce(c.dep_txn_count, 0) + coalesce(m.dep_txn_count, 0) as bigint) as dep_txn_count,
           cast(coalesce(c.wdl_txn_count, 0) + coalesce(m.wdl_txn_count, 0) as bigint) as wdl_txn_count,
           cast(coalesce(c.tri_txn_count, 0) + coalesce(m.tri_txn_count, 0) as bigint) as tri_txn_count,
           cast(coalesce(c.tro_txn_count, 0) + coalesce(m.tro_txn_count, 0) as bigint) as tro_txn_count,
           cast(coalesce(c.pay_txn_count, 0) + coalesce(m.pay_txn_count, 0) as bigint) as pay_txn_count,
           cast(coalesce(c.pos_purchase_count, 0) + coalesce(m.pos_purchase_count, 0) as bigint) as pos_purchase_count,
           cast(coalesce(c.product_txn_count, 0) + coalesce(m.product_txn_count, 0) as bigint) as product_txn_count,
           cast(coalesce(c.loan_txn_count, 0) + coalesce(m.loan_txn_count, 0) as bigint) as loan_txn_count,
           cast(coalesce(c.qry_txn_count, 0) + coalesce(m.qry_txn_count, 0) as bigint) as qry_txn_count,
           cast(coalesce(c.tri_amount, 0) + coalesce(m.tri_amount, 0) as decimal(38, 2)) as tri_amount,
           cast(coalesce(c.tro_amount, 0) + coalesce(m.tro_amount, 0) as decimal(38, 2)) as tro_amount,
           cast(coalesce(c.inflow_amount, 0) + coalesce(m.inflow_amount, 0) as decimal(38, 2)) as inflow_amount,
           cast(coalesce(c.outflow_amount, 0) + coalesce(m.outflow_amount, 0) as decimal(38, 2)) as outflow_amount,
           cast(coalesce(c.fee_amount, 0) + coalesce(m.fee_amount, 0) as decimal(38, 2)) as fee_amount,
           cast(coalesce(c.recent_amount, 0) + coalesce(m.recent_amount, 0) as decimal(38, 2)) as recent_amount,
           cast(coalesce(c.earlier_amount, 0) + coalesce(m.earlier_amount, 0) as decimal(38, 2)) as earlier_amount,
           cast(coalesce(c.recent_txn_count, 0) + coalesce(m.recent_txn_count, 0) as bigint) as recent_txn_count,
           cast(coalesce(c.earlier_txn_count, 0) + coalesce(m.earlier_txn_count, 0) as bigint) as earlier_txn_count,
           cast(coalesce(c.active_months, 0) + coalesce(m.active_months, 0) as bigint) as active_months,
           cast(coalesce(c.regular_inflow_months, 0) + coalesce(m.regular_inflow_months, 0) as bigint) as regular_inflow_months,
           cast(coalesce(c.regular_inflow_amount, 0) + coalesce(m.regular_inflow_amount, 0) as decimal(38, 2)) as regular_inflow_amount
    from closed c
    full outer join current_month m on m.customer_id = c.customer_id
),
holdings as (
    select customer_id, aum_closing_amount, loans_outstanding_amount,
           array_length(held) as products_held,
           array_to_string(held, ',') as products_held_list,
           accounts_held,
           max_days_past_due
    from (
        -- distinct aggregates are slow: one list of products held, sorted and deduplicated;
        -- one row per account (the grain of agg_account_balance_month for one as_of_date)
        select customer_id,
               sum(closing_balance) filter (where product_code in ('DDA', 'TDA', 'WMP', 'FND',
                                                                   'INS')) as aum_closing_amount,
               sum(closing_balance) filter (where product_code in ('CCD', 'PLN', 'MTG', 'BLN'))
                   as loans_outstanding_amount,
               list_sort(list_distinct(list(product_code) filter (where closing_balance > 0)))
                   as held,
               count(*) as accounts_held,
               max(max_days_past_due) as max_days_past_due
        from (
            -- the month stored closed on its last day, else this run's month to date
            select customer_id, product_code, closing_balance, max_days_past_due
            from agg_account_balance_month
            where month_start = $month_start and as_of_date = $business_date
            union all
            select customer_id, product_code, closing_balance, max_days_past_due
            from agg_account_balance_month_current
            where month_start = $month_start and as_of_date = $business_date
        ) b
        where customer_id >= $customer_from
          and ($customer_to is null or customer_id < $customer_to)
        group by customer_id
    ) a
),
card_lists as (
    -- one plain list per column (an ordered list() of structs per customer costs several
    -- times more), then sorted by category: amounts and counts follow their category
    select customer_id, categories,
           list_transform(categories,
                          c -> list_extract(cat_amounts, cast(list_position(cats, c) as integer)))
               as amounts,
           list_transform(categories,
                          c -> list_extract(cat_counts, cast(list_position(cats, c) as integer)))
               as txn_counts
    from (
        select *, list_sort(cats) as categories
        from (
            select customer_id, list(mcc_category) as cats, list(amount) as cat_amounts,
                   list(txn_count) as cat_counts
            from (
                -- closed months + month to date, one row each per customer and category
                select coalesce(c.customer_id, m.customer_id) as customer_id,
                       coalesce(c.mcc_category, m.mcc_category) as mcc_category,
                       cast(coalesce(c.spend_amount, 0) + coalesce(m.spend_amount, 0)
                            as decimal(38, 2)) as amount,
                       coalesce(c.txn_count, 0) + coalesce(m.txn_count, 0) as txn_count
                from (
                    select customer_id, mcc_category, spend_amount, txn_count
                    from agg_customer_card_spend_parts
                    where window_month = $month_start and part = 'closed'
                      and customer_id >= $customer_from
                      and ($customer_to is null or customer_id < $customer_to)
                ) c
                full outer join (
                    select customer_id, mcc_category, spend_amount, txn_count
                    from agg_customer_card_spend_parts_current
                    where window_month = $month_start and as_of_date = $business_date
                      and customer_id >= $customer_from
                      and ($customer_to is null or customer_id < $customer_to)
                ) m
                  on m.customer_id = c.customer_id
                 and m.mcc_category is not distinct from c.mcc_category
            ) s
            group by customer_id
        ) l
    ) o
),
card_spend as (
    -- the top category is the first (by name) of those with the largest amount
    select customer_id,
           list_extract(categories, cast(list_position(amounts, list_max(amounts)) as integer))
               as top_mcc_category,
           map(categories, amounts) as card_spend_by_category,
           map(categories, txn_counts) as card_txns_by_category
    from card_lists
),
age_bands as (
    -- one row per age, so customers find their band by an equi-join (a range join sorts
    -- every customer's wide row)
    select unnest(range(min_age, max_age)) as age_years, age_band
    from ref_age_bands
),
window_days as (
    select datediff('day', cast($window_start as date), cast($business_date as date)) + 1
        as days
),
months_in_window as (
    -- months counted by calendar boundaries, as DuckDB's datediff('month', …) did
    select (year(cast($month_start as date)) - year(cast($window_start as date))) * 12
               + month(cast($month_start as date)) - month(cast($window_start as date)) + 1
               as total_months,
           (year(cast($month_start as date)) - year(cast($recent_start as date))) * 12
               + month(cast($month_start as date)) - month(cast($recent_start as date)) + 1
               as recent_months
),
final as (
    select c.customer_id,
           cast($business_date as date) as business_date,
           cast($window_start as date) as window_start,
           cast($business_date as date) as window_end,
           w.days as window_days,
           c.home_branch_id, c.rm_id, c.gender, c.education, c.occupation, c.industry,
           c.region_code, c.business_license, c.marketing_consent, c.status,
           c.age_years,
           coalesce(ab.age_band, 'unknown') as age_band,
           (year(cast($business_date as date)) - year(c.open_date)) * 12
               + month(cast($business_date as date)) - month(c.open_date) as tenure_months,
           cast(coalesce(t.bd_dda, 0) / w.days as decimal(18, 2)) as adb_dda_amount,
           cast(coalesce(t.bd_tda, 0) / w.days as decimal(18, 2)) as adb_tda_amount,
           cast(coalesce(t.bd_wmp, 0) / w.days as decimal(18, 2)) as adb_wmp_amount,
           cast(coalesce(t.bd_fnd, 0) / w.days as decimal(18, 2)) as adb_fnd_amount,
           cast(coalesce(t.bd_ins, 0) / w.days as decimal(18, 2)) as adb_ins_amount,
           cast(coalesce(t.bd_ccd, 0) / w.days as decimal(18, 2)) as adb_ccd_amount,
           cast(coalesce(t.bd_pln, 0) / w.days as decimal(18, 2)) as adb_pln_amount,
           cast(coalesce(t.bd_mtg, 0) / w.days as decimal(18, 2)) as adb_mtg_amount,
           cast(coalesce(t.bd_bln, 0) / w.days as decimal(18, 2)) as adb_bln_amount,
           cast((coalesce(t.bd_dda, 0) + coalesce(t.bd_tda, 0) + coalesce(t.bd_wmp, 0)
                 + coalesce(t.bd_fnd, 0) + coalesce(t.bd_ins, 0)) / w.days
                as decimal(18, 2)) as aum_amount,
           cast((coalesce(t.bd_ccd, 0) + coalesce(t.bd_pln, 0) + coalesce(t.bd_mtg, 0)
                 + coalesce(t.bd_bln, 0)) / w.days as decimal(18, 2)) as adb_loans_amount,
           coalesce(h.aum_closing_amount, 0) as aum_closing_amount,
           coalesce(h.loans_outstanding_amount, 0) as loans_outstanding_amount,
           cast(coalesce(h.products_held, 0) as integer) as products_held,
           coalesce(h.products_held_list, '') as products_held_list,
           cast(coalesce(h.accounts_held, 0) as integer) as accounts_held,
           coalesce(h.max_days_past_due, 0) as max_days_past_due,
           cast(coalesce(t.txn_count, 0) as bigint) as txn_count,
           coalesce(t.txn_amount, 0) as txn_amount,
           cast(coalesce(t.ctr_txn_count, 0) as bigint) as ctr_txn_count,
           cast(coalesce(t.atm_txn_count, 0) as bigint) as atm_txn_count,
           cast(coalesce(t.tel_txn_count, 0) as bigint) as tel_txn_count,
           cast(coalesce(t.net_txn_count, 0) as bigint) as net_txn_count,
           cast(coalesce(t.pos_txn_count, 0) as bigint) as pos_txn_count,
           coalesce(t.ctr_amount, 0) as ctr_amount,
           coalesce(t.atm_amount, 0) as atm_amount,
           coalesce(t.tel_amount, 0) as tel_amount,
           coalesce(t.net_amount, 0) as net_amount,
           coalesce(t.pos_amount, 0) as pos_amount,
           cast(coalesce(t.dep_txn_count, 0) as bigint) as dep_txn_count,
           cast(coalesce(t.wdl_txn_count, 0) as bigint) as wdl_txn_count,
           cast(coalesce(t.tri_txn_count, 0) as bigint) as tri_txn_count,
           cast(coalesce(t.tro_txn_count, 0) as bigint) as tro_txn_count,
           cast(coalesce(t.pay_txn_count, 0) as bigint) as pay_txn_count,
           cast(coalesce(t.pos_purchase_count, 0) as bigint) as pos_purchase_count,
           cast(coalesce(t.product_txn_count, 0) as bigint) as product_txn_count,
           cast(coalesce(t.loan_txn_count, 0) as bigint) as loan_txn_count,
           cast(coalesce(t.qry_txn_count, 0) as bigint) as qry_txn_count,
           coalesce(t.tri_amount, 0) as tri_amount,
           coalesce(t.tro_amount, 0) as tro_amount,
           coalesce(t.inflow_amount, 0) as inflow_amount,
           coalesce(t.outflow_amount, 0) as outflow_amount,
           coalesce(t.fee_amount, 0) as fee_amount,
           cast(coalesce(t.active_months, 0) as integer) as active_months,
           cast(coalesce(t.regular_inflow_months, 0) as integer) as regular_inflow_months,
           cast(coalesce(cast(t.regular_inflow_amount / nullif(t.regular_inflow_months, 0)
                              as decimal(18, 2)), 0)
                as decimal(18, 2)) as regular_inflow_month_amount,
           coalesce(t.regular_inflow_months, 0) >= $regular_inflow_min_months
               as has_regular_inflow,
           cs.top_mcc_category,
           cs.card_spend_by_category,
           cs.card_txns_by_category,
           cast(coalesce(t.recent_amount, 0) / m.recent_months as decimal(18, 2))
               as recent_month_amount,
           cast(coalesce(t.earlier_amount, 0) / (m.total_months - m.recent_months)
                as decimal(18, 2)) as earlier_month_amount,
           case when coalesce(t.earlier_amount, 0) > 0
                then round(cast((cast(coalesce(t.recent_amount, 0) as double) / m.recent_months)
                                / (cast(t.earlier_amount as double)
                                   / (m.total_months - m.recent_months)) as double), 4)
           end as amount_trend_ratio,
           case when coalesce(t.earlier_txn_count, 0) > 0
                then round(cast((cast(coalesce(t.recent_txn_count, 0) as double) / m.recent_months)
                                / (cast(t.earlier_txn_count as double)
                                   / (m.total_months - m.recent_months)) as double), 4)
           end as count_trend_ratio
    from customers c
    cross join window_days w
    cross join months_in_window m
    left join sums t on t.customer_id = c.customer_id
    left join holdings h on h.customer_id = c.customer_id
    left join card_spend cs on cs.customer_id = c.customer_id
    left join age_bands ab on ab.age_years = c.age_years
)
select * from final
