with source as (
    select * from {{ source('crm', 'activities') }}
    {{- live_rows_of_entities() }}
),

final as (
    select
        id as activity_id,
        tenant_id,
        type as activity_type,
        {{ to_utc('occurred_at') }} as occurred_at,
        contact_id,
        company_id,
        deal_id,
        campaign_id,
        subject,
        lower(coalesce({{ json_text('properties', 'path') }}, {{ json_text('properties', 'page') }},
                       {{ json_text('properties', 'url') }})) as page_path,
        cast(amount as double precision) as amount,
        cast(currency as varchar) as currency,
        source as activity_source,
        external_id,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
