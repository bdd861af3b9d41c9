-- Open pipeline by stage at the end of the data: count, value, weighted value, age.
with stages as (select * from {{ ref('stg_crm__pipeline_stages') }}),
pipelines as (select * from {{ ref('stg_crm__pipelines') }}),
deals as (select * from {{ ref('deals') }}),
bounds as (select data_end_date from {{ ref('int_data_bounds') }}),

open_by_stage as (
    select
        tenant_id,
        stage_id,
        count(*) as open_deals,
        sum(amount) as open_amount,
        sum(weighted_amount) as weighted_amount,
        avg(age_days) as avg_age_days
    from deals
    where is_open
    group by tenant_id, stage_id
),

final as (
    select
        s.tenant_id,
        s.pipeline_id,
        p.pipeline_name,
        s.stage_id,
        s.stage_name,
        s.stage_position,
        s.win_probability,
        b.data_end_date as snapshot_date,
        coalesce(o.open_deals, 0) as open_deals,
        coalesce(o.open_amount, 0) as open_amount,
        coalesce(o.weighted_amount, 0) as weighted_amount,
        o.avg_age_days
    from stages as s
    cross join bounds as b
    inner join pipelines as p on p.tenant_id = s.tenant_id and p.pipeline_id = s.pipeline_id
    left join open_by_stage as o on o.tenant_id = s.tenant_id and o.stage_id = s.stage_id
    where not s.is_won and not s.is_lost
)

select * from final
