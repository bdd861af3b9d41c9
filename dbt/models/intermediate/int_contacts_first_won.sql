-- When each contact first became a customer: the first won deal naming them.
with deals as (select * from {{ ref('stg_crm__deals') }}),

final as (
    select
        tenant_id,
        contact_id,
        min(closed_at) as first_won_at
    from deals
    where deal_status = 'won' and contact_id is not null and closed_at is not null
    {{- live_entities(['contact_id']) }}
    group by tenant_id, contact_id
)

select * from final
