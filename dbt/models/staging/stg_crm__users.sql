with source as (select * from {{ source('crm', 'users') }}),

final as (
    select
        id as user_id,
        tenant_id,
        name as user_name,
        role as user_role,
        is_active,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
