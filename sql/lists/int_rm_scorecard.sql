-- table:  int_rm_scorecard
-- grain:  rm_id, business_date
-- inputs: int_customer_tiers, tier_history, int_rm_value_created
-- params: business_date, compare_date, tier_names
-- materialize: partition
-- The relationship-manager scorecard, the basis for pay by value created: per manager, the
-- customers of the book and their tiers, the book's yearly contribution and, beside it, its
-- economic profit (contribution − capital charge) and capital charge, lifetime value and
-- assets; and the value created over the period (int_rm_value_created, at today's rates):
-- value_created_amount = value_volume_amount (customers in the book at both ends: the change
-- in their 12-month contribution) + value_new_amount (new customers' contribution)
-- + value_lost_amount (leavers' full yearly contribution, negative), with rate_effect_amount
-- (what restating the start year at today's rates and costs changed) beside it, not in it;
-- value_created_rank ranks the managers by value created (1 = most). previous_contribution_amount
-- is the start year at today's rates. A manager whose customers all left still has a row.
-- clv_change_amount, upgrades and downgrades compare with compare_date: the latest date with
-- tiers at or before the business date one month earlier. customers_by_tier reads
-- "diamond=2;gold=5", ladder order.
with
book as (
    select *
    from int_customer_tiers
    where business_date = $business_date and rm_id is not null
),

previous_date as (
    select max(business_date) as compare_date
    from int_customer_tiers
    where business_date <= $compare_date
),

previous as (
    select t.customer_id, t.clv_amount
    from int_customer_tiers as t
    inner join previous_date as p on t.business_date = p.compare_date
),

changes as (
    select h.customer_id,
           count(*) filter (where h.change_type = 'upgrade') as upgrades,
           count(*) filter (where h.change_type = 'downgrade') as downgrades
    from tier_history as h
    cross join previous_date as p
    where h.business_date > coalesce(p.compare_date, date '1900-01-01')
      and h.business_date <= $business_date
    group by h.customer_id
),

value_created as (
    select rm_id,
           any_value(start_month) as period_start_month,
           any_value(end_month) as period_end_month,
           sum(start_contribution_amount) as previous_contribution_amount,
           sum(value_created_amount) filter (where part = 'volume') as value_volume_amount,
           sum(value_created_amount) filter (where part = 'new') as value_new_amount,
           sum(value_created_amount) filter (where part = 'lost') as value_lost_amount,
           sum(value_created_amount) as value_created_amount,
           sum(rate_effect_amount) as rate_effect_amount,
           count(*) filter (where part = 'new') as new_customers,
           count(*) filter (where part = 'lost') as lost_customers
    from int_rm_value_created
    where business_date = $business_date
    group by rm_id
),

tier_counts as (
    select rm_id, tier, count(*) as customers
    from book
    group by rm_id, tier
),

-- ladder order: the (position, text) pairs sorted, then their text joined
tier_mix as (
    select rm_id,
           array_to_string(
               list_transform(
                   list_sort(list({'position': list_position($tier_names, tier),
                                   'item': tier || '=' || customers})),
                   x -> x.item),
               ';') as customers_by_tier
    from tier_counts
    group by rm_id
),

book_totals as (
    select
        b.rm_id,
        any_value(p.compare_date) as compare_date,
        count(*) as customers,
        any_value(m.customers_by_tier) as customers_by_tier,
        cast(sum(b.contribution_amount) as decimal(18, 2)) as book_contribution_amount,
        cast(sum(b.economic_profit_amount) as decimal(18, 2)) as book_economic_profit_amount,
        cast(sum(b.capital_charge_amount) as decimal(18, 2)) as book_capital_charge_amount,
        cast(sum(b.clv_amount) as decimal(18, 2)) as book_clv_amount,
        cast(sum(b.aum_amount) as decimal(18, 2)) as book_aum_amount,
        cast(sum(b.clv_amount - coalesce(v.clv_amount, 0)) as decimal(18, 2))
            as clv_change_amount,
        cast(coalesce(sum(c.upgrades), 0) as bigint) as upgrades,
        cast(coalesce(sum(c.downgrades), 0) as bigint) as downgrades,
        count(*) filter (where b.is_golden) as golden_customers,
        count(*) filter (where b.is_merchant) as merchants,
        count(*) filter (where b.is_potential) as potential_customers
    from book as b
    cross join previous_date as p
    left join previous as v on v.customer_id = b.customer_id
    left join changes as c on c.customer_id = b.customer_id
    left join tier_mix as m on m.rm_id = b.rm_id
    group by b.rm_id
),

final as (
    select
        coalesce(t.rm_id, w.rm_id) as rm_id,
        cast($business_date as date) as business_date,
        coalesce(t.compare_date, (select compare_date from previous_date)) as compare_date,
        coalesce(t.customers, 0) as customers,
        t.customers_by_tier,
        coalesce(t.book_contribution_amount, 0) as book_contribution_amount,
        coalesce(t.book_economic_profit_amount, 0) as book_economic_profit_amount,
        coalesce(t.book_capital_charge_amount, 0) as book_capital_charge_amount,
        coalesce(t.book_clv_amount, 0) as book_clv_amount,
        coalesce(t.book_aum_amount, 0) as book_aum_amount,
        cast(w.previous_contribution_amount as decimal(18, 2)) as previous_contribution_amount,
        cast(w.value_created_amount as decimal(18, 2)) as value_created_amount,
        coalesce(t.clv_change_amount, 0) as clv_change_amount,
        coalesce(t.upgrades, 0) as upgrades,
        coalesce(t.downgrades, 0) as downgrades,
        coalesce(t.golden_customers, 0) as golden_customers,
        coalesce(t.merchants, 0) as merchants,
        coalesce(t.potential_customers, 0) as potential_customers,
        w.period_start_month,
        w.period_end_month,
        cast(coalesce(w.value_volume_amount, 0) as decimal(18, 2)) as value_volume_amount,
        cast(coalesce(w.value_new_amount, 0) as decimal(18, 2)) as value_new_amount,
        cast(coalesce(w.value_lost_amount, 0) as decimal(18, 2)) as value_lost_amount,
        cast(w.rate_effect_amount as decimal(18, 2)) as rate_effect_amount,
        coalesce(w.new_customers, 0) as new_customers,
        coalesce(w.lost_customers, 0) as lost_customers
    from book_totals as t
    full outer join value_created as w on w.rm_id = t.rm_id
)

select *,
       case when value_created_amount is not null
            then rank() over (order by value_created_amount desc nulls last) end
           as value_created_rank
from final
