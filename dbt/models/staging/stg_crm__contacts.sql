with source as (select * from {{ source('crm', 'contacts') }} where true {{- live_entities(['id', 'company_id']) }}),

final as (
    select
        id as contact_id,
        tenant_id,
        company_id,
        first_name,
        last_name,
        lower(email) as email,
        title,
        coalesce(lead_source, 'unknown') as lead_source,
        lifecycle_stage,
        owner_id,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at
    from source
)

select * from final
