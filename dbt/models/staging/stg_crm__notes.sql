with source as (select * from {{ source('crm', 'notes') }}),

final as (
    select
        id as note_id,
        tenant_id,
        contact_id,
        company_id,
        deal_id,
        author_id,
        {{ to_utc('occurred_at') }} as occurred_at,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
