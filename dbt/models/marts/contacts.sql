-- Contacts as they stand at the end of the data: who they are, how engaged, whether they bought.
with contacts as (select * from {{ ref('stg_crm__contacts') }}),
companies as (select * from {{ ref('stg_crm__companies') }}),
activities as (select * from {{ ref('int_activities_attributed') }}),
deals as (select * from {{ ref('stg_crm__deals') }}),
sentiment as (select * from {{ ref('int_sentiment_attributed') }}),
bounds as (select cast(data_end_date as timestamp) + interval '1 day' as reference_at from {{ ref('int_data_bounds') }}),

engagement as (
    select
        a.tenant_id,
        a.contact_id,
        sum(case when a.occurred_at >= b.reference_at - interval '30 days' then 1 else 0 end) as activities_30d,
        max(a.occurred_at) as last_activity_at
    from activities as a
    cross join bounds as b
    where a.contact_id is not null
    group by a.tenant_id, a.contact_id
),

deal_summary as (
    select
        tenant_id,
        contact_id,
        sum(case when deal_status = 'open' then 1 else 0 end) as open_deals,
        sum(case when deal_status = 'won' then 1 else 0 end) as won_deals
    from deals
    where contact_id is not null
    group by tenant_id, contact_id
),

mood as (
    select s.tenant_id, s.contact_id, avg(s.sentiment_score) as sentiment_mean_90d
    from sentiment as s
    cross join bounds as b
    where s.contact_id is not null and s.occurred_at >= b.reference_at - interval '90 days'
    group by s.tenant_id, s.contact_id
),

final as (
    select
        c.tenant_id,
        c.contact_id,
        c.company_id,
        co.company_name,
        c.first_name,
        c.last_name,
        c.email,
        c.title,
        {{ title_seniority('c.title') }} as title_seniority,
        c.lead_source,
        c.lifecycle_stage,
        c.created_at,
        coalesce(e.activities_30d, 0) as activities_30d,
        e.last_activity_at,
        coalesce(d.open_deals, 0) as open_deals,
        coalesce(d.won_deals, 0) > 0 as is_customer,
        m.sentiment_mean_90d
    from contacts as c
    left join companies as co on co.tenant_id = c.tenant_id and co.company_id = c.company_id
    left join engagement as e on e.tenant_id = c.tenant_id and e.contact_id = c.contact_id
    left join deal_summary as d on d.tenant_id = c.tenant_id and d.contact_id = c.contact_id
    left join mood as m on m.tenant_id = c.tenant_id and m.contact_id = c.contact_id
)

select * from final
