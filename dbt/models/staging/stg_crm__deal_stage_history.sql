with source as (select * from {{ source('crm', 'deal_stage_history') }}),

final as (
    select
        id as deal_stage_change_id,
        tenant_id,
        deal_id,
        from_stage_id,
        to_stage_id,
        {{ to_utc('changed_at') }} as changed_at
    from source
)

select * from final
