-- Deals with their stage, pipeline, account and probability-weighted value.
with deals as (select * from {{ ref('stg_crm__deals') }}),
stages as (select * from {{ ref('stg_crm__pipeline_stages') }}),
pipelines as (select * from {{ ref('stg_crm__pipelines') }}),
companies as (select * from {{ ref('stg_crm__companies') }}),
users as (select * from {{ ref('stg_crm__users') }}),
bounds as (select cast(data_end_date as timestamp) + interval '1 day' as reference_at from {{ ref('int_data_bounds') }}),

final as (
    select
        d.tenant_id,
        d.deal_id,
        d.deal_name,
        d.pipeline_id,
        p.pipeline_name,
        d.stage_id,
        s.stage_name,
        s.stage_position,
        s.win_probability,
        d.company_id,
        c.company_name,
        d.contact_id,
        d.owner_id,
        u.user_name as owner_name,
        d.amount,
        d.currency,
        d.deal_status,
        d.deal_status = 'open' as is_open,
        case when d.deal_status = 'open' then d.amount * s.win_probability else 0 end as weighted_amount,
        d.expected_close_date,
        d.created_at,
        d.closed_at,
        {{ days_between('d.created_at', 'coalesce(d.closed_at, b.reference_at)') }} as age_days
    from deals as d
    cross join bounds as b
    left join stages as s on s.tenant_id = d.tenant_id and s.stage_id = d.stage_id
    left join pipelines as p on p.tenant_id = d.tenant_id and p.pipeline_id = d.pipeline_id
    left join companies as c on c.tenant_id = d.tenant_id and c.company_id = d.company_id
    left join users as u on u.tenant_id = d.tenant_id and u.user_id = d.owner_id
)

select * from final
