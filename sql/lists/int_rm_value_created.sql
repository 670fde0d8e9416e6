-- table:  int_rm_value_created
-- grain:  customer_id, business_date
-- inputs: agg_customer_contribution_month, hist_published_contribution_month, hist_customers
-- params: business_date, start_month, end_month, start_from, end_from, start_days, end_days, annual_days, measurable
-- materialize: partition
-- Value created per relationship manager, customer by customer (pipeline/stages/rm_value.py;
-- the scorecard adds it up per manager). A customer's yearly contribution at a month end is
-- the sum of its 12 closed months' contributions ending there (agg_customer_contribution_month,
-- at today's rates and costs), scaled to a year when the warehouse holds fewer days of them
-- (× annual_days / days held). Compared: the year ending end_month (E, the last closed month)
-- with the year ending start_month (S). The book at a month end: customers not closed then
-- (hist_customers valid at the month's last day), with their rm_id of that day.
--   part 'volume': in both books; value = end − start, for the manager at E (a customer moved
--                  between books takes its history along);
--   part 'new':    in the book at E only (new to the bank, or reopened); value = end;
--   part 'lost':   in the book at S only (closed by E); value = − start, the customer's full
--                  yearly contribution, against the manager at S.
-- rate_effect_amount = start at today's rates − start as first published
-- (hist_published_contribution_month): what rate, cost and late-data restatements moved, kept
-- apart from the manager's value created. Customers with no manager in the book that counts
-- are left out. No rows when the history does not cover month S (measurable false).
-- Amounts in CNY rounded to the cent, so the parts add up exactly in every sum.
with
end_book as (
    select customer_id, nullif(rm_id, '') as rm_id
    from hist_customers
    where valid_from <= last_day($end_month) and valid_to > last_day($end_month)
      and status <> 'C'
),

start_book as (
    select customer_id, nullif(rm_id, '') as rm_id
    from hist_customers
    where valid_from <= last_day($start_month) and valid_to > last_day($start_month)
      and status <> 'C'
),

monthly as (
    select customer_id,
           sum(contribution_amount) filter (where month_start >= $end_from) as end_sum,
           sum(contribution_amount) filter (where month_start <= $start_month) as start_sum
    from agg_customer_contribution_month
    where month_start between $start_from and $end_month
    group by customer_id
),

published as (
    select customer_id, sum(contribution_amount) as start_sum
    from hist_published_contribution_month
    where month_start between $start_from and $start_month
    group by customer_id
),

books as (
    select coalesce(e.customer_id, s.customer_id) as customer_id,
           s.rm_id as start_rm_id,
           e.rm_id as end_rm_id,
           case when s.customer_id is not null and e.customer_id is not null then 'volume'
                when e.customer_id is not null then 'new'
                else 'lost' end as part
    from end_book as e
    full outer join start_book as s on s.customer_id = e.customer_id
),

valued as (
    select b.*,
           cast(coalesce(m.end_sum, 0) * $annual_days / $end_days as decimal(18, 2))
               as end_contribution_amount,
           cast(coalesce(m.start_sum, 0) * $annual_days / $start_days as decimal(18, 2))
               as start_contribution_amount,
           cast(coalesce(p.start_sum, 0) * $annual_days / $start_days as decimal(18, 2))
               as published_start_contribution_amount
    from books as b
    left join monthly as m on m.customer_id = b.customer_id
    left join published as p on p.customer_id = b.customer_id
    where $measurable
),

final as (
    select customer_id,
           cast($business_date as date) as business_date,
           case when part = 'lost' then start_rm_id else end_rm_id end as rm_id,
           part,
           start_rm_id,
           end_rm_id,
           cast($start_month as date) as start_month,
           cast($end_month as date) as end_month,
           case when part = 'new' then null else start_contribution_amount end
               as start_contribution_amount,
           case when part = 'lost' then null else end_contribution_amount end
               as end_contribution_amount,
           case when part = 'new' then null else published_start_contribution_amount end
               as published_start_contribution_amount,
           cast(case part when 'volume' then end_contribution_amount - start_contribution_amount
                          when 'new' then end_contribution_amount
                          else -start_contribution_amount end as decimal(18, 2))
               as value_created_amount,
           cast(case when part = 'new' then 0
                     else start_contribution_amount - published_start_contribution_amount end
                as decimal(18, 2)) as rate_effect_amount
    from valued
)

select * from final
where rm_id is not null
