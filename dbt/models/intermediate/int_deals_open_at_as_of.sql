-- Deals open at each as_of_date (created before it, not closed by it) and the furthest stage they had
-- reached by then (from the stage history, so a later stage change never leaks backwards).
with deals as (select * from {{ ref('stg_crm__deals') }} where true {{- live_entities(['contact_id', 'company_id']) }}),
history as (select * from {{ ref('stg_crm__deal_stage_history') }}),
stages as (select * from {{ ref('stg_crm__pipeline_stages') }}),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),

open_deals as (
    select
        d.tenant_id,
        d.deal_id,
        d.contact_id,
        d.company_id,
        d.amount,
        a.as_of_date,
        a.as_of_at
    from deals as d
    inner join as_of_dates as a
        on d.created_at < a.as_of_at
        and (d.closed_at is null or d.closed_at >= a.as_of_at)
),

stage_reached as (
    select
        o.tenant_id,
        o.deal_id,
        o.as_of_date,
        max(s.win_probability) as max_stage_probability
    from open_deals as o
    inner join history as h
        on h.tenant_id = o.tenant_id and h.deal_id = o.deal_id and h.changed_at < o.as_of_at
    inner join stages as s
        on s.tenant_id = h.tenant_id and s.stage_id = h.to_stage_id
    group by o.tenant_id, o.deal_id, o.as_of_date
),

final as (
    select
        o.tenant_id,
        o.deal_id,
        o.contact_id,
        o.company_id,
        o.amount,
        o.as_of_date,
        r.max_stage_probability
    from open_deals as o
    left join stage_reached as r
        on r.tenant_id = o.tenant_id and r.deal_id = o.deal_id and r.as_of_date = o.as_of_date
)

select * from final
