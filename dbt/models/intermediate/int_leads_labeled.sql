-- The lead population at each as_of_date and its label.
-- Lead: created before the end of as_of_date and no won deal closed by then.
-- converted_90d: their first won deal closes in [as_of_at, as_of_at + horizon); NULL while unknowable.
with contacts as (select * from {{ ref('stg_crm__contacts') }}),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),
first_won as (select * from {{ ref('int_contacts_first_won') }}),

final as (
    select
        c.tenant_id,
        c.contact_id,
        d.as_of_date,
        d.as_of_at,
        case
            when not d.is_horizon_complete then null
            when w.first_won_at >= d.as_of_at and w.first_won_at < d.horizon_end_at then 1
            else 0
        end as converted_90d
    from contacts as c
    cross join as_of_dates as d
    left join first_won as w
        on w.tenant_id = c.tenant_id and w.contact_id = c.contact_id
    where c.created_at < d.as_of_at
      and (w.first_won_at is null or w.first_won_at >= d.as_of_at)
      {{- live_entities(['c.contact_id']) }}
)

select * from final
