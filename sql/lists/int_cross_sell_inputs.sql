-- table:  int_cross_sell_inputs
-- grain:  customer_id, cutoff_date
-- inputs: hist_customers, hist_accounts, agg_customer_txn_month, agg_account_balance_month, cross_sell_cutoffs
-- params: business_date, window_months, horizon_months, sample_permille, sample_md5_below
-- materialize: table
-- What the take-up models learn from and score (docs/cross_sell.md), one row per customer
-- active at a cut-off (a month end, listed in the temp table cross_sell_cutoffs) and, for the
-- customers of the sample (sample_permille of 1000, 1000 = everyone: those whose md5(customer_id),
-- lowercase hex on both engines, sorts below sample_md5_below, the permille's share of 16^8):
--   holds_<p>  an account of product p open at the cut-off (versions valid that day);
--   took_<p>   an account of p opened in (cut-off, cut-off + horizon_months] and not held at
--              the cut-off: the label; label_complete when that window ends by business_date;
--   features strictly as of the cut-off: the customer's version valid that day (age, tenure,
--   occupation, education) and activity over the window_months closed months ending at the
--   cut-off, with product and loan transactions (PRB, PRR, LDR, LRP) and the bank's own
--   charges (FEE) removed from every activity figure, and the demand-deposit balance.
-- Only closed months count (as_of_date = the month's last day), so a transaction delivered
-- after the cut-off never reaches a feature.
with
cutoffs as (
    select cast(cutoff_date as date) as cutoff_date,
           cast(date_trunc('month', cutoff_date) - to_months($window_months - 1) as date)
               as window_start,
           cast(last_day(cast(date_trunc('month', cutoff_date) + to_months($horizon_months)
                              as date)) as date)
               as label_end
    from cross_sell_cutoffs
),

people as (
    select k.cutoff_date, k.window_start, k.label_end, c.customer_id, c.birth_date,
           c.occupation, c.education, c.open_date
    from cutoffs as k
    join hist_customers as c
      on c.valid_from <= k.cutoff_date and c.valid_to > k.cutoff_date
    where c.status = 'A'
      and (c.open_date is null or c.open_date <= k.cutoff_date)
      and ($sample_permille >= 1000 or md5(c.customer_id) < $sample_md5_below)
),

-- held, taken, activity and balances: the sample's customers only, by the same rule (the
-- others are never joined; at 2M customers, computing them for everyone spilled > 20 GB)
held as (
    select k.cutoff_date, a.customer_id, a.product_code
    from cutoffs as k
    join hist_accounts as a
      on a.valid_from <= k.cutoff_date and a.valid_to > k.cutoff_date
    where a.status <> 'C' and (a.close_date is null or a.close_date > k.cutoff_date)
      and (a.open_date is null or a.open_date <= k.cutoff_date)
      and ($sample_permille >= 1000 or md5(a.customer_id) < $sample_md5_below)
    group by all
),

taken as (
    -- first opening of each product per customer after the cut-off, inside the horizon
    select k.cutoff_date, o.customer_id, o.product_code
    from cutoffs as k
    join (
        select customer_id, product_code, open_date
        from hist_accounts
        where open_date is not null
          and ($sample_permille >= 1000 or md5(customer_id) < $sample_md5_below)
        group by all
    ) as o
      on o.open_date > k.cutoff_date and o.open_date <= k.label_end
    group by all
),

activity as (
    select k.cutoff_date, t.customer_id,
           sum(t.txn_count) filter (where t.channel = 'CTR') as ctr_txn_count,
           sum(t.txn_count) filter (where t.channel = 'ATM') as atm_txn_count,
           sum(t.txn_count) filter (where t.channel = 'TEL') as tel_txn_count,
           sum(t.txn_count) filter (where t.channel = 'NET') as net_txn_count,
           sum(t.txn_count) filter (where t.txn_code = 'POS') as pos_txn_count,
           sum(t.amount) filter (where t.txn_code = 'POS') as pos_amount,
           sum(t.txn_count) filter (where t.txn_code = 'PAY') as pay_txn_count,
           sum(t.amount) filter (where t.txn_code = 'PAY') as pay_amount,
           sum(t.txn_count) filter (where t.txn_code = 'DEP') as dep_txn_count,
           sum(t.amount) filter (where t.txn_code = 'DEP') as dep_amount,
           sum(t.txn_count) filter (where t.txn_code = 'WDL') as wdl_txn_count,
           sum(t.amount) filter (where t.txn_code = 'WDL') as wdl_amount,
           sum(t.txn_count) filter (where t.txn_code = 'TRO') as tro_txn_count,
           sum(t.amount) filter (where t.txn_code = 'TRO') as tro_amount,
           sum(t.txn_count) filter (where t.txn_code = 'TRI') as tri_txn_count,
           sum(t.amount) filter (where t.txn_code = 'TRI') as tri_amount,
           sum(t.txn_count) filter (where t.txn_code = 'QRY') as qry_txn_count,
           sum(t.txn_count) filter (where t.month_start = date_trunc('month', k.cutoff_date))
               as last_month_txn_count,
           sum(t.txn_count) as window_txn_count,
           count(distinct t.month_start) as active_months
    from cutoffs as k
    join agg_customer_txn_month as t
      on t.month_start between k.window_start and k.cutoff_date
     and t.as_of_date = last_day(t.month_start)
    where t.txn_code not in ('PRB', 'PRR', 'LDR', 'LRP', 'FEE')
      and ($sample_permille >= 1000 or md5(t.customer_id) < $sample_md5_below)
    group by all
),

balances as (
    select k.cutoff_date, b.customer_id,
           cast(sum(b.balance_days) as double)
           / (date_diff('day', any_value(k.window_start), k.cutoff_date) + 1)
               as dda_balance_amount
    from cutoffs as k
    join agg_account_balance_month as b
      on b.month_start between k.window_start and k.cutoff_date
     and b.as_of_date = last_day(b.month_start)
    where b.product_code = 'DDA'
      and ($sample_permille >= 1000 or md5(b.customer_id) < $sample_md5_below)
    group by k.cutoff_date, b.customer_id
),

final as (
    select
        p.customer_id,
        p.cutoff_date,
        p.label_end as label_end_date,
        p.label_end <= cast($business_date as date) as label_complete,
        coalesce(bool_or(h.product_code = 'TDA'), false) as holds_tda,
        coalesce(bool_or(h.product_code = 'WMP'), false) as holds_wmp,
        coalesce(bool_or(h.product_code = 'FND'), false) as holds_fnd,
        coalesce(bool_or(h.product_code = 'INS'), false) as holds_ins,
        coalesce(bool_or(h.product_code = 'CCD'), false) as holds_ccd,
        coalesce(bool_or(h.product_code = 'PLN'), false) as holds_pln,
        coalesce(bool_or(h.product_code = 'MTG'), false) as holds_mtg,
        coalesce(bool_or(h.product_code = 'BLN'), false) as holds_bln,
        -- calendar years and months between the dates (the boundaries crossed), not whole
        -- years of age: a customer born in December is a year older from January
        year(p.cutoff_date) - year(any_value(p.birth_date)) as age,
        any_value(p.occupation) as occupation,
        any_value(p.education) as education,
        (year(p.cutoff_date) - year(any_value(p.open_date))) * 12
        + month(p.cutoff_date) - month(any_value(p.open_date)) as tenure_months
    from people as p
    left join held as h on h.customer_id = p.customer_id and h.cutoff_date = p.cutoff_date
    group by p.customer_id, p.cutoff_date, p.label_end
),

labels as (
    select cutoff_date, customer_id,
           bool_or(product_code = 'TDA') as opened_tda,
           bool_or(product_code = 'WMP') as opened_wmp,
           bool_or(product_code = 'FND') as opened_fnd,
           bool_or(product_code = 'INS') as opened_ins,
           bool_or(product_code = 'CCD') as opened_ccd,
           bool_or(product_code = 'PLN') as opened_pln
    from taken
    group by cutoff_date, customer_id
),

labelled as (
    select f.*,
           coalesce(t.opened_tda, false) and not f.holds_tda as took_tda,
           coalesce(t.opened_wmp, false) and not f.holds_wmp as took_wmp,
           coalesce(t.opened_fnd, false) and not f.holds_fnd as took_fnd,
           coalesce(t.opened_ins, false) and not f.holds_ins as took_ins,
           coalesce(t.opened_ccd, false) and not f.holds_ccd as took_ccd,
           coalesce(t.opened_pln, false) and not f.holds_pln as took_pln
    from final as f
    left join labels as t on t.customer_id = f.customer_id and t.cutoff_date = f.cutoff_date
)

select
    l.*,
    coalesce(a.ctr_txn_count, 0) as ctr_txn_count,
    coalesce(a.atm_txn_count, 0) as atm_txn_count,
    coalesce(a.tel_txn_count, 0) as tel_txn_count,
    coalesce(a.net_txn_count, 0) as net_txn_count,
    coalesce(a.pos_txn_count, 0) as pos_txn_count,
    cast(coalesce(a.pos_amount, 0) as double) as pos_amount,
    coalesce(a.pay_txn_count, 0) as pay_txn_count,
    cast(coalesce(a.pay_amount, 0) as double) as pay_amount,
    coalesce(a.dep_txn_count, 0) as dep_txn_count,
    cast(coalesce(a.dep_amount, 0) as double) as dep_amount,
    coalesce(a.wdl_txn_count, 0) as wdl_txn_count,
    cast(coalesce(a.wdl_amount, 0) as double) as wdl_amount,
    coalesce(a.tro_txn_count, 0) as tro_txn_count,
    cast(coalesce(a.tro_amount, 0) as double) as tro_amount,
    coalesce(a.tri_txn_count, 0) as tri_txn_count,
    cast(coalesce(a.tri_amount, 0) as double) as tri_amount,
    coalesce(a.qry_txn_count, 0) as qry_txn_count,
    cast(coalesce(a.last_month_txn_count, 0) as double)
        / greatest(coalesce(a.window_txn_count, 0), 1) as last_month_share,
    coalesce(a.active_months, 0) as active_months,
    cast(coalesce(b.dda_balance_amount, 0) as double) as dda_balance_amount
from labelled as l
left join activity as a on a.customer_id = l.customer_id and a.cutoff_date = l.cutoff_date
left join balances as b on b.customer_id = l.customer_id and b.cutoff_date = l.cutoff_date
