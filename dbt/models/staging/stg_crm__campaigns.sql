with source as (select * from {{ source('crm', 'campaigns') }}),

final as (
    select
        id as campaign_id,
        tenant_id,
        name as campaign_name,
        channel,
        status as campaign_status,
        cast(budget as double precision) as budget,
        currency,
        starts_on,
        ends_on,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
