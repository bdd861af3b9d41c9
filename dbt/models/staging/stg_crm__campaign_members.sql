with source as (select * from {{ source('crm', 'campaign_members') }}),

final as (
    select
        id as campaign_member_id,
        tenant_id,
        campaign_id,
        contact_id,
        status as member_status,
        {{ to_utc('added_at') }} as added_at
    from source
)

select * from final
