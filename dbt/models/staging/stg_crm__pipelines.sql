with source as (select * from {{ source('crm', 'pipelines') }}),

final as (
    select
        id as pipeline_id,
        tenant_id,
        name as pipeline_name,
        is_default
    from source
)

select * from final
