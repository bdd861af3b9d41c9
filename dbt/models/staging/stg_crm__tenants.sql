with source as (select * from {{ source('crm', 'tenants') }}),

final as (
    select
        id as tenant_id,
        name as tenant_name,
        churn_mode,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
