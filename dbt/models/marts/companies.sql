-- Companies as they stand at the end of the data, with the health signals the dashboard shows.
-- is_at_risk is a transparent rule (no model): a customer gone quiet for 45+ days, souring in its notes
-- (90-day mean sentiment below -0.05) or raising 3+ support tickets in 30 days.
with companies as (select * from {{ ref('stg_crm__companies') }}),
contacts as (select * from {{ ref('stg_crm__contacts') }}),
activities as (select * from {{ ref('int_activities_attributed') }}),
deals as (select * from {{ ref('stg_crm__deals') }}),
sentiment as (select * from {{ ref('int_sentiment_attributed') }}),
bounds as (select cast(data_end_date as timestamp) + interval '1 day' as reference_at from {{ ref('int_data_bounds') }}),

people as (
    select tenant_id, company_id, count(*) as contacts_count
    from contacts where company_id is not null
    group by tenant_id, company_id
),

engagement as (
    select
        a.tenant_id,
        a.company_id,
        sum(case when a.activity_type = 'order' and a.occurred_at >= b.reference_at - interval '90 days'
                 then 1 else 0 end) as orders_90d,
        sum(case when a.activity_type = 'support_ticket' and a.occurred_at >= b.reference_at - interval '30 days'
                 then 1 else 0 end) as support_tickets_30d,
        max(case when a.activity_type = 'order' then a.occurred_at end) as last_order_at,
        max(a.occurred_at) as last_activity_at,
        max(b.reference_at) as reference_at
    from activities as a
    cross join bounds as b
    where a.company_id is not null
    group by a.tenant_id, a.company_id
),

money as (
    select
        tenant_id,
        company_id,
        sum(case when deal_status = 'open' then amount else 0 end) as open_pipeline_amount,
        sum(case when deal_status = 'won' then amount else 0 end) as won_amount
    from deals where company_id is not null
    group by tenant_id, company_id
),

mood as (
    select s.tenant_id, s.company_id, avg(s.sentiment_score) as sentiment_mean_90d
    from sentiment as s
    cross join bounds as b
    where s.company_id is not null and s.occurred_at >= b.reference_at - interval '90 days'
    group by s.tenant_id, s.company_id
),

joined as (
    select
        c.tenant_id,
        c.company_id,
        c.company_name,
        c.domain,
        c.industry,
        c.company_size,
        c.lifecycle,
        c.customer_since,
        c.churned_at,
        coalesce(p.contacts_count, 0) as contacts_count,
        coalesce(e.orders_90d, 0) as orders_90d,
        coalesce(e.support_tickets_30d, 0) as support_tickets_30d,
        e.last_order_at,
        e.last_activity_at,
        {{ days_between('e.last_activity_at', '(select reference_at from bounds)') }} as days_since_last_activity,
        coalesce(m.open_pipeline_amount, 0) as open_pipeline_amount,
        coalesce(m.won_amount, 0) as won_amount,
        s.sentiment_mean_90d
    from companies as c
    left join people as p on p.tenant_id = c.tenant_id and p.company_id = c.company_id
    left join engagement as e on e.tenant_id = c.tenant_id and e.company_id = c.company_id
    left join money as m on m.tenant_id = c.tenant_id and m.company_id = c.company_id
    left join mood as s on s.tenant_id = c.tenant_id and s.company_id = c.company_id
),

final as (
    select
        *,
        (
            lifecycle = 'customer'
            and (
                coalesce(days_since_last_activity, 9999) >= 45
                or coalesce(sentiment_mean_90d, 0) < -0.05
                or support_tickets_30d >= 3
            )
        ) as is_at_risk
    from joined
)

select * from final
