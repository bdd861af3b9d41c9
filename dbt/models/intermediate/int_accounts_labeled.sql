-- The customer-account population at each as_of_date and its churn label, per the tenant's churn mode.
-- Account: customer_since on/before as_of_date and not churned by its end; in 'activity' mode it must
-- also have ordered at least once before as_of (lapsed customers included: they are the ones at risk).
-- churned_90d: contractual = churned_at in [as_of_at, as_of_at + horizon); activity = no order in that
-- window. NULL while the horizon runs past the data.
with companies as (select * from {{ ref('stg_crm__companies') }}),
tenants as (select * from {{ ref('stg_crm__tenants') }}),
as_of_dates as (select * from {{ ref('int_as_of_dates') }}),
activities as (select * from {{ ref('int_activities_attributed') }}),

orders as (
    select tenant_id, company_id, occurred_at
    from activities
    where activity_type = 'order' and company_id is not null
    {{- live_entities(['company_id']) }}
),

candidates as (
    select
        c.tenant_id,
        c.company_id,
        t.churn_mode,
        c.churned_at,
        d.as_of_date,
        d.as_of_at,
        d.horizon_end_at,
        d.is_horizon_complete
    from companies as c
    inner join tenants as t on t.tenant_id = c.tenant_id
    cross join as_of_dates as d
    where c.customer_since <= d.as_of_date
      and (c.churned_at is null or c.churned_at >= d.as_of_at)
      {{- live_entities(['c.company_id']) }}
),

order_windows as (
    select
        k.tenant_id,
        k.company_id,
        k.as_of_date,
        sum(case when o.occurred_at < k.as_of_at then 1 else 0 end) as orders_before,
        sum(case when o.occurred_at >= k.as_of_at then 1 else 0 end) as orders_in_horizon
    from candidates as k
    inner join orders as o
        on o.tenant_id = k.tenant_id
        and o.company_id = k.company_id
        and o.occurred_at < k.horizon_end_at
    group by k.tenant_id, k.company_id, k.as_of_date
),

final as (
    select
        k.tenant_id,
        k.company_id,
        k.as_of_date,
        k.as_of_at,
        k.churn_mode,
        case
            when not k.is_horizon_complete then null
            when k.churn_mode = 'contractual'
                then case when k.churned_at >= k.as_of_at and k.churned_at < k.horizon_end_at then 1 else 0 end
            else case when coalesce(w.orders_in_horizon, 0) = 0 then 1 else 0 end
        end as churned_90d
    from candidates as k
    left join order_windows as w
        on w.tenant_id = k.tenant_id and w.company_id = k.company_id and w.as_of_date = k.as_of_date
    where k.churn_mode = 'contractual' or coalesce(w.orders_before, 0) > 0
)

select * from final
