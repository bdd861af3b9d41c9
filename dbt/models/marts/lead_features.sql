-- Point-in-time lead features: one row per lead per month-end, using only what was known by the end of
-- as_of_date, and the converted_90d label computed after it (NULL while unknowable).
with leads as (select * from {{ ref('int_leads_labeled') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),
companies as (select * from {{ ref('stg_crm__companies') }}),
activity as (select * from {{ ref('int_contacts_activity_windows') }}),
sentiment as (select * from {{ ref('int_contacts_sentiment_windows') }}),
campaigns as (select * from {{ ref('int_contacts_campaign_touches') }}),
open_deals as (select * from {{ ref('int_deals_open_at_as_of') }}),
deal_history as (select * from {{ ref('int_contacts_deal_history') }}),

open_deals_by_contact as (
    select
        tenant_id,
        contact_id,
        as_of_date,
        count(*) as open_deals,
        sum(amount) as open_deal_amount,
        max(max_stage_probability) as max_open_stage_probability
    from open_deals
    where contact_id is not null
    group by tenant_id, contact_id, as_of_date
),

final as (
    select
        l.tenant_id,
        l.contact_id,
        l.as_of_date,
        {{ days_between('c.created_at', 'l.as_of_at') }} as days_since_created,
        c.lead_source,
        {{ title_seniority('c.title') }} as title_seniority,
        coalesce(co.company_size, 'unknown') as company_size,
        coalesce(co.industry, 'unknown') as company_industry,
        (c.company_id is not null) as has_company,
        {%- for column in ['emails_sent', 'emails_opened', 'emails_clicked', 'emails_replied', 'web_visits',
                           'form_submits', 'meetings', 'calls'] %}
        {%- for days in [7, 30, 90] %}
        coalesce(a.{{ column }}_{{ days }}d, 0) as {{ column }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        coalesce(a.pricing_visits_30d, 0) as pricing_visits_30d,
        coalesce(a.pricing_visits_90d, 0) as pricing_visits_90d,
        coalesce(a.high_intent_visits_30d, 0) as high_intent_visits_30d,
        coalesce(a.high_intent_visits_90d, 0) as high_intent_visits_90d,
        coalesce(a.activities_30d, 0) as activities_30d,
        coalesce(a.activities_90d, 0) as activities_90d,
        {{ ratio('a.emails_replied_90d', 'a.emails_sent_90d') }} as email_reply_rate_90d,
        {{ ratio('a.emails_opened_90d', 'a.emails_sent_90d') }} as email_open_rate_90d,
        a.days_since_last_activity,
        a.days_since_last_reply,
        a.days_since_first_reply_180d,
        -- engagement trend: the last 30 days against the 30 before (negative = cooling)
        coalesce(a.engagement_30d, 0) as engagement_30d,
        coalesce(a.engagement_30d, 0) - coalesce(a.engagement_prior_30d, 0) as engagement_trend_30d,
        -- the deals this lead has lost: a recent loss means a cool-off before any new deal
        coalesce(h.lost_deals_lifetime, 0) as lost_deals,
        h.days_since_last_lost_deal,
        h.lost_deal_amount_avg,
        coalesce(m.campaigns_total, 0) as campaigns_total,
        coalesce(m.campaigns_90d, 0) as campaigns_90d,
        coalesce(d.open_deals, 0) as open_deals,
        coalesce(d.open_deal_amount, 0) as open_deal_amount,
        d.max_open_stage_probability,
        s.sentiment_mean_30d,
        s.sentiment_mean_90d,
        s.sentiment_trend_30d_vs_90d,
        coalesce(s.negative_texts_90d, 0) as negative_texts_90d,
        l.converted_90d
    from leads as l
    inner join contacts as c
        on c.tenant_id = l.tenant_id and c.contact_id = l.contact_id
    left join companies as co
        on co.tenant_id = c.tenant_id and co.company_id = c.company_id
    left join activity as a
        on a.tenant_id = l.tenant_id and a.contact_id = l.contact_id and a.as_of_date = l.as_of_date
    left join sentiment as s
        on s.tenant_id = l.tenant_id and s.contact_id = l.contact_id and s.as_of_date = l.as_of_date
    left join campaigns as m
        on m.tenant_id = l.tenant_id and m.contact_id = l.contact_id and m.as_of_date = l.as_of_date
    left join open_deals_by_contact as d
        on d.tenant_id = l.tenant_id and d.contact_id = l.contact_id and d.as_of_date = l.as_of_date
    left join deal_history as h
        on h.tenant_id = l.tenant_id and h.contact_id = l.contact_id and h.as_of_date = l.as_of_date
)

select * from final
