-- table:  int_merchants
-- grain:  customer_id, business_date
-- inputs: int_merchant_scorecard, int_merchant_signals, int_market_clusters
-- params: business_date
-- materialize: partition
-- The detected high-value individual merchants: score, estimated yearly turnover, the reasons
-- that fired, whether the business is declared (business_license), balances as of the date,
-- home branch, relationship manager and market cluster. The tier is joined by the export.
with
scores as (
    select customer_id, merchant_score, reasons
    from int_merchant_scorecard
    where business_date = $business_date and is_merchant
),

signals as (
    select *
    from int_merchant_signals
    where business_date = $business_date
),

cluster_members as (
    select market_cluster_id, unnest(member_customer_ids) as customer_id
    from int_market_clusters
    where business_date = $business_date
),

final as (
    select
        s.customer_id,
        cast($business_date as date) as business_date,
        s.merchant_score,
        g.turnover_amount,
        s.reasons,
        g.is_declared,
        g.deposit_amount,
        g.aum_amount,
        g.home_branch_id,
        nullif(g.rm_id, '') as rm_id,
        g.payer_count,
        g.supplier_count,
        g.is_market_home_branch,
        c.market_cluster_id
    from scores as s
    inner join signals as g on g.customer_id = s.customer_id
    left join cluster_members as c on c.customer_id = s.customer_id
)

select * from final
