with source as (select * from {{ source('crm', 'deals') }} where true {{- live_entities(['contact_id', 'company_id']) }}),

final as (
    select
        id as deal_id,
        tenant_id,
        name as deal_name,
        company_id,
        contact_id,
        pipeline_id,
        stage_id,
        cast(amount as double precision) as amount,
        currency,
        expected_close_date,
        status as deal_status,
        {{ to_utc('closed_at') }} as closed_at,
        lost_reason,
        owner_id,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
