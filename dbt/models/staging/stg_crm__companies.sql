with source as (select * from {{ source('crm', 'companies') }} {{- live_companies_of_entities() }}),

final as (
    select
        id as company_id,
        tenant_id,
        name as company_name,
        lower(domain) as domain,
        industry,
        size as company_size,
        lifecycle,
        owner_id,
        customer_since,
        {{ to_utc('churned_at') }} as churned_at,
        {{ to_utc('created_at') }} as created_at,
        {{ to_utc('updated_at') }} as updated_at
    from source
)

select * from final
