with source as (select * from {{ source('crm', 'pipeline_stages') }}),

final as (
    select
        id as stage_id,
        tenant_id,
        pipeline_id,
        name as stage_name,
        position as stage_position,
        cast(win_probability as double precision) as win_probability,
        is_won,
        is_lost
    from source
)

select * from final
