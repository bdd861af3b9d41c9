with source as (select * from {{ source('crm', 'tasks') }}),

final as (
    select
        id as task_id,
        tenant_id,
        title as task_title,
        {{ to_utc('due_at') }} as due_at,
        is_done,
        {{ to_utc('done_at') }} as done_at,
        assignee_id,
        contact_id,
        company_id,
        deal_id,
        {{ to_utc('created_at') }} as created_at
    from source
)

select * from final
