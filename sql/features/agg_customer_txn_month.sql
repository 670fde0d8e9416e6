-- table:  agg_customer_txn_month
-- grain:  customer_id, month_start, as_of_date, branch_id, product_code, channel, txn_code, direction, mcc_category
-- inputs: stg_transactions, hist_accounts, ref_interchange, ref_mcc_categories
-- params: month_from, month_to, as_of
-- materialize: table
-- Transactions per customer and month of their delivery (business_date), by the account's
-- branch and product, channel, txn_code, direction and card-spending category: counts,
-- amounts, fees and card interchange. A late posting counts in the month it was delivered, so
-- a closed month never changes once its deliveries are in, and "as of D" uses only deliveries
-- with business_date <= D. Interchange is computed per transaction before aggregating because
-- the debit cap (13 CNY, NDRC/PBoC 2016 reform) applies to each purchase:
-- least(amount * rate% / 100, cap), on POS purchases only, by the product of the card's account.
-- Incremental like agg_account_balance_month: only stale or current months are recomputed
-- (pipeline/stages/features.py, agg_refresh_log).
with
accounts as (
    select account_id,
           arg_max(product_code, valid_from) filter (where product_code is not null)
               as product_code,
           arg_max(branch_id, valid_from) filter (where branch_id is not null) as branch_id
    from hist_accounts
    where valid_from <= cast($as_of as date)
    group by account_id
),
txns as (
    select t.customer_id, t.account_id, t.channel, t.txn_code, t.direction, t.amount, t.fee,
           t.mcc, cast(date_trunc('month', t.business_date) as date) as month_start
    from stg_transactions t
    where t.business_date between cast($month_from as date)
          and least(cast(cast($month_to as date) + interval 1 month as date) - 1,
                    cast($as_of as date))
),
priced as (
    select x.*,
           coalesce(a.product_code, 'NONE') as product_code,
           a.branch_id,
           case when x.txn_code = 'POS' then coalesce(c.mcc_category, 'other') end
               as mcc_category,
           case when x.txn_code = 'POS' and x.direction = 'D' and i.product_code is not null
                then case when i.cap_amount is not null
                               and x.amount * i.rate_percent * 0.01 > i.cap_amount
                          then cast(i.cap_amount as decimal(38, 8))
                          else cast(x.amount * i.rate_percent * 0.01 as decimal(38, 8)) end
                else cast(0 as decimal(38, 8))
           end as interchange
    from txns x
    left join accounts a on a.account_id = x.account_id
    left join ref_interchange i on i.product_code = a.product_code
    left join ref_mcc_categories c on c.mcc = x.mcc
),
final as (
    select customer_id,
           month_start,
           least(last_day(month_start), cast($as_of as date))
               as as_of_date,
           branch_id, product_code, channel, txn_code, direction, mcc_category,
           count(*) as txn_count,
           cast(sum(amount) as decimal(18, 2)) as amount,
           cast(sum(coalesce(fee, 0)) as decimal(18, 2)) as fee_amount,
           cast(sum(interchange) as decimal(18, 8)) as interchange_amount
    from priced
    group by all
)
select * from final
