-- table:  int_branch_summary
-- grain:  branch_id, tier, business_date
-- inputs: int_customer_tiers, int_channel_migration, int_customer_contribution
-- params: business_date
-- materialize: partition
-- The branch network view: per home branch and tier, the customers, their yearly
-- contribution and, beside it, their economic profit (contribution − capital charge) and
-- capital charge, assets and lifetime value, what their counter work costs a year (the
-- contribution model's counter part of service cost), how many could
-- move to e-channels and the yearly saving, and the merchants, golden and potential customers
-- among them. One row per branch and tier present, so the columns stay the same whatever the
-- ladder; a branch's totals are the sum of its rows. Customers with a contribution but no
-- tier (closed or frozen at the date) are a reconciling row per branch, tier 'not_tiered', so
-- the summary adds up to int_customer_contribution (checked in sql/checks/tiers_consistency).
with
tiers as (
    select *
    from int_customer_tiers
    where business_date = $business_date
),

migration as (
    select customer_id, yearly_saving_amount
    from int_channel_migration
    where business_date = $business_date
),

final as (
    select
        coalesce(t.home_branch_id, 'UNKNOWN') as branch_id,
        t.tier,
        cast($business_date as date) as business_date,
        any_value(t.tier_rank) as tier_rank,
        count(*) as customers,
        cast(sum(t.contribution_amount) as decimal(18, 2)) as contribution_amount,
        cast(sum(t.economic_profit_amount) as decimal(18, 2)) as economic_profit_amount,
        cast(sum(t.capital_charge_amount) as decimal(18, 2)) as capital_charge_amount,
        cast(sum(t.aum_amount) as decimal(18, 2)) as aum_amount,
        cast(sum(t.clv_amount) as decimal(18, 2)) as clv_amount,
        cast(sum(t.counter_cost_amount) as decimal(18, 2)) as counter_cost_amount,
        count(m.customer_id) as migration_candidates,
        cast(coalesce(sum(m.yearly_saving_amount), 0) as decimal(18, 2))
            as migration_saving_amount,
        count(*) filter (where t.is_merchant) as merchants,
        count(*) filter (where t.is_golden) as golden_customers,
        count(*) filter (where t.is_potential) as potential_customers
    from tiers as t
    left join migration as m on m.customer_id = t.customer_id
    group by all
),

not_tiered as (
    select
        coalesce(c.home_branch_id, 'UNKNOWN') as branch_id,
        'not_tiered' as tier,
        cast($business_date as date) as business_date,
        cast(null as integer) as tier_rank,
        count(*) as customers,
        cast(sum(round(c.contribution_amount, 2)) as decimal(18, 2)) as contribution_amount,
        cast(sum(round(c.contribution_amount, 2) - round(c.capital_charge_amount, 2))
             as decimal(18, 2)) as economic_profit_amount,
        cast(sum(round(c.capital_charge_amount, 2)) as decimal(18, 2)) as capital_charge_amount,
        cast(null as decimal(18, 2)) as aum_amount,
        cast(null as decimal(18, 2)) as clv_amount,
        cast(sum(round(c.counter_cost_amount, 2)) as decimal(18, 2)) as counter_cost_amount,
        0 as migration_candidates,
        cast(0 as decimal(18, 2)) as migration_saving_amount,
        0 as merchants,
        0 as golden_customers,
        0 as potential_customers
    from int_customer_contribution as c
    where c.business_date = $business_date
      and not exists (select 1 from tiers as t where t.customer_id = c.customer_id)
    group by all
)

select * from final
union all
select * from not_tiered
