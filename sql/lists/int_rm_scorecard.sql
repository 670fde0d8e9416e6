-- table:  int_rm_scorecard
-- grain:  rm_id, business_date
-- inputs: int_customer_tiers, tier_history
-- params: business_date, compare_date, tier_names
-- materialize: partition
-- The relationship-manager scorecard, the basis for pay by value created: per manager, the
-- customers of the book and their tiers, the book's yearly contribution and, beside it, its
-- economic profit (contribution − capital charge) and capital charge, lifetime value and
-- assets, and the value created since the comparison date: the latest date with
-- tiers at or before compare_date (the business date one month earlier). Value created is,
-- over the customers in the book today, contribution now minus contribution then (a customer
-- new to the bank counts from zero), so moving a customer between books moves its history
-- with it. Upgrades and downgrades are those of the book's customers after the comparison
-- date up to the business date. customers_by_tier reads "diamond=2;gold=5", ladder order.
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
    select t.customer_id, t.contribution_amount, t.clv_amount
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

tier_counts as (
    select rm_id, tier, count(*) as customers
    from book
    group by rm_id, tier
),

tier_mix as (
    select rm_id,
           string_agg(tier || '=' || customers, ';'
                      order by list_position($tier_names, tier)) as customers_by_tier
    from tier_counts
    group by rm_id
),

final as (
    select
        b.rm_id,
        cast($business_date as date) as business_date,
        any_value(p.compare_date) as compare_date,
        count(*) as customers,
        any_value(m.customers_by_tier) as customers_by_tier,
        cast(sum(b.contribution_amount) as decimal(18, 2)) as book_contribution_amount,
        cast(sum(b.economic_profit_amount) as decimal(18, 2)) as book_economic_profit_amount,
        cast(sum(b.capital_charge_amount) as decimal(18, 2)) as book_capital_charge_amount,
        cast(sum(b.clv_amount) as decimal(18, 2)) as book_clv_amount,
        cast(sum(b.aum_amount) as decimal(18, 2)) as book_aum_amount,
        cast(sum(coalesce(v.contribution_amount, 0)) as decimal(18, 2))
            as previous_contribution_amount,
        cast(sum(b.contribution_amount - coalesce(v.contribution_amount, 0)) as decimal(18, 2))
            as value_created_amount,
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
)

select * from final
