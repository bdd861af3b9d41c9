-- One row per tenant: the headline numbers of the dashboard, as of the end of the data.
with tenants as (select * from {{ ref('stg_crm__tenants') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),
deals as (select * from {{ ref('deals') }}),
companies as (select * from {{ ref('companies') }}),
activities as (select * from {{ ref('int_activities_attributed') }}),
bounds as (
    select data_end_date, cast(data_end_date as timestamp) + interval '1 day' as reference_at
    from {{ ref('int_data_bounds') }}
),

new_leads as (
    select c.tenant_id, count(*) as new_leads_30d
    from contacts as c cross join bounds as b
    where c.created_at >= b.reference_at - interval '30 days' and c.created_at < b.reference_at
    group by c.tenant_id
),

pipeline as (
    select
        d.tenant_id,
        sum(case when d.is_open then d.amount else 0 end) as open_pipeline_value,
        sum(case when d.is_open then d.weighted_amount else 0 end) as weighted_pipeline_value,
        sum(case when d.is_open then 1 else 0 end) as open_deals,
        sum(case when d.deal_status = 'won' and d.closed_at >= b.reference_at - interval '90 days'
                 then 1 else 0 end) as won_deals_90d,
        sum(case when d.deal_status in ('won', 'lost') and d.closed_at >= b.reference_at - interval '90 days'
                 then 1 else 0 end) as closed_deals_90d,
        sum(case when d.deal_status = 'won' and d.closed_at >= b.reference_at - interval '90 days'
                 then d.amount else 0 end) as won_amount_90d
    from deals as d cross join bounds as b
    group by d.tenant_id
),

accounts as (
    select
        tenant_id,
        sum(case when lifecycle = 'customer' then 1 else 0 end) as customers,
        sum(case when is_at_risk then 1 else 0 end) as at_risk_accounts
    from companies
    group by tenant_id
),

volume as (
    select a.tenant_id, count(*) as activities_30d
    from activities as a cross join bounds as b
    where a.occurred_at >= b.reference_at - interval '30 days' and a.occurred_at < b.reference_at
    group by a.tenant_id
),

final as (
    select
        t.tenant_id,
        b.data_end_date as as_of_date,
        coalesce(n.new_leads_30d, 0) as new_leads_30d,
        coalesce(p.open_pipeline_value, 0) as open_pipeline_value,
        coalesce(p.weighted_pipeline_value, 0) as weighted_pipeline_value,
        coalesce(p.open_deals, 0) as open_deals,
        coalesce(p.won_deals_90d, 0) as won_deals_90d,
        coalesce(p.won_amount_90d, 0) as won_amount_90d,
        {{ ratio('p.won_deals_90d', 'p.closed_deals_90d') }} as win_rate_90d,
        coalesce(a.customers, 0) as customers,
        coalesce(a.at_risk_accounts, 0) as at_risk_accounts,
        coalesce(v.activities_30d, 0) as activities_30d
    from tenants as t
    cross join bounds as b
    left join new_leads as n on n.tenant_id = t.tenant_id
    left join pipeline as p on p.tenant_id = t.tenant_id
    left join accounts as a on a.tenant_id = t.tenant_id
    left join volume as v on v.tenant_id = t.tenant_id
)

select * from final
