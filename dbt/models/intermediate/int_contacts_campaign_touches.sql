-- Per contact and as_of_date: campaign enrollments known by as_of.
with members as (select * from {{ ref('stg_crm__campaign_members') }} where true {{- live_entities(['contact_id']) }}),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

final as (
    select
        m.tenant_id,
        m.contact_id,
        d.as_of_date,
        count(*) as campaigns_total,
        sum(case when m.added_at >= d.as_of_at - interval '90 days' then 1 else 0 end) as campaigns_90d
    from members as m
    inner join as_of_dates as d on m.added_at < d.as_of_at
    group by m.tenant_id, m.contact_id, d.as_of_date
)

select * from final
