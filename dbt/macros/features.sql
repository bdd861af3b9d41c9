{#- Activity types and the plural names their count features carry. -#}
{% macro activity_feature_names() -%}
    {{ return({
        'email_sent': 'emails_sent', 'email_opened': 'emails_opened', 'email_clicked': 'emails_clicked',
        'email_replied': 'emails_replied', 'web_visit': 'web_visits', 'form_submit': 'form_submits',
        'meeting': 'meetings', 'call': 'calls', 'order': 'orders', 'support_ticket': 'support_tickets'
    }) }}
{%- endmacro %}

{#- Point-in-time window features for one entity (contact_id or company_id): activities are joined to each
    as_of date they precede by at most 180 days, so nothing on or after as_of_at is ever counted. -#}
{% macro activity_window_features(entity_column, types, windows) %}
with activities as (
    select * from {{ ref('int_activities_attributed') }} where {{ entity_column }} is not null
    {{- live_entities([entity_column]) }}
),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

windowed as (
    select
        a.tenant_id,
        a.{{ entity_column }},
        d.as_of_date,
        a.activity_type,
        a.is_pricing_visit,
        a.is_high_intent_visit,
        {{ days_between('a.occurred_at', 'd.as_of_at') }} as age_days
    from activities as a
    inner join as_of_dates as d
        on a.occurred_at < d.as_of_at
        and a.occurred_at >= d.as_of_at - interval '180 days'
),

final as (
    select
        tenant_id,
        {{ entity_column }},
        as_of_date,
        {%- set names = activity_feature_names() %}
        {%- for activity_type in types %}
        {%- for days in windows %}
        sum(case when activity_type = '{{ activity_type }}' and age_days <= {{ days }} then 1 else 0 end)
            as {{ names[activity_type] }}_{{ days }}d,
        {%- endfor %}
        {%- endfor %}
        sum(case when is_pricing_visit and age_days <= 30 then 1 else 0 end) as pricing_visits_30d,
        sum(case when is_pricing_visit and age_days <= 90 then 1 else 0 end) as pricing_visits_90d,
        sum(case when is_high_intent_visit and age_days <= 30 then 1 else 0 end) as high_intent_visits_30d,
        sum(case when is_high_intent_visit and age_days <= 90 then 1 else 0 end) as high_intent_visits_90d,
        sum(case when age_days <= 30 then 1 else 0 end) as activities_30d,
        sum(case when age_days <= 90 then 1 else 0 end) as activities_90d,
        min(age_days) as days_since_last_activity,
        min(case when activity_type = 'email_replied' then age_days end) as days_since_last_reply,
        max(case when activity_type = 'email_replied' then age_days end) as days_since_first_reply_180d,
        -- the entity's own answers (replies, visits, forms, meetings) in the last 30 days and the 30 before
        sum(case when activity_type in ('email_replied', 'web_visit', 'form_submit', 'meeting')
                 and age_days <= 30 then 1 else 0 end) as engagement_30d,
        sum(case when activity_type in ('email_replied', 'web_visit', 'form_submit', 'meeting')
                 and age_days > 30 and age_days <= 60 then 1 else 0 end) as engagement_prior_30d,
        min(case when activity_type = 'order' then age_days end) as days_since_last_order
    from windowed
    group by tenant_id, {{ entity_column }}, as_of_date
)

select * from final
{% endmacro %}

{#- Lifetime order history of one entity before each as_of: how often it ordered (distinct UTC days), since when,
    how recently, and what it spent (amount, summed across currencies: an agency bills in one), with no lookback
    limit, so a customer lapsed for a year keeps its history (recency, frequency, value; the buy-till-you-die
    inputs). Spend windows cut at 90 and 180 days before as_of, as the count windows do. -#}
{% macro order_history_features(entity_column) %}
with orders as (
    select * from {{ ref('int_activities_attributed') }}
    where activity_type = 'order' and {{ entity_column }} is not null
    {{- live_entities([entity_column]) }}
),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

before_as_of as (
    select
        o.tenant_id,
        o.{{ entity_column }},
        d.as_of_date,
        cast(o.occurred_at as date) as order_date,
        o.amount,
        {{ days_between('o.occurred_at', 'd.as_of_at') }} as age_days
    from orders as o
    inner join as_of_dates as d
        on o.occurred_at < d.as_of_at
),

final as (
    select
        tenant_id,
        {{ entity_column }},
        as_of_date,
        count(distinct order_date) as order_days_lifetime,
        max(age_days) as days_since_first_order,
        min(age_days) as days_since_last_order,
        sum(case when age_days <= 90 then 1 else 0 end) as orders_last_90d,
        count(*) as orders_lifetime,
        coalesce(sum(amount), 0) as spend_lifetime,
        coalesce(sum(case when age_days <= 90 then amount end), 0) as spend_90d,
        coalesce(sum(case when age_days > 90 and age_days <= 180 then amount end), 0) as spend_prior_90d,
        avg(amount) as avg_order_value
    from before_as_of
    group by tenant_id, {{ entity_column }}, as_of_date
)

select * from final
{% endmacro %}

{#- Closed deals of one entity (contact_id or company_id) before each as_of, over the whole history: how many
    were won and lost, how recently, how many in the last 180 days and what the lost ones were worth. A lost
    deal is often followed by a cool-off in which the buyer does not come back; an account that loses its
    expansion deals is cooling. -#}
{% macro deal_history_features(entity_column) %}
with deals as (
    select * from {{ ref('stg_crm__deals') }}
    where deal_status in ('won', 'lost') and closed_at is not null and {{ entity_column }} is not null
    {{- live_entities([entity_column]) }}
),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

closed_before as (
    select
        d.tenant_id,
        d.{{ entity_column }},
        a.as_of_date,
        d.deal_status,
        d.amount,
        {{ days_between('d.closed_at', 'a.as_of_at') }} as age_days
    from deals as d
    inner join as_of_dates as a
        on d.closed_at < a.as_of_at
),

final as (
    select
        tenant_id,
        {{ entity_column }},
        as_of_date,
        sum(case when deal_status = 'won' then 1 else 0 end) as won_deals_lifetime,
        sum(case when deal_status = 'lost' then 1 else 0 end) as lost_deals_lifetime,
        sum(case when deal_status = 'won' and age_days <= 180 then 1 else 0 end) as won_deals_180d,
        sum(case when deal_status = 'lost' and age_days <= 180 then 1 else 0 end) as lost_deals_180d,
        min(case when deal_status = 'won' then age_days end) as days_since_last_won_deal,
        min(case when deal_status = 'lost' then age_days end) as days_since_last_lost_deal,
        -- what a lost deal was worth says what the buyer can spend when it comes back
        avg(case when deal_status = 'lost' then amount end) as lost_deal_amount_avg
    from closed_before
    group by tenant_id, {{ entity_column }}, as_of_date
)

select * from final
{% endmacro %}

{#- Sentiment (VADER compound) of an entity's notes and conversations before as_of_at. -#}
{% macro sentiment_window_features(entity_column) %}
with sentiment as (
    select * from {{ ref('int_sentiment_attributed') }} where {{ entity_column }} is not null
    {{- live_entities([entity_column]) }}
),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

windowed as (
    select
        s.tenant_id,
        s.{{ entity_column }},
        d.as_of_date,
        s.sentiment_score,
        {{ days_between('s.occurred_at', 'd.as_of_at') }} as age_days
    from sentiment as s
    inner join as_of_dates as d
        on s.occurred_at < d.as_of_at
        and s.occurred_at >= d.as_of_at - interval '90 days'
),

aggregated as (
    select
        tenant_id,
        {{ entity_column }},
        as_of_date,
        avg(case when age_days <= 30 then sentiment_score end) as sentiment_mean_30d,
        avg(sentiment_score) as sentiment_mean_90d,
        count(*) as sentiment_texts_90d,
        sum(case when sentiment_score <= -0.05 then 1 else 0 end) as negative_texts_90d
    from windowed
    group by tenant_id, {{ entity_column }}, as_of_date
),

final as (
    select
        *,
        sentiment_mean_30d - sentiment_mean_90d as sentiment_trend_30d_vs_90d
    from aggregated
)

select * from final
{% endmacro %}

{#- Title -> seniority bucket (lead scoring cares about who decides). -#}
{% macro title_seniority(title) -%}
    case
        when {{ title }} is null or trim({{ title }}) = '' then 'unknown'
        when lower({{ title }}) like '%chief%' or lower({{ title }}) like '%founder%'
            or lower({{ title }}) like '%owner%' or lower({{ title }}) like '%president%'
            or lower({{ title }}) like 'ceo%' or lower({{ title }}) like 'cmo%' or lower({{ title }}) like 'cto%'
            or lower({{ title }}) like 'cfo%' or lower({{ title }}) like 'coo%' then 'executive'
        when lower({{ title }}) like '%vp%' or lower({{ title }}) like '%vice president%' then 'vp'
        when lower({{ title }}) like '%director%' or lower({{ title }}) like '%head of%' then 'director'
        when lower({{ title }}) like '%manager%' or lower({{ title }}) like '%lead%' then 'manager'
        else 'individual'
    end
{%- endmacro %}
