-- table:  tiers_consistency
-- grain:  business_date, check_name
-- inputs: int_tier_inputs, int_customer_tiers, int_channel_migration, int_call_list, int_branch_summary, int_customer_contribution
-- params: business_date, tier_names, protected_min_age
-- materialize: partition
-- The checks that guard the tiers export, one row each, is_ok false on failure (the tiers
-- stage then fails and the export is refused): every active customer has exactly one tier,
-- every tier is on the ladder, nobody protected is on the migration list (potential, growing
-- or elderly customers, merchants, or of unknown age), the call list holds only active
-- customers who consented to marketing contact, the credit gate holds (a customer with an
-- account in default is at the lowest tier and on no call list), and the branch summary adds
-- up to the customers' contribution exactly: per branch, the same customers and the same sum
-- of each customer's contribution rounded to the cent (failing_rows: branches that differ).
with
tiers as (
    select * from int_customer_tiers where business_date = $business_date
),

inputs as (
    select * from int_tier_inputs where business_date = $business_date
),

one_tier as (
    select 'one_tier_per_active_customer' as check_name, count(*) as failing_rows
    from (
        select i.customer_id
        from inputs as i
        left join tiers as t on t.customer_id = i.customer_id
        group by i.customer_id
        having count(t.customer_id) <> 1
    )
),

known_tier as (
    select 'tier_on_ladder' as check_name, count(*) as failing_rows
    from tiers
    where not list_contains($tier_names, tier) or tier_reasons is null or tier_reasons = ''
),

protected as (
    select 'no_protected_in_migration' as check_name, count(*) as failing_rows
    from int_channel_migration as m
    left join tiers as t on t.customer_id = m.customer_id
    where m.business_date = $business_date
      and (t.customer_id is null or t.is_potential or t.is_growing or t.is_merchant
           or t.age is null or t.age >= $protected_min_age)
),

consent as (
    select 'call_list_consented_active_only' as check_name, count(*) as failing_rows
    from int_call_list as c
    left join inputs as i on i.customer_id = c.customer_id
    where c.business_date = $business_date
      and (i.customer_id is null or coalesce(i.marketing_consent, 'N') <> 'Y')
),

credit_gate as (
    select 'defaulters_at_lowest_tier_and_not_called' as check_name, count(*) as failing_rows
    from inputs as i
    join tiers as t on t.customer_id = i.customer_id
    where i.has_default_account
      and (t.tier <> list_extract($tier_names, len($tier_names))
           or exists (select 1 from int_call_list as c
                      where c.business_date = $business_date
                        and c.customer_id = i.customer_id))
),

branch_total as (
    select 'branch_summary_equals_contribution' as check_name, count(*) as failing_rows
    from (
        select branch_id, sum(customers) as customers, sum(contribution_amount) as amount
        from int_branch_summary
        where business_date = $business_date
        group by branch_id
    ) as s
    full join (
        select coalesce(home_branch_id, 'UNKNOWN') as branch_id, count(*) as customers,
               sum(round(contribution_amount, 2)) as amount
        from int_customer_contribution
        where business_date = $business_date
        group by all
    ) as c on c.branch_id = s.branch_id
    where s.customers is distinct from c.customers or s.amount is distinct from c.amount
),

final as (
    select cast($business_date as date) as business_date, check_name,
           cast(failing_rows as bigint) as failing_rows, failing_rows = 0 as is_ok
    from (
        select * from one_tier
        union all select * from known_tier
        union all select * from protected
        union all select * from consent
        union all select * from credit_gate
        union all select * from branch_total
    )
)

select * from final
