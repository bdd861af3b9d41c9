-- Point-in-time account (customer company) features: one row per account per month-end, using only what
-- was known by the end of as_of_date, and the churned_90d label (per the tenant's churn mode) after it.
-- Features tested for the README's hypotheses that did not move the churn model (long-run rates as a customer,
-- ticket and engagement trends, the order rate against the customer's own, expansion deals won or lost) are not
-- computed: every column here is also computed live for every touched account (specs/models-any-history).
with accounts as (select * from {{ ref('int_accounts_labeled') }}),
companies as (select * from {{ ref('stg_crm__companies') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),
deals as (select * from {{ ref('stg_crm__deals') }}),
activity as (select * from {{ ref('int_companies_activity_windows') }}),
order_history as (select * from {{ ref('int_companies_order_history') }}),
sentiment as (select * from {{ ref('int_companies_sentiment_windows') }}),
open_deals as (select * from {{ ref('int_deals_open_at_as_of') }}),

contacts_known as (
    select a.tenant_id, a.company_id, a.as_of_date, count(*) as contacts_count
    from accounts as a
    inner join contacts as c
        on c.tenant_id = a.tenant_id and c.company_id = a.company_id and c.created_at < a.as_of_at
    group by a.tenant_id, a.company_id, a.as_of_date
),

won_before as (
    select a.tenant_id, a.company_id, a.as_of_date, count(*) as won_deals, sum(d.amount) as won_amount
    from accounts as a
    inner join deals as d
        on d.tenant_id = a.tenant_id and d.company_id = a.company_id
        and d.deal_status = 'won' and d.closed_at < a.as_of_at
    group by a.tenant_id, a.company_id, a.as_of_date
),

open_by_company as (
    select tenant_id, company_id, as_of_date, count(*) as open_deals, sum(amount) as open_deal_amount
    from open_deals
    where company_id is not null
    group by tenant_id, company_id, as_of_date
),

final as (
    select
        a.tenant_id,
        a.company_id,
        a.as_of_date,
        a.churn_mode,
        a.as_of_date - co.customer_since as days_as_customer,
        coalesce(co.company_size, 'unknown') as company_size,
        coalesce(co.industry, 'unknown') as company_industry,
        coalesce(k.contacts_count, 0) as contacts_count,
        {%- for column in ['orders', 'support_tickets', 'meetings', 'calls', 'emails_replied',
                           'emails_opened', 'web_visits'] %}
        {%- for days in [30, 90, 180] %}
        coalesce(x.{{ column }}_{{ days }}d, 0) as {{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        -- orders in the last 90 days minus the 90 days before them: negative = thinning out
        coalesce(x.orders_90d, 0) - (coalesce(x.orders_180d, 0) - coalesce(x.orders_90d, 0)) as orders_trend_90d,
        coalesce(x.activities_30d, 0) as activities_30d,
        coalesce(x.activities_90d, 0) as activities_90d,
        x.days_since_last_activity,
        -- the whole order history, not the 180-day window above: recency, frequency, value (RFM)
        coalesce(h.order_days_lifetime, 0) as order_days_lifetime,
        h.days_since_first_order,
        h.days_since_last_order,
        coalesce(h.spend_lifetime, 0) as spend_lifetime,
        coalesce(h.spend_90d, 0) as spend_90d,
        coalesce(h.spend_prior_90d, 0) as spend_prior_90d,
        h.avg_order_value,
        -- a customer who has ordered but not in the 90 days before as_of: "lapsed", not merely "at risk"
        case
            when a.churn_mode = 'activity' and h.order_days_lifetime > 0 and h.orders_last_90d = 0 then 1
            else 0
        end as is_lapsed,
        coalesce(w.won_deals, 0) as won_deals,
        coalesce(w.won_amount, 0) as won_amount,
        coalesce(o.open_deals, 0) as open_deals,
        coalesce(o.open_deal_amount, 0) as open_deal_amount,
        s.sentiment_mean_30d,
        s.sentiment_mean_90d,
        s.sentiment_trend_30d_vs_90d,
        coalesce(s.negative_texts_90d, 0) as negative_texts_90d,
        a.churned_90d
    from accounts as a
    inner join companies as co
        on co.tenant_id = a.tenant_id and co.company_id = a.company_id
    left join contacts_known as k
        on k.tenant_id = a.tenant_id and k.company_id = a.company_id and k.as_of_date = a.as_of_date
    left join activity as x
        on x.tenant_id = a.tenant_id and x.company_id = a.company_id and x.as_of_date = a.as_of_date
    left join order_history as h
        on h.tenant_id = a.tenant_id and h.company_id = a.company_id and h.as_of_date = a.as_of_date
    left join sentiment as s
        on s.tenant_id = a.tenant_id and s.company_id = a.company_id and s.as_of_date = a.as_of_date
    left join won_before as w
        on w.tenant_id = a.tenant_id and w.company_id = a.company_id and w.as_of_date = a.as_of_date
    left join open_by_company as o
        on o.tenant_id = a.tenant_id and o.company_id = a.company_id and o.as_of_date = a.as_of_date
)

select * from final
